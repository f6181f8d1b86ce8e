#include "attn/train/metrics_log.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attn/core/error.h"
#include "attn/io/atomic_file.h"

namespace attn::train {
namespace {

// Keys stay in the order written, so a record reads type, step, ... left to right.
using Json = nlohmann::ordered_json;

Json number(double value) { return std::isfinite(value) ? Json(value) : Json(); }

bool is_kept(const std::string& line, std::int64_t step) {
  Json record = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!record.is_object() || !record.contains("step")) return false;
  const Json& record_step = record["step"];
  return record_step.is_number_integer() && record_step.get<std::int64_t>() <= step;
}

}  // namespace

MetricsLog::MetricsLog(const std::string& path) : path_(path), out_(path, std::ios::app) {
  ATTN_CHECK(out_.is_open(), "train: cannot open the metrics log '", path, "' for appending");
}

void MetricsLog::write(const TrainRecord& record) {
  Json json = {{"type", "train"},
               {"step", record.step},
               {"epoch", record.epoch},
               {"loss", number(record.loss)},
               {"learning_rate", number(record.learning_rate)},
               {"tokens_per_second", number(record.tokens_per_second)},
               {"tokens", record.tokens},
               {"grad_norm", number(record.grad_norm)},
               {"elapsed_seconds", number(record.elapsed_seconds)}};
  if (record.communication_seconds) json["communication_seconds"] = number(*record.communication_seconds);
  if (record.bytes_sent) json["bytes_sent"] = number(*record.bytes_sent);
  if (record.optimizer_state_bytes) json["optimizer_state_bytes"] = number(*record.optimizer_state_bytes);
  write_line(json.dump());
}

void MetricsLog::write(const ValidationRecord& record) {
  Json validation = {{"loss", number(record.result.loss)}};
  for (const auto& [name, value] : record.result.metrics) validation[name] = number(value);
  Json json = {{"type", "validation"},     {"step", record.step},
               {"epoch", record.epoch},    {"elapsed_seconds", number(record.elapsed_seconds)},
               {"validation", validation}, {"score", number(record.score)},
               {"is_best", record.is_best}};
  write_line(json.dump());
}

void MetricsLog::write_event(const std::string& type, std::int64_t step, double elapsed_seconds,
                             const std::map<std::string, std::string>& fields) {
  Json json = {{"type", type}, {"step", step}, {"elapsed_seconds", number(elapsed_seconds)}};
  for (const auto& [name, value] : fields) {
    json[name] = name == "resumed" ? Json(value == "true") : Json(value);
  }
  write_line(json.dump());
}

void MetricsLog::write_line(const std::string& line) {
  out_ << line << '\n';
  out_.flush();
  ATTN_CHECK(out_.good(), "train: writing the metrics log '", path_, "' failed");
}

void MetricsLog::truncate_after(const std::string& path, std::int64_t step) {
  if (!std::filesystem::exists(path)) return;
  std::ifstream in(path);
  ATTN_CHECK(in.good(), "train: cannot read the metrics log '", path, "'");
  std::ostringstream kept;
  std::string line;
  // A record cut short by a crash does not parse and goes too.
  while (std::getline(in, line)) {
    if (is_kept(line, step)) kept << line << '\n';
  }
  io::write_file_atomic(path, kept.str());
}

}  // namespace attn::train
