// The progress display of training: on a terminal, one line redrawn in place with a
// carriage return; elsewhere (a file, a pipe), a plain line at every log step.
//
//   step 1200/5000 [######------------] 24% | ep 2 | loss 3.412 | 5.2k tok/s | lr 7.0e-04 | 03:10 |
//   ETA 10:02
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace attn::train {

enum class ProgressMode { Bar, Lines, None };

// "bar", "lines", "none", or "auto": a bar when `out` is std::cerr or std::cout and that
// stream is a terminal, lines otherwise.
ProgressMode resolve_progress_mode(const std::string& setting, const std::ostream& out);

struct ProgressSnapshot {
  std::int64_t step = 0;
  std::int64_t total_steps = 0;  // 0 when unknown (no step or epoch limit)
  std::int64_t epoch = 0;        // 0-based; shown 1-based
  double loss = 0.0;             // smoothed
  double tokens_per_second = 0.0;
  double learning_rate = 0.0;
  double elapsed_seconds = 0.0;
  double eta_seconds = -1.0;  // negative when unknown
  std::string unit = "tok";
};

// "42s", "03:25", "1:02:03".
std::string format_duration(double seconds);
// "5.2k", "980", "1.3M".
std::string format_count(double count);
// The status line; with bar_width > 0 and a known total, a bar of that many characters.
std::string format_progress(const ProgressSnapshot& snapshot, int bar_width);

class ProgressDisplay {
 public:
  ProgressDisplay(std::ostream& out, ProgressMode mode) : out_(&out), mode_(mode) {}

  // Bar: redraws the line, at most about five times a second (and always when forced).
  // Lines: prints a line when `is_log_step`.
  void update(const ProgressSnapshot& snapshot, bool is_log_step, bool force = false);
  // Prints a line of its own (a validation result), keeping the bar below it.
  void message(const std::string& line);
  // Ends the bar's line.
  void finish();

  ProgressMode mode() const { return mode_; }

 private:
  void clear_bar();

  std::ostream* out_;
  ProgressMode mode_;
  bool bar_drawn_ = false;
  std::string last_bar_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace attn::train
