// DataParallel: the gradient exchange of an update whose batch is cut into micro-batches,
// over the processes of a job (dist::Communicator) and within one process
// (train.accumulate_steps). The trainer uses it; docs/DISTRIBUTED.md tells the whole story.
//
// The parameters, laid end to end, are cut into one shard per rank of even length in
// elements, as ZeRO's flat buffers are: a cut may fall inside a tensor, at a multiple of
// kShardGrain elements from its start. A rank keeps optimizer state for its shard only
// (ZeRO stage 1), so that state falls as 1/P even for a model with one huge embedding.
// One update:
//
//   for each of this rank's micro-batches: backward, then accumulate_gradients()
//   reduce_gradients();        // all-to-all the shards; add them in rank order
//   norm = global_grad_norm(); // from each shard's sums of squares, in parameter order
//   optimizer.step();          // over owned_parameters() only
//   all_gather_parameters();   // every rank has the whole updated model again
//
// Every sum has a fixed order, whatever the transport: a micro-batch's gradients are added
// to this rank's sum in micro-batch order (the first copied, not added to zero), and the
// ranks' sums in rank order. P ranks with one micro-batch each therefore give the same bits
// as one process that accumulates P micro-batches.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "attn/core/tensor.h"
#include "attn/dist/communicator.h"

namespace attn::train {

// Shard cuts fall on multiples of this many elements from a tensor's start: the blocks of
// optim::grad_sum_of_squares, so that the gradient norm has the same bits for any number
// of ranks.
inline constexpr std::int64_t kShardGrain = 1024;

// Where the shards of `ranks` ranks begin and end in the parameters laid end to end
// (`parameter_sizes` in elements): ranks + 1 offsets, from 0 to the total. Rank r's shard
// ends at the multiple of `grain` (counted from the start of the tensor it falls in, or that
// tensor's end) nearest to (r + 1) / ranks of the total. A shard may be empty when the
// model has fewer than `ranks` grains.
std::vector<std::int64_t> shard_offsets(const std::vector<std::int64_t>& parameter_sizes, int ranks,
                                        std::int64_t grain = kShardGrain);

// Time and payload of the exchanges since the counters were last taken.
struct ExchangeCounters {
  double seconds = 0.0;          // inside collective calls, waiting for slower ranks included
  std::int64_t bytes_sent = 0;   // payload this rank sent to the others (not counting what an
                                 // MPI algorithm forwards on their behalf)
  std::int64_t exchanges = 0;    // updates whose gradients were exchanged
};

class DataParallel {
 public:
  // Every parameter must be a contiguous, non-empty float32 tensor; throws attn::Error
  // otherwise.
  DataParallel(std::vector<Tensor> parameters, dist::Communicator& communicator);

  int rank() const { return communicator_.rank(); }
  int size() const { return communicator_.size(); }
  dist::Communicator& communicator() const { return communicator_; }
  // This rank's shard, for its optimizer: each parameter it holds whole, and a flat view of
  // the part it holds of each parameter it shares with a neighbour. The views share the
  // parameters' memory, so an update through them updates the model.
  const std::vector<Tensor>& owned_parameters() const { return owned_; }
  // Elements of every parameter, and of this rank's shard.
  std::int64_t total_elements() const { return element_offsets_.back(); }
  std::int64_t owned_elements() const;

  // Adds the gradients that a micro-batch's backward left on the parameters to this rank's
  // sum (a parameter without one adds zeros), and drops them from the parameters.
  void accumulate_gradients();
  // Forgets this rank's sum (a skipped update).
  void discard_gradients();

  // Overlap, for one micro-batch per rank: the parameters form buckets of about
  // bucket_bytes, last parameters first (backward finishes their gradients first). A
  // bucket's exchange starts as soon as backward has finished all its gradients, the
  // buckets in the same order on every rank; reduce_gradients() then waits and adds. The
  // sums are the same bits as without overlap.
  void start_overlapped_backward(std::int64_t bucket_bytes);
  // For autograd::BackwardOptions::on_leaf_done: that leaf's gradient is final.
  void on_leaf_done(const Tensor& leaf);
  // For autograd::BackwardOptions::after_node: lets the transport move the started
  // exchanges along (cheap when none is pending).
  void progress_exchanges();
  // Starts the buckets that backward did not finish (parameters it never reached, or no
  // backward at all), in order.
  void finish_overlapped_backward();
  // Exchanges the shards of every rank's sum and sets their total, added in rank order, as
  // the gradient of each owned parameter that some micro-batch of some rank reached. Other
  // parameters are left without a gradient, so the optimizer skips them as it would in one
  // process. Clears the sum.
  void reduce_gradients();
  // sqrt of sum(grad^2) over every parameter with a gradient, in parameter order: the
  // number optim::global_grad_norm gives in one process with the same gradients.
  double global_grad_norm();
  // Copies every rank's shard of the parameters to every other rank.
  void all_gather_parameters();
  // Copies rank 0's parameters to every other rank (at start, so that all begin equal).
  void broadcast_parameters();
  // A hash of every parameter's bytes; the same on every rank after all_gather_parameters().
  std::uint64_t parameter_hash() const;

  // The state_dict() of the whole optimizer (optim/optimizer.h), assembled on rank 0 from
  // every rank's `shard_state` (the state_dict of the optimizer over owned_parameters()),
  // with the parts of a shared parameter's buffers put together; other ranks get an empty
  // map.
  std::map<std::string, Tensor> gather_optimizer_state(
      const std::map<std::string, Tensor>& shard_state) const;
  // This rank's part of a whole optimizer's state_dict, indexed for its shard optimizer.
  std::map<std::string, Tensor> shard_of_optimizer_state(
      const std::map<std::string, Tensor>& whole_state) const;

  // The counters since the last call, which resets them.
  ExchangeCounters take_counters();

 private:
  // Elements [begin, end) of parameter `parameter` (counted from its start).
  struct Piece {
    std::size_t parameter;
    std::int64_t begin, end;
  };
  // The pieces of the parameters that elements [first, last) of the whole cover, in order.
  std::vector<Piece> pieces_between(std::int64_t first, std::int64_t last) const;
  std::vector<Piece> pieces_of_rank(std::size_t rank) const;
  bool is_whole(const Piece& piece) const;
  std::int64_t shard_begin(std::size_t rank) const { return shard_offsets_[rank]; }
  std::int64_t shard_elements(std::size_t rank) const;
  std::vector<std::int64_t> shard_bytes() const;
  void make_buckets(std::int64_t bucket_bytes);
  void copy_parameters_to(std::int64_t first, std::int64_t last, float* flat) const;
  void copy_parameters_from(std::int64_t first, std::int64_t last, const float* flat);
  void pack_gradient(std::size_t index, bool first);
  void start_bucket(std::size_t bucket);
  void combine_received();
  std::vector<Tensor> parameters_;
  dist::Communicator& communicator_;
  std::vector<std::int64_t> element_offsets_;  // per parameter, and the total at the end
  std::vector<std::int64_t> shard_offsets_;    // per rank, and the total at the end
  std::vector<Piece> owned_pieces_;            // this rank's shard
  std::vector<Tensor> owned_;                  // one tensor per owned piece
  std::vector<float> sum_;                     // this rank's micro-batch gradients, added
  std::vector<std::uint8_t> has_gradient_;     // per parameter: some micro-batch reached it
  bool sum_started_ = false;
  ExchangeCounters counters_;
  // Overlap: buckets as [first, last) parameter ranges, bucket 0 holding the last ones.
  std::vector<std::pair<std::size_t, std::size_t>> buckets_;
  std::int64_t bucket_bytes_ = 0;  // what buckets_ were made for
  std::vector<std::size_t> bucket_of_;       // per parameter
  std::vector<std::size_t> finished_in_;     // per bucket: parameters whose gradient is final
  std::size_t next_bucket_ = 0;
  std::unordered_map<const TensorImpl*, std::size_t> index_of_;
  std::vector<std::unique_ptr<dist::PendingExchange>> pending_;
  std::vector<float> received_;  // [rank][owned elements]: every rank's copy of this shard
  bool exchanged_ = false;       // received_ holds this update's exchange
};

}  // namespace attn::train
