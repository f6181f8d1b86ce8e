// Config: one typed value per schema key; setting, overrides "key=value" and typed reads.
// TOML files are read with toml++ and written by hand, so that floats keep the shortest
// text that reads back exactly.
#include "attn/train/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "attn/core/error.h"
#include "attn/io/atomic_file.h"
#include "attn/text/utf8.h"

namespace attn::train {
namespace {

std::string with_article(std::string_view noun) {
  bool vowel =
      !noun.empty() && std::string_view("aeiou").find(noun.front()) != std::string_view::npos;
  return std::string(vowel ? "an " : "a ") + std::string(noun);
}

Value empty_array(ValueType type) {
  if (type == ValueType::IntegerArray) return std::vector<std::int64_t>{};
  if (type == ValueType::FloatArray) return std::vector<double>{};
  return std::vector<std::string>{};
}

void check_choice(const KeySpec& spec, const std::string& value, const std::string& source) {
  if (std::find(spec.choices.begin(), spec.choices.end(), value) != spec.choices.end()) return;
  std::string allowed;
  for (const std::string& choice : spec.choices) allowed += (allowed.empty() ? "" : ", ") + choice;
  ATTN_CHECK(false, source, ": key '", spec.key, "' must be one of ", allowed, "; found '", value,
             "'");
}

std::optional<Value> parse_toml_value(std::string_view text, ValueType type);

// A TOML document is UTF-8 by definition, so text that is not (from a command-line override)
// is refused here rather than written into a resolved configuration that cannot be read back.
void check_text(std::string_view key, const Value& value, const std::string& source) {
  std::string context = source + ": key '" + std::string(key) + "'";
  if (const auto* text = std::get_if<std::string>(&value)) text::check_utf8(*text, context);
  if (const auto* texts = std::get_if<std::vector<std::string>>(&value)) {
    for (const std::string& element : *texts) text::check_utf8(element, context);
  }
}

std::string_view trim(std::string_view text) {
  const char* spaces = " \t\r\n";
  std::size_t begin = text.find_first_not_of(spaces);
  if (begin == std::string_view::npos) return {};
  std::size_t end = text.find_last_not_of(spaces);
  return text.substr(begin, end - begin + 1);
}

std::string_view unquote(std::string_view text) {
  bool quoted = text.size() >= 2 && (text.front() == '"' || text.front() == '\'') &&
                text.back() == text.front();
  return quoted ? text.substr(1, text.size() - 2) : text;
}

// Parses the whole of `text` as a number, as std::from_chars does (a leading '+' allowed).
template <typename Number>
std::optional<Number> parse_number(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  Number number{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return {};
  return number;
}

std::optional<Value> parse_scalar(std::string_view text, ValueType type) {
  switch (type) {
    case ValueType::Bool:
      if (text == "true") return Value(true);
      if (text == "false") return Value(false);
      return {};
    case ValueType::Integer:
      if (auto number = parse_number<std::int64_t>(text)) return Value(*number);
      return {};
    case ValueType::Float:
      if (auto number = parse_number<double>(text)) return Value(*number);
      return {};
    default:
      return Value(std::string(unquote(text)));
  }
}

ValueType element_type(ValueType array_type) {
  if (array_type == ValueType::IntegerArray) return ValueType::Integer;
  if (array_type == ValueType::FloatArray) return ValueType::Float;
  return ValueType::String;
}

template <typename T>
void append_element(Value& array, const Value& element) {
  std::get<std::vector<T>>(array).push_back(std::get<T>(element));
}

// "1, 2, 3" (no brackets): comma-separated elements of the array's element type.
std::optional<Value> parse_comma_list(std::string_view text, ValueType type) {
  Value array = empty_array(type);
  if (trim(text).empty()) return array;
  while (true) {
    std::size_t comma = text.find(',');
    auto element = parse_scalar(trim(text.substr(0, comma)), element_type(type));
    if (!element) return {};
    if (type == ValueType::IntegerArray) append_element<std::int64_t>(array, *element);
    if (type == ValueType::FloatArray) append_element<double>(array, *element);
    if (type == ValueType::StringArray) append_element<std::string>(array, *element);
    if (comma == std::string_view::npos) return array;
    text.remove_prefix(comma + 1);
  }
}

std::optional<Value> parse_override_value(std::string_view text, ValueType type) {
  bool is_array = type == ValueType::IntegerArray || type == ValueType::FloatArray ||
                  type == ValueType::StringArray;
  if (!is_array) return parse_scalar(text, type);
  if (text.starts_with("[")) return parse_toml_value(text, type);
  return parse_comma_list(text, type);
}

std::string override_source(std::string_view assignment) {
  return "override '" + std::string(assignment) + "'";
}

// Widens integers to floats where the key holds floats; other types pass unchanged.
Value widened(Value value, ValueType expected) {
  if (expected == ValueType::Float && type_of(value) == ValueType::Integer) {
    return static_cast<double>(std::get<std::int64_t>(value));
  }
  if (expected == ValueType::FloatArray && type_of(value) == ValueType::IntegerArray) {
    const auto& integers = std::get<std::vector<std::int64_t>>(value);
    return std::vector<double>(integers.begin(), integers.end());
  }
  return value;
}

nlohmann::json to_json(const Value& value) {
  return std::visit([](const auto& held) { return nlohmann::json(held); }, value);
}

// Puts `value` at the dotted path `key` inside `object`, making nested objects.
void insert_dotted(nlohmann::json& object, std::string_view key, nlohmann::json value) {
  std::size_t dot = key.find('.');
  if (dot == std::string_view::npos) {
    object[std::string(key)] = std::move(value);
    return;
  }
  insert_dotted(object[std::string(key.substr(0, dot))], key.substr(dot + 1), std::move(value));
}

bool is_array_type(ValueType type) {
  return type == ValueType::IntegerArray || type == ValueType::FloatArray ||
         type == ValueType::StringArray;
}

void append_to_array(Value& array, const Value& element) {
  switch (type_of(array)) {
    case ValueType::IntegerArray:
      append_element<std::int64_t>(array, element);
      break;
    case ValueType::FloatArray:
      append_element<double>(array, element);
      break;
    default:
      append_element<std::string>(array, element);
      break;
  }
}

// ---- reading TOML -------------------------------------------------------------------------

std::string_view toml_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    default:
      return "nothing";
  }
}

// The node as a scalar of `type`; nothing when it holds another type. Integers widen to
// floats.
std::optional<Value> scalar_from_node(const toml::node& node, ValueType type) {
  if (type == ValueType::Bool) {
    if (auto held = node.as_boolean()) return Value(held->get());
  } else if (type == ValueType::Integer) {
    if (auto held = node.as_integer()) return Value(held->get());
  } else if (type == ValueType::Float) {
    if (auto held = node.as_floating_point()) return Value(held->get());
    if (auto held = node.as_integer()) return Value(static_cast<double>(held->get()));
  } else if (type == ValueType::String) {
    if (auto held = node.as_string()) return Value(held->get());
  }
  return {};
}

std::optional<Value> value_from_node(const toml::node& node, ValueType type) {
  if (!is_array_type(type)) return scalar_from_node(node, type);
  const toml::array* array = node.as_array();
  if (array == nullptr) return {};
  Value result = empty_array(type);
  for (const toml::node& element : *array) {
    std::optional<Value> scalar = scalar_from_node(element, element_type(type));
    if (!scalar) return {};
    append_to_array(result, *scalar);
  }
  return result;
}

// What the node holds, for an error message: "a string", "an array containing a string".
std::string describe_node(const toml::node& node, ValueType expected) {
  const toml::array* array = node.as_array();
  if (array != nullptr && is_array_type(expected)) {
    for (const toml::node& element : *array) {
      if (!scalar_from_node(element, element_type(expected))) {
        return "an array containing " + with_article(toml_type_name(element));
      }
    }
  }
  return with_article(toml_type_name(node));
}

std::optional<Value> parse_toml_value(std::string_view text, ValueType type) {
  try {
    toml::table table = toml::parse("value = " + std::string(text));
    return value_from_node(*table.get("value"), type);
  } catch (const toml::parse_error&) {
    return {};
  }
}

struct Entry {
  std::string key;
  Value value;
  std::string source;  // "file:line"
};

std::string located(const std::string& source_name, const toml::key& name, const toml::node& node) {
  std::uint32_t line = name.source().begin.line;
  if (line == 0) line = node.source().begin.line;
  return source_name + ":" + std::to_string(line);
}

[[noreturn]] void reject_unknown(const std::string& key, const toml::node& node,
                                 const Schema& schema, const std::string& where) {
  const toml::table* table = node.as_table();
  if (table != nullptr && !table->empty()) {
    std::string first_key = key + "." + std::string(table->begin()->first.str());
    ATTN_CHECK(false, where, ": unknown section '", key, "' (holding '", first_key,
               "'); did you mean '", schema.closest_key(first_key), "'?");
  }
  ATTN_CHECK(false, where, ": unknown key '", key, "'; did you mean '", schema.closest_key(key),
             "'?");
  ATTN_ASSERT(false);
}

Value value_for_key(const toml::node& node, const KeySpec& spec, const std::string& where) {
  ValueType expected = type_of(spec.default_value);
  std::optional<Value> value = value_from_node(node, expected);
  ATTN_CHECK(value.has_value(), where, ": key '", spec.key, "' expects ",
             with_article(type_name(expected)), ", found ", describe_node(node, expected));
  return *value;
}

// Flattens the tables into dotted keys, checking each against the schema.
void collect_entries(const toml::table& table, const std::string& prefix, const Schema& schema,
                     const std::string& source_name, std::vector<Entry>& entries) {
  for (const auto& [name, node] : table) {
    std::string key =
        prefix.empty() ? std::string(name.str()) : prefix + "." + std::string(name.str());
    std::string where = located(source_name, name, node);
    if (schema.contains(key)) {
      entries.push_back({key, value_for_key(node, schema.spec(key), where), where});
    } else if (node.as_table() != nullptr && schema.has_section(key)) {
      collect_entries(*node.as_table(), key, schema, source_name, entries);
    } else {
      reject_unknown(key, node, schema, where);
    }
  }
}

toml::table parse_document(std::string_view text, const std::string& source_name) {
  try {
    return toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    const toml::source_position& begin = error.source().begin;
    ATTN_CHECK(false, source_name, ":", begin.line, ":", begin.column,
               ": invalid TOML: ", error.description());
  }
  ATTN_ASSERT(false);
}

// ---- writing TOML -------------------------------------------------------------------------

std::string table_of(const std::string& key) {
  std::size_t dot = key.rfind('.');
  return dot == std::string::npos ? std::string() : key.substr(0, dot);
}

// Tables in the order their first key was declared; top-level keys (table "") first, since
// TOML puts every key after a [header] into that table.
std::vector<std::pair<std::string, std::vector<const KeySpec*>>> group_by_table(
    const Schema& schema) {
  std::vector<std::pair<std::string, std::vector<const KeySpec*>>> groups{{"", {}}};
  for (const KeySpec& spec : schema.specs()) {
    std::string table = table_of(spec.key);
    auto found = std::find_if(groups.begin(), groups.end(),
                              [&](const auto& group) { return group.first == table; });
    if (found == groups.end()) found = groups.insert(groups.end(), {table, {}});
    found->second.push_back(&spec);
  }
  return groups;
}

}  // namespace

Config::Config(Schema schema) : schema_(std::move(schema)) {
  for (const KeySpec& spec : schema_.specs()) values_.emplace(spec.key, spec.default_value);
}

Config Config::load(const std::string& path, Schema schema) {
  std::error_code error;
  ATTN_CHECK(std::filesystem::exists(path, error), "config: file '", path, "' does not exist");
  ATTN_CHECK(!std::filesystem::is_directory(path, error), "config: '", path,
             "' is a directory, not a TOML file");
  std::ifstream in(path, std::ios::binary);
  ATTN_CHECK(in.good(), "config: cannot open '", path, "' for reading");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), std::move(schema), path);
}

Config Config::parse(std::string_view toml_text, Schema schema, const std::string& source_name) {
  toml::table document = parse_document(toml_text, source_name);
  Config config(std::move(schema));
  std::vector<Entry> entries;
  collect_entries(document, "", config.schema_, source_name, entries);
  for (Entry& entry : entries) config.set_from(entry.key, std::move(entry.value), entry.source);
  return config;
}

std::string Config::to_toml() const {
  std::ostringstream out;
  out << "# attn configuration, resolved: every key with its value, defaults included.\n";
  for (const auto& [table, specs] : group_by_table(schema_)) {
    if (specs.empty()) continue;
    if (!table.empty()) out << "\n[" << table << "]\n";
    for (const KeySpec* spec : specs) {
      if (!spec->help.empty()) out << "# " << spec->help << "\n";
      out << spec->key.substr(table.empty() ? 0 : table.size() + 1) << " = "
          << format_value(values_.find(spec->key)->second) << "\n";
    }
  }
  return out.str();
}

void Config::save(const std::string& path) const { io::write_file_atomic(path, to_toml()); }

void Config::set(std::string_view key, Value value) { set_from(key, std::move(value), "config"); }

void Config::set_from(std::string_view key, Value value, const std::string& source) {
  ATTN_CHECK(schema_.contains(key), source, ": unknown key '", key, "'; did you mean '",
             schema_.closest_key(key), "'?");
  const KeySpec& spec = schema_.spec(key);
  ValueType expected = type_of(spec.default_value);
  value = widened(std::move(value), expected);
  ATTN_CHECK(type_of(value) == expected, source, ": key '", key, "' expects ",
             with_article(type_name(expected)), ", found ",
             with_article(type_name(type_of(value))));
  check_text(key, value, source);
  if (!spec.choices.empty()) check_choice(spec, std::get<std::string>(value), source);
  values_.find(key)->second = std::move(value);
}

void Config::apply_override(std::string_view assignment) {
  std::string source = override_source(assignment);
  std::size_t equals = assignment.find('=');
  std::string_view key = trim(assignment.substr(0, equals));
  ATTN_CHECK(equals != std::string_view::npos && !key.empty(), source,
             ": expected key=value, as in train.learning_rate=0.001");
  ATTN_CHECK(schema_.contains(key), source, ": unknown key '", key, "'; did you mean '",
             schema_.closest_key(key), "'?");
  std::string_view text = trim(assignment.substr(equals + 1));
  ValueType expected = type_of(schema_.spec(key).default_value);
  std::optional<Value> value = parse_override_value(text, expected);
  ATTN_CHECK(value.has_value(), source, ": key '", key, "' expects ",
             with_article(type_name(expected)), ", found '", text, "'");
  set_from(key, std::move(*value), source);
}

void Config::apply_overrides(const std::vector<std::string>& assignments) {
  for (const std::string& assignment : assignments) apply_override(assignment);
}

const Value& Config::value(std::string_view key) const {
  schema_.spec(key);  // throws with a suggestion for an unknown key
  return values_.find(key)->second;
}

std::string Config::section_json(std::string_view section) const {
  std::string prefix = std::string(section) + ".";
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, value] : values_) {
    if (key.starts_with(prefix)) {
      insert_dotted(object, std::string_view(key).substr(prefix.size()), to_json(value));
    }
  }
  return object.dump();
}

namespace {

template <typename T>
const T& held(const Value& value, std::string_view key, std::string_view requested) {
  const T* typed = std::get_if<T>(&value);
  ATTN_CHECK(typed != nullptr, "config: key '", key, "' holds ",
             with_article(type_name(type_of(value))), ", not ", with_article(requested));
  return *typed;
}

}  // namespace

template <>
bool Config::get<bool>(std::string_view key) const {
  return held<bool>(value(key), key, "boolean");
}

template <>
std::int64_t Config::get<std::int64_t>(std::string_view key) const {
  return held<std::int64_t>(value(key), key, "integer");
}

template <>
int Config::get<int>(std::string_view key) const {
  std::int64_t number = get<std::int64_t>(key);
  ATTN_CHECK(number >= std::numeric_limits<int>::min() && number <= std::numeric_limits<int>::max(),
             "config: key '", key, "' = ", number, " does not fit in an int");
  return static_cast<int>(number);
}

template <>
double Config::get<double>(std::string_view key) const {
  const Value& stored = value(key);
  if (type_of(stored) == ValueType::Integer)
    return static_cast<double>(std::get<std::int64_t>(stored));
  return held<double>(stored, key, "float");
}

template <>
std::string Config::get<std::string>(std::string_view key) const {
  return held<std::string>(value(key), key, "string");
}

template <>
std::vector<std::int64_t> Config::get<std::vector<std::int64_t>>(std::string_view key) const {
  return held<std::vector<std::int64_t>>(value(key), key, "array of integers");
}

template <>
std::vector<double> Config::get<std::vector<double>>(std::string_view key) const {
  return held<std::vector<double>>(value(key), key, "array of floats");
}

template <>
std::vector<std::string> Config::get<std::vector<std::string>>(std::string_view key) const {
  return held<std::vector<std::string>>(value(key), key, "array of strings");
}

}  // namespace attn::train
