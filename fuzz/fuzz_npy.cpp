// The .npy reader on arbitrary bytes (io::parse_npy). An array it accepts must survive a
// round trip: writing it and reading that back gives the same bytes when written once more.
#include <cstddef>
#include <cstdint>
#include <string>

#include "attn/core/error.h"
#include "attn/io/npy.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  attn::Tensor parsed;
  try {
    parsed = attn::io::parse_npy(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const attn::Error&) {
    return 0;  // rejected with a message: the expected answer to a malformed file
  }
  const std::string written = attn::io::serialize_npy(parsed);
  attn::Tensor reread;
  try {
    reread = attn::io::parse_npy(written, "fuzz (written back)");
  } catch (const attn::Error&) {
    attn::fuzz::property_failed("the writer produced a file the reader rejects");
  }
  if (attn::io::serialize_npy(reread) != written)
    attn::fuzz::property_failed("npy round trip changed the file");
  return 0;
}
