#include "attn/train/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "attn/core/error.h"

namespace attn::train {
namespace {

constexpr int kBarWidth = 20;
// Redraws of the bar are at least this far apart, so that a fast loop does not spend its
// time writing to the terminal.
constexpr std::chrono::milliseconds kRedrawInterval{200};

std::string printf_string(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, value);
  return buffer;
}

std::string bar(std::int64_t step, std::int64_t total, int width) {
  double fraction = std::clamp(static_cast<double>(step) / static_cast<double>(total), 0.0, 1.0);
  int filled = static_cast<int>(fraction * width);
  std::ostringstream text;
  text << "[" << std::string(filled, '#') << std::string(width - filled, '-') << "] "
       << static_cast<int>(fraction * 100) << "%";
  return text.str();
}

bool is_terminal_stream(const std::ostream& out) {
  if (&out == &std::cerr || &out == &std::clog) return ::isatty(STDERR_FILENO) == 1;
  if (&out == &std::cout) return ::isatty(STDOUT_FILENO) == 1;
  return false;
}

}  // namespace

ProgressMode resolve_progress_mode(const std::string& setting, const std::ostream& out) {
  if (setting == "bar") return ProgressMode::Bar;
  if (setting == "lines") return ProgressMode::Lines;
  if (setting == "none") return ProgressMode::None;
  ATTN_CHECK(setting == "auto", "train: progress must be auto, bar, lines or none; got '", setting,
             "'");
  return is_terminal_stream(out) ? ProgressMode::Bar : ProgressMode::Lines;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto total = static_cast<long long>(std::llround(seconds));
  if (total < 60) return std::to_string(total) + "s";
  char buffer[32];
  long long hours = total / 3600;
  long long minutes = (total / 60) % 60;
  long long rest = total % 60;
  if (hours > 0) {
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld:%02lld", hours, minutes, rest);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%02lld:%02lld", minutes, rest);
  }
  return buffer;
}

std::string format_count(double count) {
  if (!std::isfinite(count)) return "?";
  if (count >= 1e6) return printf_string("%.1fM", count / 1e6);
  if (count >= 1e4) return printf_string("%.0fk", count / 1e3);
  if (count >= 1e3) return printf_string("%.1fk", count / 1e3);
  return printf_string("%.0f", count);
}

std::string format_progress(const ProgressSnapshot& snapshot, int bar_width) {
  std::ostringstream line;
  line << "step " << snapshot.step;
  if (snapshot.total_steps > 0) {
    line << "/" << snapshot.total_steps;
    if (bar_width > 0) line << " " << bar(snapshot.step, snapshot.total_steps, bar_width);
  }
  line << " | ep " << snapshot.epoch + 1 << " | loss " << printf_string("%.4f", snapshot.loss)
       << " | " << format_count(snapshot.tokens_per_second) << " " << snapshot.unit << "/s"
       << " | lr " << printf_string("%.2e", snapshot.learning_rate) << " | "
       << format_duration(snapshot.elapsed_seconds);
  if (snapshot.eta_seconds >= 0) line << " | ETA " << format_duration(snapshot.eta_seconds);
  return line.str();
}

void ProgressDisplay::update(const ProgressSnapshot& snapshot, bool is_log_step, bool force) {
  if (mode_ == ProgressMode::Lines && (is_log_step || force)) {
    *out_ << format_progress(snapshot, 0) << std::endl;
  }
  if (mode_ != ProgressMode::Bar) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && bar_drawn_ && now - last_draw_ < kRedrawInterval) return;
  std::string line = format_progress(snapshot, kBarWidth);
  // Pad with spaces over whatever a longer previous line left on screen.
  std::string padding(last_bar_.size() > line.size() ? last_bar_.size() - line.size() : 0, ' ');
  *out_ << '\r' << line << padding << std::flush;
  last_bar_ = line;
  bar_drawn_ = true;
  last_draw_ = now;
}

void ProgressDisplay::message(const std::string& line) {
  if (mode_ == ProgressMode::None) return;
  clear_bar();
  *out_ << line << std::endl;
}

void ProgressDisplay::finish() {
  if (mode_ == ProgressMode::Bar && bar_drawn_) *out_ << std::endl;
  bar_drawn_ = false;
  last_bar_.clear();
}

void ProgressDisplay::clear_bar() {
  if (mode_ != ProgressMode::Bar || !bar_drawn_) return;
  *out_ << '\r' << std::string(last_bar_.size(), ' ') << '\r';
  bar_drawn_ = false;  // redrawn by the next update
  last_bar_.clear();
}

}  // namespace attn::train
