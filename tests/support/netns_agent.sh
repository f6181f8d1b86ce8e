#!/bin/sh
# mpirun's remote shell for two_namespaces.sh (--mca plm_rsh_agent): where ssh would log in
# to HOST and run COMMAND, this runs COMMAND in HOST's network namespace.
#   netns_agent.sh HOST COMMAND...
host="$1"
shift
case "$host" in
  10.231.0.1) namespace="$ATTN_NETNS_A"; node=node-a ;;
  10.231.0.2) namespace="$ATTN_NETNS_B"; node=node-b ;;
  *) echo "netns_agent.sh: unknown host '$host'" >&2; exit 1 ;;
esac
exec ip netns exec "$namespace" unshare --uts sh -c "hostname $node; $*"
