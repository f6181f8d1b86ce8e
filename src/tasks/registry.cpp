#include "attn/tasks/registry.h"

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>

#include "attn/core/error.h"
#include "attn/tasks/classification.h"
#include "attn/tasks/language_modeling.h"
#include "attn/tasks/translation.h"

namespace attn::tasks {

std::vector<std::string> task_kinds() { return {"translation", "classification", "language_model"}; }

namespace {

void check_kind(const std::string& kind, const std::string& source) {
  const std::vector<std::string> kinds = task_kinds();
  if (std::find(kinds.begin(), kinds.end(), kind) != kinds.end()) return;
  std::string known;
  for (const std::string& name : kinds) known += (known.empty() ? "" : ", ") + name;
  ATTN_CHECK(false, source, ": unknown task.kind '", kind, "' (known: ", known, ")");
}

}  // namespace

std::string task_kind_of(const std::string& config_path, const std::vector<std::string>& overrides) {
  for (auto it = overrides.rbegin(); it != overrides.rend(); ++it) {
    if (it->rfind("task.kind=", 0) == 0) {
      std::string kind = it->substr(10);
      if (kind.size() >= 2 && kind.front() == '"' && kind.back() == '"') kind = kind.substr(1, kind.size() - 2);
      check_kind(kind, "override '" + *it + "'");
      return kind;
    }
  }
  ATTN_CHECK(std::filesystem::exists(config_path), "config file '", config_path, "' does not exist");
  toml::table table;
  try {
    table = toml::parse_file(config_path);
  } catch (const toml::parse_error& error) {
    const auto& where = error.source().begin;
    ATTN_CHECK(false, config_path, ":", where.line, ":", where.column, ": invalid TOML: ",
               error.description());
  }
  const auto* kind = table["task"]["kind"].as_string();
  if (kind == nullptr) return "translation";
  check_kind(kind->get(), config_path);
  return kind->get();
}

train::Schema task_schema(const std::string& kind) {
  check_kind(kind, "task_schema");
  if (kind == "classification") return classification_schema();
  if (kind == "language_model") return language_model_schema();
  return translation_schema();
}

std::unique_ptr<train::Task> make_task(const std::string& kind, const train::Config& config,
                                       bool resume, std::ostream& log) {
  check_kind(kind, "make_task");
  if (kind == "classification") return std::make_unique<ClassificationTask>(config, resume, log);
  if (kind == "language_model") return std::make_unique<LanguageModelTask>(config, resume, log);
  return std::make_unique<TranslationTask>(config, resume, log);
}

}  // namespace attn::tasks
