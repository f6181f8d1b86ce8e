// Helpers shared by the fuzz targets.
//
// Each target hands the input bytes to one of the library's parsers. An attn::Error is an
// expected answer to bad input; anything else (a crash, a sanitizer report, another exception
// type, a hang, a broken round trip) is a finding. Exceptions other than attn::Error escape
// LLVMFuzzerTestOneInput, and libFuzzer reports them as a crash (uncaught exception -> abort).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace attn::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Stops the run with a message: a broken property (round trip, invariant) that no sanitizer
// would catch by itself.
[[noreturn]] inline void property_failed(const char* what) {
  std::fprintf(stderr, "fuzz property failed: %s\n", what);
  std::abort();
}

// A private scratch folder for loaders that only read files, removed at exit. It is made in
// /dev/shm when there is one: the library's writers fsync every file, which costs
// milliseconds on a disk and next to nothing in memory.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    for (const std::filesystem::path& parent :
         {std::filesystem::path("/dev/shm"), std::filesystem::temp_directory_path()}) {
      std::string pattern = (parent / "attn-fuzz.XXXXXX").string();
      if (mkdtemp(pattern.data()) != nullptr) {
        path_ = pattern;
        return;
      }
    }
    property_failed("cannot create a scratch folder");
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `bytes` to `relative` inside the folder (creating parent folders), replacing it.
  std::filesystem::path write(const std::filesystem::path& relative, std::string_view bytes) const {
    std::filesystem::path file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream stream(file, std::ios::binary | std::ios::trunc);
    stream.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!stream) property_failed("cannot write a scratch file");
    return file;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace attn::fuzz
