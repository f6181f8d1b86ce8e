// Communicator: how processes of one training job exchange bytes. The trainer asks for
// "all-to-all these buffers" or "gather these bytes to rank 0" and never sees a transport,
// so a later GPU backend (NCCL) is another implementation of the same few calls.
//
//   std::unique_ptr<dist::Communicator> world = dist::world_from_environment();
//   if (world->rank() == 0) ...;          // rank 0 of world->size() processes
//
// Every call is collective: each rank of the job makes the same calls in the same order,
// with sizes that agree (the counts below are the same array on every rank, except for
// all_to_all, where rank r's send_counts[q] equals rank q's receive_counts[r]). A failed
// transfer throws attn::Error naming the call.
//
// Two implementations: one process alone (single_process(): every call is a local copy)
// and MPI (Open MPI), chosen by world_from_environment() when the program was started by
// mpirun. Nothing here orders floating-point additions: callers add what they receive in
// rank order themselves, so results never depend on the algorithm an MPI library picks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace attn::dist {

// An exchange started by Communicator::start_all_to_all. Its buffers must stay untouched
// until wait() returns (or test() has returned true).
class PendingExchange {
 public:
  virtual ~PendingExchange() = default;
  // Lets the transport progress; true once the exchange is complete.
  virtual bool test() = 0;
  virtual void wait() = 0;
};

// Where each rank's part of a buffer lies: byte offsets and counts, one per rank.
struct Placement {
  std::vector<std::int64_t> offsets, counts;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "single" or "mpi"; the host name of this process, for messages.
  virtual std::string backend() const = 0;
  virtual std::string host() const = 0;

  // Rank r sends send[send_offset(q) ..+ send_counts[q]) to every rank q (itself included),
  // and receives rank q's part into receive[receive_offset(q) ..+ receive_counts[q]).
  // Offsets are the running sums of the counts; all sizes are bytes.
  virtual void all_to_all(std::span<const std::byte> send, std::span<const std::int64_t> send_counts,
                          std::span<std::byte> receive,
                          std::span<const std::int64_t> receive_counts) = 0;
  // The same exchange, started without waiting for it, with each part placed anywhere in
  // its buffer. Exchanges started by several calls complete in any order, but every rank
  // must start them in the same order.
  virtual std::unique_ptr<PendingExchange> start_all_to_all(std::span<const std::byte> send,
                                                            const Placement& send_parts,
                                                            std::span<std::byte> receive,
                                                            const Placement& receive_parts) = 0;
  // Every rank contributes `send` (counts[rank()] bytes); every rank receives all the
  // contributions one after another in rank order.
  virtual void all_gather(std::span<const std::byte> send, std::span<std::byte> receive,
                          std::span<const std::int64_t> counts) = 0;
  // The same, but only `root` receives (others pass an empty `receive`).
  virtual void gather(std::span<const std::byte> send, std::span<std::byte> receive,
                      std::span<const std::int64_t> counts, int root) = 0;
  // `data` of root is copied into `data` of every rank (same size everywhere).
  virtual void broadcast(std::span<std::byte> data, int root) = 0;
  virtual void barrier() = 0;
  // Ends every process of the job with `code`; for errors one rank cannot recover from.
  [[noreturn]] virtual void abort(int code) = 0;
};

// One process alone: rank 0 of 1.
std::unique_ptr<Communicator> single_process();

// True when this process was started by mpirun (Open MPI's or PMIx's rank variables).
bool launched_by_mpirun();
// True when this build has the MPI backend (CMake option ATTN_WITH_MPI).
bool mpi_available();
// The MPI job this process belongs to (MPI_Init on first use, MPI_Finalize when the last
// handle is destroyed). Throws attn::Error in a build without MPI.
std::unique_ptr<Communicator> mpi_world();
// mpi_world() under mpirun, single_process() otherwise. Under mpirun in a build without
// MPI it throws rather than run several unrelated copies of the same job.
std::unique_ptr<Communicator> world_from_environment();

// ---- typed helpers over the byte calls ------------------------------------------------

// Every rank's `value`, in rank order (trivially copyable T).
template <typename T>
std::vector<T> all_gather_value(Communicator& communicator, const T& value) {
  std::vector<T> values(static_cast<std::size_t>(communicator.size()));
  std::vector<std::int64_t> counts(values.size(), static_cast<std::int64_t>(sizeof(T)));
  communicator.all_gather(std::as_bytes(std::span<const T>(&value, 1)),
                          std::as_writable_bytes(std::span<T>(values)), counts);
  return values;
}

// Every rank's vector of T, each of the same length, concatenated in rank order.
template <typename T>
std::vector<T> all_gather_vector(Communicator& communicator, const std::vector<T>& values) {
  std::vector<T> gathered(values.size() * static_cast<std::size_t>(communicator.size()));
  std::vector<std::int64_t> counts(static_cast<std::size_t>(communicator.size()),
                                   static_cast<std::int64_t>(values.size() * sizeof(T)));
  communicator.all_gather(std::as_bytes(std::span<const T>(values)),
                          std::as_writable_bytes(std::span<T>(gathered)), counts);
  return gathered;
}

// Root's `value` on every rank.
template <typename T>
T broadcast_value(Communicator& communicator, T value, int root = 0) {
  communicator.broadcast(std::as_writable_bytes(std::span<T>(&value, 1)), root);
  return value;
}

// Root's string on every rank (its length first, then its bytes).
std::string broadcast_string(Communicator& communicator, std::string text, int root = 0);

// Every rank's bytes gathered on root, one string per rank (empty vector elsewhere).
std::vector<std::string> gather_strings(Communicator& communicator, const std::string& text,
                                        int root = 0);

}  // namespace attn::dist
