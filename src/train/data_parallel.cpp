// Gradient exchange and sharded optimizer state (contract: attn/train/data_parallel.h).
#include "attn/train/data_parallel.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "attn/core/error.h"
#include "attn/io/safetensors.h"
#include "attn/optim/clip.h"
#include "attn/train/task.h"

namespace attn::train {
namespace {

// Plain elementwise adds: the same bits whether the compiler vectorizes the loop or not.
void add_into(float* sum, const float* values, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) sum[i] = sum[i] + values[i];
}

void add_zeros_into(float* sum, std::int64_t count) {
  // x + 0.0f is not always x (-0.0f + 0.0f is +0.0f), and ranks that lack a gradient send
  // zeros that are added, so one process must add them too to give the same bits.
  for (std::int64_t i = 0; i < count; ++i) sum[i] = sum[i] + 0.0f;
}

std::int64_t bytes_of(std::int64_t elements) {
  return elements * static_cast<std::int64_t>(sizeof(float));
}

// "param.<index>.<field>" -> index and field; false for other names.
bool split_parameter_key(const std::string& key, std::size_t& index, std::string& field) {
  if (!key.starts_with("param.")) return false;
  const std::size_t dot = key.find('.', 6);
  if (dot == std::string::npos) return false;
  index = std::stoul(key.substr(6, dot - 6));
  field = key.substr(dot + 1);
  return true;
}

std::string parameter_key(std::size_t index, const std::string& field) {
  return "param." + std::to_string(index) + "." + field;
}

std::int64_t blocks_of(std::int64_t elements) {
  return (elements + optim::kSumOfSquaresBlock - 1) / optim::kSumOfSquaresBlock;
}

// Adds the time until it goes out of scope to a counter.
class Stopwatch {
 public:
  explicit Stopwatch(double& seconds) : seconds_(seconds), start_(std::chrono::steady_clock::now()) {}
  ~Stopwatch() {
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  Stopwatch(const Stopwatch&) = delete;
  Stopwatch& operator=(const Stopwatch&) = delete;

 private:
  double& seconds_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

// The cut of a shard's end lands on a block of the gradient norm's sums, so that every rank
// sums whole blocks.
static_assert(kShardGrain % optim::kSumOfSquaresBlock == 0);

std::vector<std::int64_t> shard_offsets(const std::vector<std::int64_t>& parameter_sizes, int ranks,
                                        std::int64_t grain) {
  ATTN_CHECK(ranks >= 1 && grain >= 1, "shard_offsets: needs at least one rank and a positive "
             "grain, got ", ranks, " ranks and a grain of ", grain);
  std::vector<std::int64_t> starts{0};
  for (std::int64_t size : parameter_sizes) starts.push_back(starts.back() + size);
  const std::int64_t total = starts.back();
  std::vector<std::int64_t> offsets{0};
  std::size_t tensor = 0;  // the tensor the ideal cut falls in
  for (std::int64_t rank = 1; rank < ranks; ++rank) {
    const std::int64_t ideal = (rank * total + ranks / 2) / ranks;
    while (tensor < parameter_sizes.size() && starts[tensor + 1] <= ideal) ++tensor;
    std::int64_t cut = ideal;
    if (tensor < parameter_sizes.size()) {
      const std::int64_t start = starts[tensor];
      cut = std::min(start + (ideal - start + grain / 2) / grain * grain, starts[tensor + 1]);
    }
    offsets.push_back(std::max(cut, offsets.back()));
  }
  offsets.push_back(total);
  return offsets;
}

DataParallel::DataParallel(std::vector<Tensor> parameters, dist::Communicator& communicator)
    : parameters_(std::move(parameters)), communicator_(communicator) {
  element_offsets_.push_back(0);
  std::vector<std::int64_t> sizes;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& parameter = parameters_[i];
    ATTN_CHECK(parameter.defined() && parameter.dtype() == DType::Float32 &&
                   parameter.is_contiguous() && parameter.numel() > 0,
               "data-parallel training and gradient accumulation need contiguous, non-empty "
               "float32 parameters; parameter ", i, " is ",
               parameter.defined() ? parameter.describe() : "undefined");
    sizes.push_back(parameter.numel());
    element_offsets_.push_back(element_offsets_.back() + parameter.numel());
  }
  shard_offsets_ = shard_offsets(sizes, size());
  owned_pieces_ = pieces_of_rank(static_cast<std::size_t>(rank()));
  for (const Piece& piece : owned_pieces_) {
    const Tensor& parameter = parameters_[piece.parameter];
    owned_.push_back(is_whole(piece) ? parameter
                                     : parameter.as_strided({piece.end - piece.begin}, {1},
                                                            parameter.offset() + piece.begin));
  }
  has_gradient_.assign(parameters_.size(), 0);
}

std::vector<DataParallel::Piece> DataParallel::pieces_between(std::int64_t first,
                                                              std::int64_t last) const {
  std::vector<Piece> pieces;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const std::int64_t begin = std::max(first, element_offsets_[i]);
    const std::int64_t end = std::min(last, element_offsets_[i + 1]);
    if (begin < end) pieces.push_back({i, begin - element_offsets_[i], end - element_offsets_[i]});
  }
  return pieces;
}

std::vector<DataParallel::Piece> DataParallel::pieces_of_rank(std::size_t rank) const {
  return pieces_between(shard_offsets_[rank], shard_offsets_[rank + 1]);
}

bool DataParallel::is_whole(const Piece& piece) const {
  return piece.begin == 0 && piece.end == parameters_[piece.parameter].numel();
}

std::int64_t DataParallel::owned_elements() const {
  return shard_elements(static_cast<std::size_t>(rank()));
}

// Adds (or, for the first micro-batch, copies) parameter `index`'s gradient into the sum;
// zeros for a parameter without one. Drops the gradient.
void DataParallel::pack_gradient(std::size_t index, bool first) {
  Tensor& parameter = parameters_[index];
  float* sum = sum_.data() + element_offsets_[index];
  const Tensor grad = parameter.grad();
  if (grad.defined()) {
    const Tensor dense = grad.contiguous();
    ATTN_CHECK(dense.dtype() == DType::Float32 && dense.numel() == parameter.numel(),
               "data-parallel training: parameter ", index, " is ", parameter.describe(),
               " but its gradient is ", grad.describe());
    if (first) {
      std::memcpy(sum, dense.data<float>(), static_cast<std::size_t>(bytes_of(parameter.numel())));
    } else {
      add_into(sum, dense.data<float>(), parameter.numel());
    }
    has_gradient_[index] = 1;
  } else if (first) {
    std::fill(sum, sum + parameter.numel(), 0.0f);
  } else {
    add_zeros_into(sum, parameter.numel());
  }
  parameter.zero_grad();
}

void DataParallel::accumulate_gradients() {
  if (!sum_started_) sum_.resize(static_cast<std::size_t>(total_elements()));
  for (std::size_t i = 0; i < parameters_.size(); ++i) pack_gradient(i, !sum_started_);
  sum_started_ = true;
}

void DataParallel::discard_gradients() {
  for (auto& exchange : pending_) exchange->wait();  // the buffers must outlive them
  pending_.clear();
  exchanged_ = false;
  sum_started_ = false;
  has_gradient_.assign(parameters_.size(), 0);
  for (Tensor& parameter : parameters_) parameter.zero_grad();
}

void DataParallel::make_buckets(std::int64_t bucket_bytes) {
  buckets_.clear();
  bucket_bytes_ = bucket_bytes;
  bucket_of_.assign(parameters_.size(), 0);
  std::size_t last = parameters_.size();
  while (last > 0) {
    std::size_t first = last;
    std::int64_t bytes = 0;
    while (first > 0 && (first == last || bytes < bucket_bytes)) {
      --first;
      bytes += bytes_of(parameters_[first].numel());
    }
    for (std::size_t i = first; i < last; ++i) bucket_of_[i] = buckets_.size();
    buckets_.emplace_back(first, last);
    last = first;
  }
  for (std::size_t i = 0; i < parameters_.size(); ++i) index_of_[parameters_[i].impl()] = i;
}

void DataParallel::start_overlapped_backward(std::int64_t bucket_bytes) {
  ATTN_CHECK(bucket_bytes > 0, "data-parallel training: buckets need a positive size, got ",
             bucket_bytes, " bytes");
  if (buckets_.empty() || bucket_bytes != bucket_bytes_) make_buckets(bucket_bytes);
  discard_gradients();
  sum_.resize(static_cast<std::size_t>(total_elements()));
  received_.resize(static_cast<std::size_t>(owned_elements()) * static_cast<std::size_t>(size()));
  finished_in_.assign(buckets_.size(), 0);
  next_bucket_ = 0;
}

void DataParallel::on_leaf_done(const Tensor& leaf) {
  const auto found = index_of_.find(leaf.impl());
  if (found == index_of_.end()) return;
  const std::size_t bucket = bucket_of_[found->second];
  finished_in_[bucket] += 1;
  auto complete = [&](std::size_t index) {
    return finished_in_[index] == buckets_[index].second - buckets_[index].first;
  };
  while (next_bucket_ < buckets_.size() && complete(next_bucket_)) start_bucket(next_bucket_++);
  progress_exchanges();
}

void DataParallel::progress_exchanges() {
  // Open MPI moves a started exchange along only inside MPI calls.
  for (auto& exchange : pending_) exchange->test();
}

void DataParallel::finish_overlapped_backward() {
  while (next_bucket_ < buckets_.size()) start_bucket(next_bucket_++);
  sum_started_ = true;
}

// Sends the shards of bucket `bucket` of the sum to their owners, and receives this rank's
// part of it from every rank into its place in received_.
void DataParallel::start_bucket(std::size_t bucket) {
  Stopwatch stopwatch(counters_.seconds);
  // Plain variables: the lambda below cannot capture structured bindings in C++20.
  const std::size_t first = buckets_[bucket].first;
  const std::size_t last = buckets_[bucket].second;
  for (std::size_t i = first; i < last; ++i) pack_gradient(i, true);
  const std::int64_t bucket_first = element_offsets_[first];
  const std::int64_t bucket_last = element_offsets_[last];
  const auto ranks = static_cast<std::size_t>(size());
  auto overlap = [&](std::size_t rank) {  // elements of the bucket that `rank` owns
    return std::pair{std::clamp(bucket_first, shard_offsets_[rank], shard_offsets_[rank + 1]),
                     std::clamp(bucket_last, shard_offsets_[rank], shard_offsets_[rank + 1])};
  };
  dist::Placement send, receive;
  const auto [own_first, own_last] = overlap(static_cast<std::size_t>(rank()));
  const std::int64_t own_offset = own_first - shard_begin(static_cast<std::size_t>(rank()));
  const std::int64_t own_count = own_last - own_first;
  for (std::size_t rank = 0; rank < ranks; ++rank) {
    const auto [rank_first, rank_last] = overlap(rank);
    send.offsets.push_back(bytes_of(rank_first));
    send.counts.push_back(bytes_of(rank_last - rank_first));
    receive.offsets.push_back(bytes_of(static_cast<std::int64_t>(rank) * owned_elements() + own_offset));
    receive.counts.push_back(bytes_of(own_count));
  }
  pending_.push_back(communicator_.start_all_to_all(
      std::as_bytes(std::span<const float>(sum_)), send,
      std::as_writable_bytes(std::span<float>(received_)), receive));
  counters_.bytes_sent += bytes_of(bucket_last - bucket_first - own_count);
  exchanged_ = true;
}

void DataParallel::reduce_gradients() {
  ATTN_CHECK(sum_started_, "data-parallel training: reduce_gradients before any micro-batch");
  Stopwatch stopwatch(counters_.seconds);
  if (exchanged_) {
    for (auto& exchange : pending_) exchange->wait();
    pending_.clear();
  } else {
    // Rank q's shard of every rank's sum arrives at rank q, one copy per sender in rank order.
    const std::int64_t owned = owned_elements();
    const std::vector<std::int64_t> receive_counts(static_cast<std::size_t>(size()), bytes_of(owned));
    received_.resize(static_cast<std::size_t>(owned) * static_cast<std::size_t>(size()));
    communicator_.all_to_all(std::as_bytes(std::span<const float>(sum_)), shard_bytes(),
                             std::as_writable_bytes(std::span<float>(received_)), receive_counts);
    counters_.bytes_sent += bytes_of(total_elements() - owned);
  }
  counters_.exchanges += 1;
  combine_received();
}

// Adds every rank's copy of this shard in rank order and sets the totals as gradients.
void DataParallel::combine_received() {
  const auto ranks = static_cast<std::size_t>(size());
  const auto owned = static_cast<std::size_t>(owned_elements());
  float* total = received_.data();
  for (std::size_t rank = 1; rank < ranks; ++rank) {
    add_into(total, received_.data() + rank * owned, static_cast<std::int64_t>(owned));
  }
  // A parameter has a gradient when some micro-batch of some rank reached it.
  const std::vector<std::uint8_t> reached = dist::all_gather_vector(communicator_, has_gradient_);
  const std::int64_t base = shard_begin(static_cast<std::size_t>(rank()));
  for (std::size_t k = 0; k < owned_pieces_.size(); ++k) {
    const Piece& piece = owned_pieces_[k];
    bool any = false;
    for (std::size_t rank = 0; rank < ranks; ++rank) {
      any = any || reached[rank * parameters_.size() + piece.parameter];
    }
    if (!any) continue;
    Tensor grad = Tensor::empty(owned_[k].shape(), DType::Float32);
    std::memcpy(grad.data<float>(), total + (element_offsets_[piece.parameter] + piece.begin - base),
                static_cast<std::size_t>(bytes_of(piece.end - piece.begin)));
    owned_[k].set_grad(grad);
  }
  sum_started_ = false;
  exchanged_ = false;
  has_gradient_.assign(parameters_.size(), 0);
}

double DataParallel::global_grad_norm() {
  Stopwatch stopwatch(counters_.seconds);
  // Each owner sends, per piece, whether it has a gradient and then the sums of squares of
  // its blocks (zeros without a gradient). Cuts fall on block boundaries, so these are the
  // blocks that one process would sum.
  std::vector<double> owned_sums;
  for (const Tensor& owned : owned_) {
    const Tensor grad = owned.grad();
    owned_sums.push_back(grad.defined() ? 1.0 : 0.0);
    const std::vector<double> blocks =
        grad.defined() ? optim::grad_block_sums_of_squares(grad)
                       : std::vector<double>(static_cast<std::size_t>(blocks_of(owned.numel())), 0.0);
    owned_sums.insert(owned_sums.end(), blocks.begin(), blocks.end());
  }
  std::vector<std::vector<Piece>> pieces;  // of every rank
  std::vector<std::int64_t> counts;
  std::int64_t entries = 0;
  for (std::size_t rank = 0; rank < static_cast<std::size_t>(size()); ++rank) {
    pieces.push_back(pieces_of_rank(rank));
    std::int64_t rank_entries = 0;
    for (const Piece& piece : pieces.back()) rank_entries += 1 + blocks_of(piece.end - piece.begin);
    counts.push_back(rank_entries * static_cast<std::int64_t>(sizeof(double)));
    entries += rank_entries;
  }
  std::vector<double> sums(static_cast<std::size_t>(entries));
  communicator_.all_gather(std::as_bytes(std::span<const double>(owned_sums)),
                           std::as_writable_bytes(std::span<double>(sums)), counts);
  // As optim::global_grad_norm adds: each parameter's blocks from 0.0, then the parameters.
  double sum = 0.0;
  double parameter_sum = 0.0;
  bool parameter_has_gradient = false;
  std::size_t position = 0;
  std::size_t current = parameters_.size();
  for (const std::vector<Piece>& rank_pieces : pieces) {
    for (const Piece& piece : rank_pieces) {
      if (piece.parameter != current) {
        if (parameter_has_gradient) sum += parameter_sum;
        current = piece.parameter;
        parameter_sum = 0.0;
        parameter_has_gradient = false;
      }
      const bool piece_has_gradient = sums[position++] != 0.0;
      parameter_has_gradient = parameter_has_gradient || piece_has_gradient;
      for (std::int64_t block = 0; block < blocks_of(piece.end - piece.begin); ++block) {
        parameter_sum += sums[position++];
      }
    }
  }
  if (parameter_has_gradient) sum += parameter_sum;
  return std::sqrt(sum);
}

// Elements [first, last) of the parameters laid end to end, to or from `flat`, which holds
// element `first` first.
void DataParallel::copy_parameters_to(std::int64_t first, std::int64_t last, float* flat) const {
  for (const Piece& piece : pieces_between(first, last)) {
    std::memcpy(flat + (element_offsets_[piece.parameter] + piece.begin - first),
                parameters_[piece.parameter].data<float>() + piece.begin,
                static_cast<std::size_t>(bytes_of(piece.end - piece.begin)));
  }
}

void DataParallel::copy_parameters_from(std::int64_t first, std::int64_t last, const float* flat) {
  for (const Piece& piece : pieces_between(first, last)) {
    std::memcpy(parameters_[piece.parameter].data<float>() + piece.begin,
                flat + (element_offsets_[piece.parameter] + piece.begin - first),
                static_cast<std::size_t>(bytes_of(piece.end - piece.begin)));
  }
}

void DataParallel::all_gather_parameters() {
  if (size() == 1) return;
  Stopwatch stopwatch(counters_.seconds);
  const std::int64_t first = shard_begin(static_cast<std::size_t>(rank()));
  const std::int64_t last = first + owned_elements();
  std::vector<float> owned(static_cast<std::size_t>(owned_elements()));
  copy_parameters_to(first, last, owned.data());
  std::vector<float> whole(static_cast<std::size_t>(total_elements()));
  communicator_.all_gather(std::as_bytes(std::span<const float>(owned)),
                           std::as_writable_bytes(std::span<float>(whole)), shard_bytes());
  counters_.bytes_sent += bytes_of(owned_elements()) * (size() - 1);
  // This rank's own shard arrives back unchanged; the others replace what it held.
  copy_parameters_from(0, first, whole.data());
  copy_parameters_from(last, total_elements(), whole.data() + last);
}

void DataParallel::broadcast_parameters() {
  if (size() == 1) return;
  std::vector<float> whole(static_cast<std::size_t>(total_elements()));
  copy_parameters_to(0, total_elements(), whole.data());
  communicator_.broadcast(std::as_writable_bytes(std::span<float>(whole)), 0);
  copy_parameters_from(0, total_elements(), whole.data());
}

std::int64_t DataParallel::shard_elements(std::size_t rank) const {
  return shard_offsets_[rank + 1] - shard_offsets_[rank];
}

std::vector<std::int64_t> DataParallel::shard_bytes() const {
  std::vector<std::int64_t> bytes;
  for (std::size_t rank = 0; rank + 1 < shard_offsets_.size(); ++rank) {
    bytes.push_back(bytes_of(shard_elements(rank)));
  }
  return bytes;
}

ExchangeCounters DataParallel::take_counters() {
  ExchangeCounters taken = counters_;
  counters_ = {};
  return taken;
}

std::uint64_t DataParallel::parameter_hash() const {
  Fingerprint fingerprint;
  for (const Tensor& parameter : parameters_) {
    const auto* bytes = static_cast<const char*>(parameter.raw_data());
    fingerprint.add(std::string_view(bytes, static_cast<std::size_t>(bytes_of(parameter.numel()))));
  }
  return fingerprint.value();
}

std::map<std::string, Tensor> DataParallel::gather_optimizer_state(
    const std::map<std::string, Tensor>& shard_state) const {
  // Each rank sends its shard's state as it is, one safetensors blob; rank 0 knows every
  // rank's pieces, so "param.<k>" of rank q is piece k of rank q.
  const std::vector<std::string> blobs =
      dist::gather_strings(communicator_, io::serialize_safetensors(shard_state), 0);
  std::map<std::string, Tensor> whole;
  for (std::size_t rank = 0; rank < blobs.size(); ++rank) {
    const std::vector<Piece> pieces = pieces_of_rank(rank);
    io::SafetensorsData data = io::parse_safetensors(
        reinterpret_cast<const std::uint8_t*>(blobs[rank].data()), blobs[rank].size(), "optimizer shard");
    for (auto& [key, tensor] : data.tensors) {
      std::size_t index = 0;
      std::string field;
      if (!split_parameter_key(key, index, field)) {
        whole.emplace(key, tensor);  // rank 0's scalars win
        continue;
      }
      ATTN_CHECK(index < pieces.size(), "data-parallel training: rank ", rank, " sent optimizer state ",
                 key, " but holds ", pieces.size(), " pieces");
      const Piece& piece = pieces[index];
      const std::string name = parameter_key(piece.parameter, field);
      if (is_whole(piece) || tensor.dim() == 0) {
        // A cut parameter's step count is the same in every piece.
        whole.emplace(name, tensor);
        continue;
      }
      // A piece of a moment buffer goes to its place in the parameter's whole buffer.
      const Tensor& parameter = parameters_[piece.parameter];
      auto [place, created] = whole.try_emplace(name);
      if (created) place->second = Tensor::zeros(parameter.shape(), DType::Float32);
      ATTN_CHECK(tensor.dtype() == DType::Float32 && tensor.numel() == piece.end - piece.begin,
                 "data-parallel training: optimizer shard entry ", key, " of rank ", rank, " (",
                 tensor.describe(), ") does not fit elements ", piece.begin, " to ", piece.end,
                 " of parameter ", piece.parameter, " (", parameter.describe(), ")");
      std::memcpy(place->second.data<float>() + piece.begin, tensor.data<float>(),
                  static_cast<std::size_t>(bytes_of(tensor.numel())));
    }
  }
  return whole;
}

std::map<std::string, Tensor> DataParallel::shard_of_optimizer_state(
    const std::map<std::string, Tensor>& whole_state) const {
  std::map<std::string, Tensor> shard;
  for (const auto& [key, tensor] : whole_state) {
    std::size_t index = 0;
    std::string field;
    if (!split_parameter_key(key, index, field)) {
      shard[key] = tensor;
      continue;
    }
    for (std::size_t k = 0; k < owned_pieces_.size(); ++k) {
      const Piece& piece = owned_pieces_[k];
      if (piece.parameter != index) continue;
      if (is_whole(piece) || tensor.dim() == 0) {
        shard[parameter_key(k, field)] = tensor;  // the optimizer checks its shape on load
        continue;
      }
      const Tensor& parameter = parameters_[index];
      ATTN_CHECK(tensor.dtype() == DType::Float32 && tensor.numel() == parameter.numel(),
                 "train: cannot resume: the checkpoint's optimizer entry ", key, " is ",
                 tensor.describe(), " but parameter ", index, " is ", parameter.describe());
      Tensor part = Tensor::empty({piece.end - piece.begin}, DType::Float32);
      std::memcpy(part.data<float>(), tensor.contiguous().data<float>() + piece.begin,
                  static_cast<std::size_t>(bytes_of(piece.end - piece.begin)));
      shard[parameter_key(k, field)] = part;
    }
  }
  return shard;
}

}  // namespace attn::train
