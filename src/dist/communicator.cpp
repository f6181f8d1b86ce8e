// The one-process communicator, the choice of backend, and the typed helpers.
#include "attn/dist/communicator.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <numeric>

#include "attn/core/error.h"

namespace attn::dist {
namespace {

std::int64_t total_of(std::span<const std::int64_t> counts) {
  return std::accumulate(counts.begin(), counts.end(), std::int64_t{0});
}

void copy_bytes(std::span<const std::byte> from, std::span<std::byte> to, const char* call) {
  ATTN_CHECK(from.size() == to.size(), "communicator ", call, ": sending ", from.size(),
             " bytes into a buffer of ", to.size());
  if (!from.empty()) std::memcpy(to.data(), from.data(), from.size());
}

class CompletedExchange final : public PendingExchange {
 public:
  bool test() override { return true; }
  void wait() override {}
};

// Rank 0 of 1: every collective is a copy of this rank's own part.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "single"; }
  std::string host() const override {
    char name[256] = {};
    gethostname(name, sizeof(name) - 1);
    return name;
  }
  void all_to_all(std::span<const std::byte> send, std::span<const std::int64_t> send_counts,
                  std::span<std::byte> receive,
                  std::span<const std::int64_t> receive_counts) override {
    ATTN_CHECK(send_counts.size() == 1 && receive_counts.size() == 1 &&
                   send_counts[0] == receive_counts[0],
               "communicator all_to_all: one rank needs one send and one receive count, equal");
    copy_bytes(send.first(static_cast<std::size_t>(send_counts[0])),
               receive.first(static_cast<std::size_t>(receive_counts[0])), "all_to_all");
  }
  std::unique_ptr<PendingExchange> start_all_to_all(std::span<const std::byte> send,
                                                    const Placement& send_parts,
                                                    std::span<std::byte> receive,
                                                    const Placement& receive_parts) override {
    ATTN_CHECK(send_parts.counts.size() == 1 && receive_parts.counts.size() == 1 &&
                   send_parts.counts[0] == receive_parts.counts[0],
               "communicator start_all_to_all: one rank needs one send and one receive part, "
               "of equal size");
    const auto count = static_cast<std::size_t>(send_parts.counts[0]);
    copy_bytes(send.subspan(static_cast<std::size_t>(send_parts.offsets[0]), count),
               receive.subspan(static_cast<std::size_t>(receive_parts.offsets[0]), count),
               "start_all_to_all");
    return std::make_unique<CompletedExchange>();
  }
  void all_gather(std::span<const std::byte> send, std::span<std::byte> receive,
                  std::span<const std::int64_t> counts) override {
    ATTN_CHECK(counts.size() == 1, "communicator all_gather: one rank needs one count");
    copy_bytes(send, receive.first(static_cast<std::size_t>(total_of(counts))), "all_gather");
  }
  void gather(std::span<const std::byte> send, std::span<std::byte> receive,
              std::span<const std::int64_t> counts, int root) override {
    ATTN_CHECK(root == 0, "communicator gather: root ", root, " of 1 process");
    all_gather(send, receive, counts);
  }
  void broadcast(std::span<std::byte>, int root) override {
    ATTN_CHECK(root == 0, "communicator broadcast: root ", root, " of 1 process");
  }
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::_Exit(code); }
};

}  // namespace

std::unique_ptr<Communicator> single_process() { return std::make_unique<SingleProcess>(); }

bool launched_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr ||
         std::getenv("PMI_SIZE") != nullptr;
}

#ifndef ATTN_WITH_MPI
bool mpi_available() { return false; }
std::unique_ptr<Communicator> mpi_world() {
  throw Error("this attn was built without MPI (cmake -DATTN_WITH_MPI=ON needs Open MPI: "
              "apt-get install libopenmpi-dev openmpi-bin)");
}
#endif

std::unique_ptr<Communicator> world_from_environment() {
  if (!launched_by_mpirun()) return single_process();
  ATTN_CHECK(mpi_available(),
             "started by mpirun, but this attn was built without MPI; every process would run "
             "the whole job alone. Rebuild with -DATTN_WITH_MPI=ON (Open MPI installed)");
  return mpi_world();
}

std::string broadcast_string(Communicator& communicator, std::string text, int root) {
  const auto length = broadcast_value<std::int64_t>(communicator,
                                                    static_cast<std::int64_t>(text.size()), root);
  text.resize(static_cast<std::size_t>(length));
  communicator.broadcast(std::as_writable_bytes(std::span<char>(text)), root);
  return text;
}

std::vector<std::string> gather_strings(Communicator& communicator, const std::string& text,
                                        int root) {
  const std::vector<std::int64_t> counts =
      all_gather_value<std::int64_t>(communicator, static_cast<std::int64_t>(text.size()));
  const bool is_root = communicator.rank() == root;
  std::string joined(is_root ? static_cast<std::size_t>(total_of(counts)) : 0, '\0');
  communicator.gather(std::as_bytes(std::span<const char>(text)),
                      std::as_writable_bytes(std::span<char>(joined)), counts, root);
  std::vector<std::string> parts;
  if (!is_root) return parts;
  std::size_t offset = 0;
  for (std::int64_t count : counts) {
    parts.push_back(joined.substr(offset, static_cast<std::size_t>(count)));
    offset += static_cast<std::size_t>(count);
  }
  return parts;
}

}  // namespace attn::dist
