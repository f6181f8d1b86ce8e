// The safetensors reader on arbitrary bytes (io::parse_safetensors, the in-memory twin of
// load_safetensors). A file it accepts must survive a round trip: writing the parsed tensors
// and metadata and parsing that again gives the same bytes when written once more.
#include <cstddef>
#include <cstdint>
#include <string>

#include "attn/core/error.h"
#include "attn/io/safetensors.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  attn::io::SafetensorsData parsed;
  try {
    parsed = attn::io::parse_safetensors(data, size, "fuzz");
  } catch (const attn::Error&) {
    return 0;  // rejected with a message: the expected answer to a malformed file
  }
  std::string written = attn::io::serialize_safetensors(parsed.tensors, parsed.metadata);
  attn::io::SafetensorsData reread;
  try {
    reread = attn::io::parse_safetensors(reinterpret_cast<const std::uint8_t*>(written.data()),
                                         written.size(), "fuzz (written back)");
  } catch (const attn::Error&) {
    attn::fuzz::property_failed("the writer produced a file the reader rejects");
  }
  if (attn::io::serialize_safetensors(reread.tensors, reread.metadata) != written)
    attn::fuzz::property_failed("safetensors round trip changed the file");
  return 0;
}
