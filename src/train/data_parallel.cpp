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

DataParallel::DataParallel(std::vector<Tensor> parameters, dist::Communicator& communicator)
    : parameters_(std::move(parameters)), communicator_(communicator) {
  element_offsets_.push_back(0);
  std::vector<std::int64_t> sizes;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& parameter = parameters_[i];
    ATTN_CHECK(parameter.defined() && parameter.dtype() == DType::Float32 &&
                   parameter.is_contiguous(),
               "data-parallel training and gradient accumulation need contiguous float32 "
               "parameters; parameter ", i, " is ",
               parameter.defined() ? parameter.describe() : "undefined");
    sizes.push_back(parameter.numel());
    element_offsets_.push_back(element_offsets_.back() + parameter.numel());
  }
  const auto ranks = static_cast<std::int64_t>(size());
  ATTN_CHECK(static_cast<std::int64_t>(parameters_.size()) >= ranks, "data-parallel training: ",
             ranks, " processes but the model has only ", parameters_.size(),
             " parameter tensors to share out; use fewer processes");
  for (std::int64_t part = 0; part < ranks; ++part) {
    first_owned_.push_back(slice_bounds(sizes, {part, ranks}).first);
  }
  first_owned_.push_back(parameters_.size());
  has_gradient_.assign(parameters_.size(), 0);
}

std::vector<Tensor> DataParallel::owned_parameters() const {
  return {parameters_.begin() + static_cast<std::ptrdiff_t>(first_owned()),
          parameters_.begin() + static_cast<std::ptrdiff_t>(last_owned())};
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
  const auto ranks = static_cast<std::size_t>(size());
  auto overlap = [&](std::size_t rank) {  // parameters of the bucket that `rank` owns
    return std::pair{std::clamp(first, first_owned_[rank], first_owned_[rank + 1]),
                     std::clamp(last, first_owned_[rank], first_owned_[rank + 1])};
  };
  dist::Placement send, receive;
  const auto [own_first, own_last] = overlap(static_cast<std::size_t>(rank()));
  const std::int64_t own_offset = element_offsets_[own_first] - element_offsets_[first_owned()];
  const std::int64_t own_count = element_offsets_[own_last] - element_offsets_[own_first];
  for (std::size_t rank = 0; rank < ranks; ++rank) {
    const auto [rank_first, rank_last] = overlap(rank);
    send.offsets.push_back(bytes_of(element_offsets_[rank_first]));
    send.counts.push_back(bytes_of(element_offsets_[rank_last] - element_offsets_[rank_first]));
    receive.offsets.push_back(bytes_of(static_cast<std::int64_t>(rank) * owned_elements() + own_offset));
    receive.counts.push_back(bytes_of(own_count));
  }
  pending_.push_back(communicator_.start_all_to_all(
      std::as_bytes(std::span<const float>(sum_)), send,
      std::as_writable_bytes(std::span<float>(received_)), receive));
  counters_.bytes_sent += bytes_of(element_offsets_[last] - element_offsets_[first] - own_count);
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
  const std::int64_t base = element_offsets_[first_owned()];
  for (std::size_t i = first_owned(); i < last_owned(); ++i) {
    bool any = false;
    for (std::size_t rank = 0; rank < ranks; ++rank) any = any || reached[rank * parameters_.size() + i];
    if (!any) continue;
    Tensor grad = Tensor::empty(parameters_[i].shape(), DType::Float32);
    std::memcpy(grad.data<float>(), total + (element_offsets_[i] - base),
                static_cast<std::size_t>(bytes_of(parameters_[i].numel())));
    parameters_[i].set_grad(grad);
  }
  sum_started_ = false;
  exchanged_ = false;
  has_gradient_.assign(parameters_.size(), 0);
}

double DataParallel::global_grad_norm() {
  Stopwatch stopwatch(counters_.seconds);
  // Each owner sends, per parameter, whether it has a gradient and its sum of squares.
  std::vector<double> owned_sums;
  for (std::size_t i = first_owned(); i < last_owned(); ++i) {
    const Tensor grad = parameters_[i].grad();
    owned_sums.push_back(grad.defined() ? 1.0 : 0.0);
    owned_sums.push_back(grad.defined() ? optim::grad_sum_of_squares(grad) : 0.0);
  }
  std::vector<std::int64_t> counts;  // two doubles per parameter of each shard
  for (std::size_t rank = 0; rank < static_cast<std::size_t>(size()); ++rank) {
    const std::size_t owned = first_owned_[rank + 1] - first_owned_[rank];
    counts.push_back(static_cast<std::int64_t>(2 * owned * sizeof(double)));
  }
  std::vector<double> sums(2 * parameters_.size());
  communicator_.all_gather(std::as_bytes(std::span<const double>(owned_sums)),
                           std::as_writable_bytes(std::span<double>(sums)), counts);
  double sum = 0.0;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    if (sums[2 * i] != 0.0) sum += sums[2 * i + 1];
  }
  return std::sqrt(sum);
}

// Parameters [first, last) laid end to end from `flat`, which holds parameter `first` first.
void DataParallel::copy_parameters_to(std::size_t first, std::size_t last, float* flat) const {
  for (std::size_t i = first; i < last; ++i) {
    std::memcpy(flat + (element_offsets_[i] - element_offsets_[first]), parameters_[i].data<float>(),
                static_cast<std::size_t>(bytes_of(parameters_[i].numel())));
  }
}

void DataParallel::copy_parameters_from(std::size_t first, std::size_t last, const float* flat) {
  for (std::size_t i = first; i < last; ++i) {
    std::memcpy(parameters_[i].data<float>(), flat + (element_offsets_[i] - element_offsets_[first]),
                static_cast<std::size_t>(bytes_of(parameters_[i].numel())));
  }
}

void DataParallel::all_gather_parameters() {
  if (size() == 1) return;
  Stopwatch stopwatch(counters_.seconds);
  std::vector<float> owned(static_cast<std::size_t>(owned_elements()));
  copy_parameters_to(first_owned(), last_owned(), owned.data());
  std::vector<float> whole(static_cast<std::size_t>(total_elements()));
  communicator_.all_gather(std::as_bytes(std::span<const float>(owned)),
                           std::as_writable_bytes(std::span<float>(whole)), shard_bytes());
  counters_.bytes_sent += bytes_of(owned_elements()) * (size() - 1);
  // This rank's own shard arrives back unchanged; the others replace what it held.
  copy_parameters_from(0, first_owned(), whole.data());
  copy_parameters_from(last_owned(), parameters_.size(), whole.data() + element_offsets_[last_owned()]);
}

void DataParallel::broadcast_parameters() {
  if (size() == 1) return;
  std::vector<float> whole(static_cast<std::size_t>(total_elements()));
  copy_parameters_to(0, parameters_.size(), whole.data());
  communicator_.broadcast(std::as_writable_bytes(std::span<float>(whole)), 0);
  copy_parameters_from(0, parameters_.size(), whole.data());
}

std::int64_t DataParallel::shard_elements(std::size_t rank) const {
  return element_offsets_[first_owned_[rank + 1]] - element_offsets_[first_owned_[rank]];
}

std::vector<std::int64_t> DataParallel::shard_bytes() const {
  std::vector<std::int64_t> bytes;
  for (std::size_t rank = 0; rank + 1 < first_owned_.size(); ++rank) {
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
  // Each shard is renamed to whole-model indices and sent as one safetensors blob.
  io::TensorMap renamed;
  for (const auto& [key, tensor] : shard_state) {
    std::size_t index = 0;
    std::string field;
    renamed[split_parameter_key(key, index, field) ? parameter_key(index + first_owned(), field) : key] =
        tensor;
  }
  const std::vector<std::string> blobs =
      dist::gather_strings(communicator_, io::serialize_safetensors(renamed), 0);
  std::map<std::string, Tensor> whole;
  for (const std::string& blob : blobs) {
    io::SafetensorsData data = io::parse_safetensors(
        reinterpret_cast<const std::uint8_t*>(blob.data()), blob.size(), "optimizer shard");
    for (auto& [key, tensor] : data.tensors) whole.emplace(key, tensor);  // rank 0's scalars win
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
    } else if (index >= first_owned() && index < last_owned()) {
      shard[parameter_key(index - first_owned(), field)] = tensor;
    }
  }
  return shard;
}

}  // namespace attn::train
