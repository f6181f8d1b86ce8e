// What the API handlers share: an error that carries its HTTP status, and the fields of a
// JSON request body read with their types and ranges checked.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace attn::serve {

// Thrown by the handlers; Service::handle turns it into {"error": message} with `status`.
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// The fields of a request body, a JSON object. Each getter checks the field's type (and
// range) when it is present and returns nullopt when it is absent; a wrong type or value is a
// 400 naming the field. Every getter also declares its field as known, so that after reading
// check_no_other_fields() can refuse a misspelt one ("beamsize") instead of ignoring it.
class RequestFields {
 public:
  // 400 when `body` is not JSON or not a JSON object.
  static RequestFields parse(std::string_view body);

  std::optional<std::string> string(const std::string& key);
  std::optional<bool> boolean(const std::string& key);
  // A whole number in [minimum, maximum] (4 and 4.0 both count as whole).
  std::optional<std::int64_t> integer(const std::string& key, std::int64_t minimum,
                                      std::int64_t maximum);
  std::optional<std::uint64_t> unsigned_integer(const std::string& key);
  // A finite number in [minimum, maximum].
  std::optional<double> number(const std::string& key, double minimum, double maximum);

  // 400 naming the first field that no getter asked for, with the fields this request takes.
  void check_no_other_fields() const;

 private:
  explicit RequestFields(nlohmann::json object) : object_(std::move(object)) {}
  const nlohmann::json* field(const std::string& key);

  nlohmann::json object_;
  std::set<std::string> known_;
};

}  // namespace attn::serve
