// Values and the schema of known configuration keys.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "attn/core/error.h"
#include "attn/train/config.h"

namespace attn::train {
namespace {

bool is_key_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Dotted parts of bare TOML keys, so that every key can be written without quoting.
bool is_valid_key(std::string_view key) {
  if (key.empty() || key.front() == '.' || key.back() == '.') return false;
  char previous = 0;
  for (char c : key) {
    if (c == '.' && previous == '.') return false;
    if (c != '.' && !is_key_character(c)) return false;
    previous = c;
  }
  return true;
}

std::string format_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  ATTN_ASSERT(error == std::errc());
  std::string text(buffer, end);
  // TOML tells floats from integers by a fraction or an exponent.
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string format_string(const std::string& value) {
  std::string text = "\"";
  for (char c : value) {
    switch (c) {
      case '"':
        text += "\\\"";
        break;
      case '\\':
        text += "\\\\";
        break;
      case '\n':
        text += "\\n";
        break;
      case '\t':
        text += "\\t";
        break;
      case '\r':
        text += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char escape[8];
          std::snprintf(escape, sizeof(escape), "\\u%04x", static_cast<unsigned char>(c));
          text += escape;
        } else {
          text += c;
        }
    }
  }
  return text + "\"";
}

template <typename T, typename Format>
std::string format_array(const std::vector<T>& values, Format format) {
  std::string text = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ", ";
    text += format(values[i]);
  }
  return text + "]";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> previous(b.size() + 1);
  std::vector<std::size_t> current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::string_view last_part(std::string_view key) {
  std::size_t dot = key.rfind('.');
  return dot == std::string_view::npos ? key : key.substr(dot + 1);
}

// Distance of a typed key to a known one. A key typed without its section ("learning_rate")
// is compared with the known key's last part, one edit away from an exact match.
std::size_t key_distance(std::string_view typed, std::string_view known) {
  std::size_t distance = edit_distance(typed, known);
  if (typed.find('.') == std::string_view::npos) {
    distance = std::min(distance, edit_distance(typed, last_part(known)) + 1);
  }
  return distance;
}

void check_choices(const KeySpec& spec) {
  if (spec.choices.empty()) return;
  ATTN_CHECK(type_of(spec.default_value) == ValueType::String, "config schema: key '", spec.key,
             "' has choices but is not a string key");
  const auto& value = std::get<std::string>(spec.default_value);
  ATTN_CHECK(std::find(spec.choices.begin(), spec.choices.end(), value) != spec.choices.end(),
             "config schema: the default '", value, "' of key '", spec.key,
             "' is not one of its choices");
}

// TOML cannot hold both "a.b = 1" and "a.b.c = 2": "a.b" would be a value and a table.
void check_not_nested(const std::vector<KeySpec>& specs, const std::string& key) {
  for (const KeySpec& other : specs) {
    bool key_inside = key.size() > other.key.size() && key.starts_with(other.key + ".");
    bool other_inside = other.key.size() > key.size() && other.key.starts_with(key + ".");
    ATTN_CHECK(!key_inside && !other_inside, "config schema: key '", key, "' and key '", other.key,
               "' cannot both exist (one would be a section of the other)");
  }
}

}  // namespace

ValueType type_of(const Value& value) { return static_cast<ValueType>(value.index()); }

std::string_view type_name(ValueType type) {
  switch (type) {
    case ValueType::Bool:
      return "boolean";
    case ValueType::Integer:
      return "integer";
    case ValueType::Float:
      return "float";
    case ValueType::String:
      return "string";
    case ValueType::IntegerArray:
      return "array of integers";
    case ValueType::FloatArray:
      return "array of floats";
    case ValueType::StringArray:
      return "array of strings";
  }
  return "unknown";
}

std::string format_value(const Value& value) {
  auto integer = [](std::int64_t v) { return std::to_string(v); };
  switch (type_of(value)) {
    case ValueType::Bool:
      return std::get<bool>(value) ? "true" : "false";
    case ValueType::Integer:
      return integer(std::get<std::int64_t>(value));
    case ValueType::Float:
      return format_float(std::get<double>(value));
    case ValueType::String:
      return format_string(std::get<std::string>(value));
    case ValueType::IntegerArray:
      return format_array(std::get<4>(value), integer);
    case ValueType::FloatArray:
      return format_array(std::get<5>(value), format_float);
    case ValueType::StringArray:
      return format_array(std::get<6>(value), format_string);
  }
  return "";
}

SchemaSection& SchemaSection::add(const std::string& name, DefaultValue default_value,
                                  std::string help, std::vector<std::string> choices) {
  schema_->add(prefix_ + "." + name, std::move(default_value), std::move(help), std::move(choices));
  return *this;
}

Schema& Schema::add(KeySpec spec) {
  ATTN_CHECK(is_valid_key(spec.key), "config schema: invalid key '", spec.key,
             "' (expected dotted parts of letters, digits, '_' or '-')");
  ATTN_CHECK(!contains(spec.key), "config schema: key '", spec.key, "' is declared twice");
  check_not_nested(specs_, spec.key);
  check_choices(spec);
  std::replace(spec.help.begin(), spec.help.end(), '\n', ' ');
  index_.emplace(spec.key, specs_.size());
  specs_.push_back(std::move(spec));
  return *this;
}

Schema& Schema::add(const std::string& key, DefaultValue default_value, std::string help,
                    std::vector<std::string> choices) {
  return add(KeySpec{key, std::move(default_value.value), std::move(help), std::move(choices)});
}

Schema& Schema::merge(const Schema& other) {
  for (const KeySpec& spec : other.specs_) add(spec);
  return *this;
}

bool Schema::contains(std::string_view key) const { return index_.find(key) != index_.end(); }

const KeySpec& Schema::spec(std::string_view key) const {
  auto found = index_.find(key);
  ATTN_CHECK(found != index_.end(), "config: unknown key '", key, "'; did you mean '",
             closest_key(key), "'?");
  return specs_[found->second];
}

bool Schema::has_section(std::string_view section) const {
  std::string prefix = std::string(section) + ".";
  return std::any_of(specs_.begin(), specs_.end(),
                     [&](const KeySpec& spec) { return spec.key.starts_with(prefix); });
}

std::string Schema::closest_key(std::string_view key) const {
  std::string best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (const KeySpec& spec : specs_) {
    std::size_t distance = key_distance(key, spec.key);
    if (distance < best_distance) {
      best_distance = distance;
      best = spec.key;
    }
  }
  return best;
}

std::string Schema::help() const {
  std::size_t key_width = 0;
  for (const KeySpec& spec : specs_) key_width = std::max(key_width, spec.key.size());
  std::ostringstream out;
  for (const KeySpec& spec : specs_) {
    out << spec.key << std::string(key_width + 2 - spec.key.size(), ' ')
        << type_name(type_of(spec.default_value)) << " = " << format_value(spec.default_value)
        << "  " << spec.help;
    if (!spec.choices.empty()) {
      out << " (one of";
      for (const std::string& choice : spec.choices) out << " " << choice;
      out << ")";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace attn::train
