// BatchQueue: where the requests for one model wait for a run, and how waiting requests are
// decoded together (dynamic batching, as inference servers and CTranslate2's translator
// pool do). For service.cpp and handlers.cpp.
//
//   BatchQueue queue(limits, runs);
//   MyJob job(...);                  // a BatchJob with the request's input and settings
//   queue.submit(job);               // returns once job has run, alone or in a batch
//
// There is no scheduler thread: the request threads take turns. While no batch of this model
// runs, a waiting thread takes the oldest request and the later ones that may share its
// batch (equal batch_key(), up to Limits::max_batch), runs them, and wakes the others; a
// thread whose request ran returns at once, and the next waiting thread runs the next batch.
// So a lone request runs the moment it arrives, and under load each run takes every request
// that arrived while the previous one ran.
//
// Back pressure: more than Limits::queue_size requests waiting for this model is a 503 at
// once; a request that waited Limits::queue_wait_ms without its batch starting is taken out
// and answered 504. A batch holds one of the Service's run slots (Limits::max_concurrent over
// all models) while it runs.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include "attn/serve/service.h"

namespace attn::serve {

class BatchJob {
 public:
  virtual ~BatchJob() = default;
  // Jobs with equal keys may run in one batch (the model and every decoding setting that
  // changes the result; empty: this job runs alone).
  virtual std::string batch_key() const = 0;
  // Runs `batch` (this job first, all with this job's key) and stores each job's result in
  // it. An exception fails the batch; its jobs then run again one by one, so that one bad
  // request cannot fail the others.
  virtual void run_batch(const std::vector<BatchJob*>& batch) = 0;

 private:
  friend class BatchQueue;
  bool done_ = false;
  std::exception_ptr error_;
};

class BatchQueue {
 public:
  // The model's lock is held while a batch runs (models.h).
  BatchQueue(const ServedModel& model, const Limits& limits, ConcurrencyLimit& runs);

  // Waits until `job` has run and returns; rethrows the job's error. Throws HttpError 503
  // when the queue is full and 504 when the job waited too long.
  void submit(BatchJob& job);

  // Requests waiting now (not those of a running batch).
  std::int64_t waiting() const;
  // Batches run so far, and the requests they held.
  std::int64_t batches_run() const;
  std::int64_t requests_run() const;

 private:
  std::vector<BatchJob*> take_batch();
  void run(const std::vector<BatchJob*>& batch);

  const ServedModel& model_;
  const Limits& limits_;
  ConcurrencyLimit& runs_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<BatchJob*> waiting_;
  bool running_ = false;
  std::int64_t batches_run_ = 0;
  std::int64_t requests_run_ = 0;
};

}  // namespace attn::serve
