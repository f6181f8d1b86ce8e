// A fresh directory under the system temporary directory, removed with everything in it
// when the object goes. mkdtemp makes the name unique across the test processes that ctest
// runs in parallel.
#pragma once

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "attn/core/error.h"

namespace attn::testing {

class TemporaryDirectory {
 public:
  explicit TemporaryDirectory(const std::string& prefix = "attn_test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "_XXXXXX")).string();
    ATTN_CHECK(::mkdtemp(pattern.data()) != nullptr, "TemporaryDirectory: mkdtemp failed for ", pattern);
    path_ = pattern;
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    // A test may have taken away its own write permission.
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ignored);
    std::filesystem::remove_all(path_, ignored);
  }
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  bool is_empty() const { return std::filesystem::is_empty(path_); }

  // Every entry in the directory, sorted, so a leftover temporary file shows up.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace attn::testing
