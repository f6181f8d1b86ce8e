#!/usr/bin/env bash
# Two "machines" on this one: network namespaces <name>a and <name>b joined by a veth pair
# (10.231.0.1 and 10.231.0.2), each with its own host name (node-a, node-b). Runs COMMAND in
# the first, where mpirun starts the ranks of 10.231.0.2 through netns_agent.sh (given as
# its remote shell); removes both namespaces afterwards. Needs root (ip netns).
#   two_namespaces.sh NAME COMMAND...     NAME: at most 10 characters, unique per run
# With ATTN_NETNS_RATE set (tc's units, e.g. 1gbit), each end sends at most that rate
# (a token bucket, as a network card of that speed would), for benchmarks.
set -euo pipefail
name="$1"
shift
a="${name}a"
b="${name}b"
cleanup() {
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$a"
ip netns add "$b"
ip link add "${name}x" type veth peer name "${name}y"
ip link set "${name}x" netns "$a"
ip link set "${name}y" netns "$b"
ip -n "$a" addr add 10.231.0.1/24 dev "${name}x"
ip -n "$b" addr add 10.231.0.2/24 dev "${name}y"
for namespace in "$a" "$b"; do ip -n "$namespace" link set lo up; done
ip -n "$a" link set "${name}x" up
ip -n "$b" link set "${name}y" up
if [[ -n "${ATTN_NETNS_RATE:-}" ]]; then
  ip netns exec "$a" tc qdisc add dev "${name}x" root tbf rate "$ATTN_NETNS_RATE" burst 1mb latency 50ms
  ip netns exec "$b" tc qdisc add dev "${name}y" root tbf rate "$ATTN_NETNS_RATE" burst 1mb latency 50ms
fi
export ATTN_NETNS_A="$a" ATTN_NETNS_B="$b"
ip netns exec "$a" unshare --uts sh -c 'hostname node-a; exec "$@"' sh "$@"
