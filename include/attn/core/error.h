// Errors: library code never exits; misuse throws attn::Error naming the operation and
// what was expected versus what it got. Internal invariants use ATTN_ASSERT (file:line).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace attn {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream stream;
  (stream << ... << parts);
  return stream.str();
}

[[noreturn]] void throw_assertion(const char* file, int line, const char* condition,
                                  const std::string& message);

}  // namespace detail
}  // namespace attn

// User-facing check: ATTN_CHECK(a.dim() == 2, "matmul: expected a 2-D tensor, got ", shape).
#define ATTN_CHECK(condition, ...)                                   \
  do {                                                               \
    if (!(condition)) {                                              \
      throw ::attn::Error(::attn::detail::concat(__VA_ARGS__));      \
    }                                                                \
  } while (0)

// Internal invariant: a failure is a bug in attn, reported with its location.
#define ATTN_ASSERT(condition, ...)                                                     \
  do {                                                                                  \
    if (!(condition)) {                                                                 \
      ::attn::detail::throw_assertion(__FILE__, __LINE__, #condition,                   \
                                      ::attn::detail::concat("" __VA_OPT__(, ) __VA_ARGS__)); \
    }                                                                                   \
  } while (0)
