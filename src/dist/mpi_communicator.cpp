// The MPI backend (Open MPI): each collective is the MPI call of the same name over
// MPI_COMM_WORLD, in bytes. Built only with ATTN_WITH_MPI.
#include <mpi.h>

#include <climits>
#include <mutex>
#include <numeric>

#include "attn/core/error.h"
#include "attn/dist/communicator.h"

namespace attn::dist {
namespace {

// Turns an MPI error code into attn::Error naming the call (MPI_ERRORS_RETURN is set).
void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(std::string("MPI ") + call + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

// MPI counts and displacements are int: a message above 2 GiB needs the large-count calls
// of MPI 4, which Debian 12's Open MPI (4.1) does not have.
int as_count(std::int64_t bytes, const char* call) {
  ATTN_CHECK(bytes >= 0 && bytes <= INT_MAX, "MPI ", call, ": ", bytes,
             " bytes is more than one MPI message can carry (2 GiB)");
  return static_cast<int>(bytes);
}

struct Layout {
  std::vector<int> counts, offsets;
};

Layout layout_of(std::span<const std::int64_t> counts, const char* call) {
  Layout layout;
  std::int64_t offset = 0;
  for (std::int64_t count : counts) {
    layout.counts.push_back(as_count(count, call));
    layout.offsets.push_back(as_count(offset, call));
    offset += count;
  }
  as_count(offset, call);
  return layout;
}

std::size_t total_of(std::span<const std::int64_t> counts) {
  return static_cast<std::size_t>(std::accumulate(counts.begin(), counts.end(), std::int64_t{0}));
}

Layout layout_of(const Placement& placement, const char* call) {
  Layout layout;
  for (std::size_t rank = 0; rank < placement.counts.size(); ++rank) {
    layout.counts.push_back(as_count(placement.counts[rank], call));
    layout.offsets.push_back(as_count(placement.offsets[rank], call));
    as_count(placement.offsets[rank] + placement.counts[rank], call);
  }
  return layout;
}

// A started MPI_Ialltoallv: MPI reads the count and offset arrays until it completes, so
// they live here.
class MpiPendingExchange final : public PendingExchange {
 public:
  MpiPendingExchange(Layout out, Layout in) : out_(std::move(out)), in_(std::move(in)) {}
  ~MpiPendingExchange() override {
    if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);
  }
  bool test() override {
    int done = 0;
    check_mpi(MPI_Test(&request_, &done, MPI_STATUS_IGNORE), "MPI_Test");
    return done != 0;
  }
  void wait() override { check_mpi(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait"); }

  Layout out_, in_;
  MPI_Request request_ = MPI_REQUEST_NULL;
};

// MPI_Init once per process; MPI_Finalize when the last communicator goes away.
std::mutex lifetime_mutex;
int live_communicators = 0;

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    std::lock_guard<std::mutex> lock(lifetime_mutex);
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      // Only the thread that runs the trainer calls MPI; OpenMP threads never do.
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    ++live_communicators;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    char name[MPI_MAX_PROCESSOR_NAME] = {};
    int length = 0;
    MPI_Get_processor_name(name, &length);
    host_.assign(name, static_cast<std::size_t>(length));
  }
  ~MpiCommunicator() override {
    std::lock_guard<std::mutex> lock(lifetime_mutex);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (--live_communicators == 0 && !finalized) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  std::string host() const override { return host_; }

  void all_to_all(std::span<const std::byte> send, std::span<const std::int64_t> send_counts,
                  std::span<std::byte> receive,
                  std::span<const std::int64_t> receive_counts) override {
    check_ranks(send_counts.size(), "all_to_all");
    check_ranks(receive_counts.size(), "all_to_all");
    ATTN_CHECK(total_of(send_counts) <= send.size() && total_of(receive_counts) <= receive.size(),
               "MPI all_to_all: the counts exceed the buffers");
    const Layout out = layout_of(send_counts, "all_to_all");
    const Layout in = layout_of(receive_counts, "all_to_all");
    check_mpi(MPI_Alltoallv(send.data(), out.counts.data(), out.offsets.data(), MPI_BYTE,
                            receive.data(), in.counts.data(), in.offsets.data(), MPI_BYTE,
                            MPI_COMM_WORLD),
              "MPI_Alltoallv");
  }

  std::unique_ptr<PendingExchange> start_all_to_all(std::span<const std::byte> send,
                                                    const Placement& send_parts,
                                                    std::span<std::byte> receive,
                                                    const Placement& receive_parts) override {
    check_ranks(send_parts.counts.size(), "start_all_to_all");
    check_ranks(receive_parts.counts.size(), "start_all_to_all");
    check_placement(send_parts, send.size(), "start_all_to_all (send)");
    check_placement(receive_parts, receive.size(), "start_all_to_all (receive)");
    auto exchange = std::make_unique<MpiPendingExchange>(layout_of(send_parts, "start_all_to_all"),
                                                         layout_of(receive_parts, "start_all_to_all"));
    check_mpi(MPI_Ialltoallv(send.data(), exchange->out_.counts.data(), exchange->out_.offsets.data(),
                             MPI_BYTE, receive.data(), exchange->in_.counts.data(),
                             exchange->in_.offsets.data(), MPI_BYTE, MPI_COMM_WORLD,
                             &exchange->request_),
              "MPI_Ialltoallv");
    return exchange;
  }

  void all_gather(std::span<const std::byte> send, std::span<std::byte> receive,
                  std::span<const std::int64_t> counts) override {
    check_contribution(send, receive, counts, "all_gather");
    const Layout in = layout_of(counts, "all_gather");
    check_mpi(MPI_Allgatherv(send.data(), in.counts[static_cast<std::size_t>(rank_)], MPI_BYTE,
                             receive.data(), in.counts.data(), in.offsets.data(), MPI_BYTE,
                             MPI_COMM_WORLD),
              "MPI_Allgatherv");
  }

  void gather(std::span<const std::byte> send, std::span<std::byte> receive,
              std::span<const std::int64_t> counts, int root) override {
    check_root(root, "gather");
    check_contribution(send, rank_ == root ? receive : std::span<std::byte>(), counts, "gather");
    const Layout in = layout_of(counts, "gather");
    check_mpi(MPI_Gatherv(send.data(), in.counts[static_cast<std::size_t>(rank_)], MPI_BYTE,
                          receive.data(), in.counts.data(), in.offsets.data(), MPI_BYTE, root,
                          MPI_COMM_WORLD),
              "MPI_Gatherv");
  }

  void broadcast(std::span<std::byte> data, int root) override {
    check_root(root, "broadcast");
    check_mpi(MPI_Bcast(data.data(), as_count(static_cast<std::int64_t>(data.size()), "broadcast"),
                        MPI_BYTE, root, MPI_COMM_WORLD),
              "MPI_Bcast");
  }

  void barrier() override { check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  void check_ranks(std::size_t count, const char* call) const {
    ATTN_CHECK(count == static_cast<std::size_t>(size_), "MPI ", call, ": expected ", size_,
               " counts (one per rank), got ", count);
  }
  void check_root(int root, const char* call) const {
    ATTN_CHECK(root >= 0 && root < size_, "MPI ", call, ": root ", root, " is not a rank of ",
               size_);
  }
  static void check_placement(const Placement& placement, std::size_t size, const char* call) {
    ATTN_CHECK(placement.offsets.size() == placement.counts.size(), "MPI ", call,
               ": one offset per count");
    for (std::size_t rank = 0; rank < placement.counts.size(); ++rank) {
      const std::int64_t end = placement.offsets[rank] + placement.counts[rank];
      ATTN_CHECK(placement.offsets[rank] >= 0 && placement.counts[rank] >= 0 &&
                     end <= static_cast<std::int64_t>(size),
                 "MPI ", call, ": the part of rank ", rank, " ends at byte ", end,
                 " of a buffer of ", size);
    }
  }
  void check_contribution(std::span<const std::byte> send, std::span<std::byte> receive,
                          std::span<const std::int64_t> counts, const char* call) const {
    check_ranks(counts.size(), call);
    ATTN_CHECK(static_cast<std::int64_t>(send.size()) == counts[static_cast<std::size_t>(rank_)],
               "MPI ", call, ": rank ", rank_, " sends ", send.size(), " bytes but the counts say ",
               counts[static_cast<std::size_t>(rank_)]);
    ATTN_CHECK(receive.empty() || receive.size() >= total_of(counts), "MPI ", call,
               ": the receive buffer holds ", receive.size(), " bytes, the counts add up to ",
               total_of(counts));
  }

  int rank_ = 0;
  int size_ = 1;
  std::string host_;
};

}  // namespace

bool mpi_available() { return true; }

std::unique_ptr<Communicator> mpi_world() { return std::make_unique<MpiCommunicator>(); }

}  // namespace attn::dist
