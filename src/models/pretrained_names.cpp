// Checkpoint names -> attn names, through an architecture's table (pretrained_internal.h).
#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include "attn/core/error.h"
#include "attn/ops/views.h"
#include "pretrained_internal.h"

namespace attn::models::pretrained {
namespace {

constexpr std::string_view kLayerIndex = "{i}";
constexpr std::size_t kNamesShown = 8;  // names listed in one message before "and N more"

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// The layer index when `name` matches `pattern` ("a.{i}.b"), -1 for a match of a pattern
// without "{i}", nothing when it does not match.
std::optional<std::int64_t> match(std::string_view pattern, std::string_view name) {
  const std::size_t hole = pattern.find(kLayerIndex);
  if (hole == std::string_view::npos) {
    return pattern == name ? std::optional<std::int64_t>(-1) : std::nullopt;
  }
  const std::string_view before = pattern.substr(0, hole);
  const std::string_view after = pattern.substr(hole + kLayerIndex.size());
  if (name.size() <= before.size() + after.size() || !starts_with(name, before) ||
      !ends_with(name, after)) {
    return std::nullopt;
  }
  const std::string_view digits = name.substr(before.size(), name.size() - before.size() - after.size());
  if (digits.size() > 9 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  std::int64_t index = 0;
  for (char c : digits) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    index = index * 10 + (c - '0');
  }
  return index;
}

std::string with_index(std::string_view pattern, std::int64_t index) {
  std::string text(pattern);
  const std::size_t hole = text.find(kLayerIndex);
  if (hole != std::string::npos) text.replace(hole, kLayerIndex.size(), std::to_string(index));
  return text;
}

std::string listed(const std::vector<std::string>& names) {
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < kNamesShown; ++i) {
    text += (i == 0 ? "'" : ", '") + names[i] + "'";
  }
  if (names.size() > kNamesShown) text += " and " + std::to_string(names.size() - kNamesShown) + " more";
  return text;
}

// The checkpoint name stripped of an optional prefix, with legacy suffixes renamed.
std::string canonical(const std::string& name, const NameTable& table) {
  std::string_view view = name;
  for (std::string_view prefix : table.optional_prefixes) {
    if (starts_with(view, prefix)) {
      view.remove_prefix(prefix.size());
      break;
    }
  }
  std::string result(view);
  for (const auto& [old_suffix, new_suffix] : table.legacy_suffixes) {
    if (ends_with(result, old_suffix)) {
      result.replace(result.size() - old_suffix.size(), old_suffix.size(), new_suffix);
      break;
    }
  }
  return result;
}

bool is_ignored(const std::string& name, const NameTable& table) {
  for (std::string_view ignored : table.ignored) {
    const bool is_prefix = ignored.back() == '.';
    if (is_prefix ? starts_with(name, ignored) : name == ignored) return true;
  }
  return false;
}

// An attn tensor's pieces as found in the checkpoint: one per part.
struct Pieces {
  std::vector<std::string> names;  // checkpoint names, by part ("" while missing)
  std::vector<Tensor> tensors;
};

struct Mapped {
  std::map<std::string, Pieces> by_attn_name;
  std::vector<std::string> unused;
};

Mapped map_names(const io::TensorMap& checkpoint, const NameTable& table,
                 const std::string& source) {
  Mapped mapped;
  for (const auto& [name, tensor] : checkpoint) {
    const std::string key = canonical(name, table);
    if (is_ignored(key, table)) continue;
    const NameRule* found = nullptr;
    std::int64_t index = -1;
    for (const NameRule& rule : table.rules) {
      if (auto matched = match(rule.checkpoint, key)) {
        found = &rule;
        index = *matched;
        break;
      }
    }
    if (found == nullptr) {
      mapped.unused.push_back(name);
      continue;
    }
    Pieces& pieces = mapped.by_attn_name[with_index(found->attn, index)];
    pieces.names.resize(std::size_t(found->parts));
    pieces.tensors.resize(std::size_t(found->parts));
    std::string& slot = pieces.names[std::size_t(found->part)];
    ATTN_CHECK(slot.empty(), source, ": tensors '", slot, "' and '", name,
               "' are the same tensor under two names");
    slot = name;
    pieces.tensors[std::size_t(found->part)] = tensor;
  }
  return mapped;
}

// The checkpoint names that would fill attn tensor `attn_name`.
std::vector<std::string> expected_names(const std::string& attn_name, const NameTable& table) {
  std::vector<std::string> names;
  for (const NameRule& rule : table.rules) {
    if (auto index = match(rule.attn, attn_name)) names.push_back(with_index(rule.checkpoint, *index));
  }
  return names;
}

// The pieces stacked along the first dimension, in the module's dtype, checked against it.
Tensor assemble(const std::string& attn_name, const Pieces& pieces, const Tensor& target,
                const std::string& source) {
  Shape part_shape = target.shape();
  const auto parts = std::int64_t(pieces.tensors.size());
  ATTN_CHECK(!part_shape.empty() && part_shape[0] % parts == 0, source, ": cannot split '",
             attn_name, "' ", to_string(target.shape()), " into ", parts, " parts");
  part_shape[0] /= parts;
  std::vector<Tensor> converted;
  for (std::size_t part = 0; part < pieces.tensors.size(); ++part) {
    const Tensor& tensor = pieces.tensors[part];
    ATTN_CHECK(is_floating(tensor.dtype()), source, ": tensor '", pieces.names[part], "' is ",
               dtype_name(tensor.dtype()), "; expected a floating-point tensor");
    ATTN_CHECK(tensor.shape() == part_shape, source, ": tensor '", pieces.names[part],
               "' has shape ", to_string(tensor.shape()), "; the model's config needs ",
               to_string(part_shape));
    converted.push_back(tensor.to(target.dtype()));
  }
  return parts == 1 ? converted.front() : ops::cat(converted, 0).contiguous();
}

}  // namespace

void load_checkpoint(nn::Module& module, const io::TensorMap& checkpoint, const NameTable& table,
                     const std::string& source) {
  Mapped mapped = map_names(checkpoint, table, source);
  ATTN_CHECK(mapped.unused.empty(), source, ": unexpected tensor(s) ", listed(mapped.unused),
             " (not part of the model this config describes)");
  const std::map<std::string, Tensor> target = module.state_dict();
  std::vector<std::string> missing, beyond_config;
  std::map<std::string, Tensor> state;
  for (const auto& [attn_name, tensor] : target) {
    auto found = mapped.by_attn_name.find(attn_name);
    std::vector<std::string> wanted = expected_names(attn_name, table);
    if (found == mapped.by_attn_name.end()) {
      missing.insert(missing.end(), wanted.begin(), wanted.end());
      continue;
    }
    const Pieces& pieces = found->second;
    for (std::size_t part = 0; part < pieces.names.size(); ++part) {
      if (pieces.names[part].empty() && part < wanted.size()) missing.push_back(wanted[part]);
    }
    if (std::find(pieces.names.begin(), pieces.names.end(), "") == pieces.names.end()) {
      state[attn_name] = assemble(attn_name, pieces, tensor, source);
    }
  }
  for (const auto& [attn_name, pieces] : mapped.by_attn_name) {
    if (target.count(attn_name) == 0) {
      for (const std::string& name : pieces.names) {
        if (!name.empty()) beyond_config.push_back(name);
      }
    }
  }
  ATTN_CHECK(missing.empty(), source, ": missing tensor(s) ", listed(missing));
  ATTN_CHECK(beyond_config.empty(), source, ": tensor(s) ", listed(beyond_config),
             " belong to layers the config does not have");
  module.load_state_dict(state, /*strict=*/true);
}

}  // namespace attn::models::pretrained
