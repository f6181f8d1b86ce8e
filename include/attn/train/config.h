// Training configuration: a schema of known dotted keys ("train.learning_rate",
// "model.d_model", ...) with a type, a default and one line of help each, and a Config that
// holds one value per key, read from a TOML file and command-line overrides "key=value".
//
// Declaring the keys of a task takes a few lines:
//
//   train::Schema schema = train::trainer_schema();          // the "train." keys
//   schema.section("model")
//       .add("d_model", 256, "width of embeddings and of the residual stream")
//       .add("dropout", 0.1, "dropout probability")
//       .add("norm", "post", "where layer norm sits", {"post", "pre"});
//   train::Config config = train::Config::load("configs/bible.toml", schema);
//   config.apply_overrides({"train.max_steps=2000", "model.dropout=0.2"});
//   std::int64_t d_model = config.get<std::int64_t>("model.d_model");
//
// The type of a key is the type of its default: bool, integer (int64), float (double),
// string, or an array of integers, floats or strings. Keys missing from the file keep their
// default. Every mistake is an attn::Error that names the source (file or override):
//   - an unknown key (or section), with the closest known key ("did you mean ...?");
//   - a wrong type (the key, the type it expects and the type found);
//   - a string outside the key's declared choices;
//   - a missing or unreadable file, or invalid TOML (with line and column).
// An integer is accepted where a float is expected; nothing else is converted.
//
// to_toml() writes every key (defaults included) so that parsing it back gives an equal
// Config; the run directory keeps this resolved file (docs/TRAINING.md).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace attn::train {

enum class ValueType { Bool, Integer, Float, String, IntegerArray, FloatArray, StringArray };

using Value = std::variant<bool, std::int64_t, double, std::string, std::vector<std::int64_t>,
                           std::vector<double>, std::vector<std::string>>;

ValueType type_of(const Value& value);
// "boolean", "integer", "float", "string", "array of integers", ...
std::string_view type_name(ValueType type);
// The value as TOML writes it: true, 42, 0.001, 1e-08, "adamw", [1, 2, 3]. Floats use the
// shortest text that reads back to the same double.
std::string format_value(const Value& value);

// A default value of any supported type, so that add("d_model", 256, ...) and
// add("optimizer", "adamw", ...) pick the key's type from the literal.
struct DefaultValue {
  DefaultValue(bool value) : value(value) {}
  DefaultValue(int value) : value(static_cast<std::int64_t>(value)) {}
  DefaultValue(long value) : value(static_cast<std::int64_t>(value)) {}
  DefaultValue(long long value) : value(static_cast<std::int64_t>(value)) {}
  DefaultValue(double value) : value(value) {}
  DefaultValue(const char* value) : value(std::string(value)) {}
  DefaultValue(std::string value) : value(std::move(value)) {}
  DefaultValue(std::vector<std::int64_t> value) : value(std::move(value)) {}
  DefaultValue(std::vector<double> value) : value(std::move(value)) {}
  DefaultValue(std::vector<std::string> value) : value(std::move(value)) {}
  Value value;
};

struct KeySpec {
  std::string key;                   // dotted, each part [A-Za-z0-9_-]+: "train.learning_rate"
  Value default_value;               // its type is the key's type
  std::string help;                  // one line
  std::vector<std::string> choices;  // string keys only: the allowed values (empty: any)
};

class Schema;

// Adds keys under one dotted prefix: schema.section("model").add("d_model", 256, "...").
class SchemaSection {
 public:
  SchemaSection(Schema& schema, std::string prefix)
      : schema_(&schema), prefix_(std::move(prefix)) {}
  SchemaSection& add(const std::string& name, DefaultValue default_value, std::string help,
                     std::vector<std::string> choices = {});

 private:
  Schema* schema_;
  std::string prefix_;
};

class Schema {
 public:
  // Throws attn::Error on a malformed or duplicate key, a key that is also a section of
  // another key ("model" beside "model.d_model"), choices on a non-string key, or a default
  // outside the choices.
  Schema& add(KeySpec spec);
  Schema& add(const std::string& key, DefaultValue default_value, std::string help,
              std::vector<std::string> choices = {});
  SchemaSection section(std::string name) { return SchemaSection(*this, std::move(name)); }
  // Adds every key of `other` (duplicates are an error).
  Schema& merge(const Schema& other);

  bool contains(std::string_view key) const;
  // Throws attn::Error for an unknown key, naming the closest known one.
  const KeySpec& spec(std::string_view key) const;
  const std::vector<KeySpec>& specs() const { return specs_; }  // in declaration order
  // True when some key starts with "<section>.".
  bool has_section(std::string_view section) const;
  // The known key nearest to `key` by edit distance (a bare "learning_rate" also matches
  // the last part of "train.learning_rate"); empty for an empty schema.
  std::string closest_key(std::string_view key) const;
  // One line per key: "train.learning_rate  float  0.001  peak learning rate".
  std::string help() const;

 private:
  std::vector<KeySpec> specs_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

class Config {
 public:
  // Every key at its default.
  explicit Config(Schema schema);

  // Reads a TOML file; keys absent from it keep their defaults.
  static Config load(const std::string& path, Schema schema);
  // Parses TOML text; `source_name` labels error messages (a file name, "<string>").
  static Config parse(std::string_view toml_text, Schema schema,
                      const std::string& source_name = "<string>");

  // Applies "key=value". The value is read as the key's type: true/false, an integer, a
  // float (1e-3, 0.5, 3), a string (as is; surrounding quotes are removed), an array
  // ("[1, 2]" or "1,2"; strings "a,b" or ["a", "b"]).
  void apply_override(std::string_view assignment);
  void apply_overrides(const std::vector<std::string>& assignments);

  // Sets a key; the value must have the key's type (an integer for a float key is widened).
  void set(std::string_view key, Value value);
  const Value& value(std::string_view key) const;

  // The key's value as T: bool, int (range-checked), std::int64_t, double (an integer key
  // also reads as double), std::string, or std::vector of std::int64_t, double or
  // std::string. Asking for another type is an error naming the key and both types.
  template <typename T>
  T get(std::string_view key) const;

  // The keys under "<section>." as a JSON object text, the prefix removed and deeper dots
  // made into nested objects: {"d_model": 256, "dropout": 0.1}. Handy for options structs
  // that read JSON.
  std::string section_json(std::string_view section) const;

  // Every key with its value, grouped into TOML tables, each preceded by its help as a
  // comment. Config::parse(to_toml(), schema) == *this.
  std::string to_toml() const;
  // Writes to_toml() atomically (attn/io/atomic_file.h).
  void save(const std::string& path) const;

  const Schema& schema() const { return schema_; }
  friend bool operator==(const Config& a, const Config& b) { return a.values_ == b.values_; }

 private:
  void set_from(std::string_view key, Value value, const std::string& source);

  Schema schema_;
  std::map<std::string, Value, std::less<>> values_;
};

template <>
bool Config::get<bool>(std::string_view key) const;
template <>
int Config::get<int>(std::string_view key) const;
template <>
std::int64_t Config::get<std::int64_t>(std::string_view key) const;
template <>
double Config::get<double>(std::string_view key) const;
template <>
std::string Config::get<std::string>(std::string_view key) const;
template <>
std::vector<std::int64_t> Config::get<std::vector<std::int64_t>>(std::string_view key) const;
template <>
std::vector<double> Config::get<std::vector<double>>(std::string_view key) const;
template <>
std::vector<std::string> Config::get<std::vector<std::string>>(std::string_view key) const;

}  // namespace attn::train
