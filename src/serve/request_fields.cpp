#include "request_fields.h"

#include <cmath>
#include <sstream>

namespace attn::serve {

namespace {

std::string type_name(const nlohmann::json& value) { return value.type_name(); }

// A value for an error message: scalars as written (cut short), containers by type alone,
// since writing out a deeply nested value would recurse as deep as it goes.
std::string shown_value(const nlohmann::json& value) {
  if (value.is_structured()) return type_name(value);
  std::string shown = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (shown.size() > 40) shown = shown.substr(0, 37) + "...";
  return type_name(value) + " " + shown;
}

[[noreturn]] void wrong_field(const std::string& key, const std::string& expected,
                              const nlohmann::json& value) {
  throw HttpError(400, "\"" + key + "\": expected " + expected + ", got " + shown_value(value));
}

bool is_whole_number(const nlohmann::json& value) {
  if (value.is_number_integer()) return true;
  if (!value.is_number_float()) return false;
  const double number = value.get<double>();
  return std::isfinite(number) && std::floor(number) == number && std::fabs(number) < 9.0e15;
}

std::string range_text(std::int64_t minimum, std::int64_t maximum) {
  return "a whole number from " + std::to_string(minimum) + " to " + std::to_string(maximum);
}

}  // namespace

RequestFields RequestFields::parse(std::string_view body) {
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& error) {
    // A syntax error (parse_error) or a number too large for a double (out_of_range.406).
    // The library's message starts "[json.exception.parse_error.101] parse error at line 1,
    // column 5: ..."; the part after the id is what a client can act on.
    std::string message = error.what();
    const std::size_t id_end = message.find("] ");
    if (id_end != std::string::npos) message = message.substr(id_end + 2);
    throw HttpError(400, "malformed JSON: " + message);
  }
  if (!parsed.is_object()) {
    throw HttpError(400, std::string("the request body must be a JSON object, got ") + parsed.type_name());
  }
  return RequestFields(std::move(parsed));
}

const nlohmann::json* RequestFields::field(const std::string& key) {
  known_.insert(key);
  auto found = object_.find(key);
  return found == object_.end() ? nullptr : &*found;
}

std::optional<std::string> RequestFields::string(const std::string& key) {
  const nlohmann::json* value = field(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) wrong_field(key, "a string", *value);
  return value->get<std::string>();
}

std::optional<bool> RequestFields::boolean(const std::string& key) {
  const nlohmann::json* value = field(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) wrong_field(key, "true or false", *value);
  return value->get<bool>();
}

std::optional<std::int64_t> RequestFields::integer(const std::string& key, std::int64_t minimum,
                                                   std::int64_t maximum) {
  const nlohmann::json* value = field(key);
  if (value == nullptr) return std::nullopt;
  if (!is_whole_number(*value)) wrong_field(key, range_text(minimum, maximum), *value);
  // An unsigned value beyond int64 is out of range however it converts.
  if (value->is_number_unsigned() && value->get<std::uint64_t>() > static_cast<std::uint64_t>(maximum)) {
    wrong_field(key, range_text(minimum, maximum), *value);
  }
  const auto number = value->is_number_float() ? static_cast<std::int64_t>(value->get<double>())
                                               : value->get<std::int64_t>();
  if (number < minimum || number > maximum) wrong_field(key, range_text(minimum, maximum), *value);
  return number;
}

std::optional<std::uint64_t> RequestFields::unsigned_integer(const std::string& key) {
  const nlohmann::json* value = field(key);
  if (value == nullptr) return std::nullopt;
  const char* expected = "a whole number from 0 to 18446744073709551615";
  if (value->is_number_unsigned()) return value->get<std::uint64_t>();
  if (!is_whole_number(*value)) wrong_field(key, expected, *value);
  if (value->is_number_integer()) {
    const auto number = value->get<std::int64_t>();
    if (number < 0) wrong_field(key, expected, *value);
    return static_cast<std::uint64_t>(number);
  }
  const double number = value->get<double>();  // whole, of magnitude below 9e15
  if (number < 0) wrong_field(key, expected, *value);
  return static_cast<std::uint64_t>(number);
}

std::optional<double> RequestFields::number(const std::string& key, double minimum, double maximum) {
  const nlohmann::json* value = field(key);
  if (value == nullptr) return std::nullopt;
  std::ostringstream expected;
  expected << "a number from " << minimum << " to " << maximum;
  if (!value->is_number()) wrong_field(key, expected.str(), *value);
  const double number = value->get<double>();
  if (!(number >= minimum && number <= maximum)) wrong_field(key, expected.str(), *value);
  return number;
}

void RequestFields::check_no_other_fields() const {
  for (const auto& [key, value] : object_.items()) {
    if (known_.count(key) != 0) continue;
    std::string expected;
    for (const std::string& name : known_) expected += (expected.empty() ? "" : ", ") + name;
    std::string shown = nlohmann::json(key).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    throw HttpError(400, "unknown field " + shown + " (this request takes: " + expected + ")");
  }
}

}  // namespace attn::serve
