// A reference-counted, 64-byte-aligned block of memory shared by a tensor and its views.
#pragma once

#include <cstddef>
#include <memory>

namespace attn {

class Storage {
 public:
  static constexpr std::size_t kAlignment = 64;

  // Uninitialised memory for `bytes` bytes (rounded up to the alignment).
  explicit Storage(std::size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace attn
