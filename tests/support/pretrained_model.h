// Where the tests find the real all-MiniLM-L6-v2 folder: $ATTN_MINILM_DIR when set and not
// empty, else the folder scripts/setup.sh installs (the build's ATTN_MINILM_DIR).
#pragma once

#include <cstdlib>
#include <string>

namespace attn::testing {

inline std::string minilm_directory() {
  const char* variable = std::getenv("ATTN_MINILM_DIR");
  return variable != nullptr && *variable != '\0' ? variable : ATTN_MINILM_DIR;
}

}  // namespace attn::testing
