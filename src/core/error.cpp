#include "attn/core/error.h"

namespace attn::detail {

void throw_assertion(const char* file, int line, const char* condition,
                     const std::string& message) {
  std::string text = concat("attn internal error at ", file, ":", line, ": ", condition);
  if (!message.empty()) text += concat(" (", message, ")");
  throw Error(text);
}

}  // namespace attn::detail
