// The metrics log of a run: JSON lines, one record per line, appended and flushed as
// training goes. Every record has "type", "step" (updates done) and "elapsed_seconds":
//
//   {"type":"start","step":0,"elapsed_seconds":0.0,"resumed":false}
//   {"type":"train","step":50,"epoch":0,"loss":4.21,"learning_rate":0.001,
//    "tokens_per_second":5230.0,"tokens":64000,"grad_norm":1.7,"elapsed_seconds":12.2}
//   (with several processes also "communication_seconds" and "bytes_sent" per step)
//   {"type":"validation","step":500,"epoch":1,"elapsed_seconds":130.0,
//    "validation":{"loss":3.1,"accuracy":0.42},"score":3.1,"is_best":true}
//   {"type":"end","step":1000,"elapsed_seconds":260.0,"reason":"max_steps"}
//   {"type":"error","step":731,"elapsed_seconds":190.0,"message":"..."}
//
// "loss" of a training record is the mean over the steps since the previous one, weighted
// by each step's num_tokens. Non-finite numbers are written as null. docs/TRAINING.md lists
// every field.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "attn/train/task.h"

namespace attn::train {

struct TrainRecord {
  std::int64_t step = 0;
  std::int64_t epoch = 0;  // 0-based epoch of the last step
  double loss = 0.0;
  double learning_rate = 0.0;
  double tokens_per_second = 0.0;
  std::int64_t tokens = 0;  // units trained on so far
  double grad_norm = 0.0;   // mean over the window, before clipping
  double elapsed_seconds = 0.0;
  // Several processes (rank 0's figures, means per step over the window): time in gradient
  // and parameter exchanges, and the payload it sent. Written only when set.
  std::optional<double> communication_seconds;
  std::optional<double> bytes_sent;
  // Micro-batches (several processes, or accumulate_steps > 1): the largest optimizer
  // state any rank holds, in bytes (it falls as 1 / processes).
  std::optional<double> optimizer_state_bytes;
};

struct ValidationRecord {
  std::int64_t step = 0;
  std::int64_t epoch = 0;
  double elapsed_seconds = 0.0;
  ValidationResult result;
  double score = 0.0;  // the metric that selects the best checkpoint
  bool is_best = false;
};

class MetricsLog {
 public:
  // Opens `path` for appending (creating it); throws attn::Error when it cannot.
  explicit MetricsLog(const std::string& path);

  void write(const TrainRecord& record);
  void write(const ValidationRecord& record);
  // {"type": type, "step": step, "elapsed_seconds": elapsed, <fields as strings>}; a field
  // named "resumed" with value "true"/"false" is written as a JSON boolean.
  void write_event(const std::string& type, std::int64_t step, double elapsed_seconds,
                   const std::map<std::string, std::string>& fields = {});

  // Rewrites the log at `path` (atomically) keeping the complete records whose step is at
  // most `step`: what a run resumed from that step has logged. A missing file is fine.
  static void truncate_after(const std::string& path, std::int64_t step);

 private:
  void write_line(const std::string& line);

  std::string path_;
  std::ofstream out_;
};

}  // namespace attn::train
