#include "batch_queue.h"

#include <algorithm>
#include <chrono>

#include "request_fields.h"

namespace attn::serve {

BatchQueue::BatchQueue(const ServedModel& model, const Limits& limits, ConcurrencyLimit& runs)
    : model_(model), limits_(limits), runs_(runs) {}

std::int64_t BatchQueue::waiting() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return static_cast<std::int64_t>(waiting_.size());
}

std::int64_t BatchQueue::batches_run() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return batches_run_;
}

std::int64_t BatchQueue::requests_run() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return requests_run_;
}

void BatchQueue::submit(BatchJob& job) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (static_cast<std::int64_t>(waiting_.size()) >= limits_.queue_size) {
    throw HttpError(503, "the server is busy: " + std::to_string(waiting_.size()) +
                             " requests are waiting for model " + model_.name() +
                             " (its queue holds " + std::to_string(limits_.queue_size) +
                             "); try again shortly");
  }
  waiting_.push_back(&job);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limits_.queue_wait_ms);
  while (!job.done_) {
    if (!running_) {
      // This thread runs the next batch, whether or not its own job is in it.
      running_ = true;
      const std::vector<BatchJob*> batch = take_batch();
      lock.unlock();
      try {
        run(batch);
      } catch (...) {  // no run slot or lock (out of memory): the batch fails, the queue goes on
        for (BatchJob* member : batch) member->error_ = std::current_exception();
      }
      lock.lock();
      for (BatchJob* member : batch) member->done_ = true;
      running_ = false;
      batches_run_ += 1;
      requests_run_ += static_cast<std::int64_t>(batch.size());
      changed_.notify_all();
      continue;
    }
    const auto queued = std::find(waiting_.begin(), waiting_.end(), &job);
    if (queued == waiting_.end()) {
      changed_.wait(lock);  // in the running batch: no time limit any more
    } else if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      const auto still = std::find(waiting_.begin(), waiting_.end(), &job);
      if (still != waiting_.end()) {
        waiting_.erase(still);
        throw HttpError(504, "the request waited " + std::to_string(limits_.queue_wait_ms) +
                                 " ms for model " + model_.name() +
                                 " without its turn coming; the server is overloaded");
      }
    }
  }
  if (job.error_) std::rethrow_exception(job.error_);
}

// The oldest job and, in arrival order, the later ones that share its key.
std::vector<BatchJob*> BatchQueue::take_batch() {
  std::vector<BatchJob*> batch{waiting_.front()};
  waiting_.pop_front();
  const std::string key = batch.front()->batch_key();
  if (key.empty()) return batch;
  for (auto it = waiting_.begin();
       it != waiting_.end() && static_cast<std::int64_t>(batch.size()) < limits_.max_batch;) {
    if ((*it)->batch_key() == key) {
      batch.push_back(*it);
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  return batch;
}

void BatchQueue::run(const std::vector<BatchJob*>& batch) {
  const ConcurrencyLimit::Slot slot = runs_.acquire();
  const auto model_guard = model_.lock();
  try {
    batch.front()->run_batch(batch);
    return;
  } catch (...) {
    if (batch.size() == 1) {
      batch.front()->error_ = std::current_exception();
      return;
    }
  }
  for (BatchJob* job : batch) {
    try {
      job->run_batch({job});
    } catch (...) {
      job->error_ = std::current_exception();
    }
  }
}

}  // namespace attn::serve
