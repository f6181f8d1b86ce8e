// A reference-counted block of memory shared by a tensor and its views: either attn's own
// (64-byte aligned) or memory that another library owns (a NumPy array, a PyTorch tensor),
// borrowed without a copy and handed back through `release` when the last view goes.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace attn {

class Storage {
 public:
  static constexpr std::size_t kAlignment = 64;

  // Uninitialised memory for `bytes` bytes (rounded up to the alignment).
  explicit Storage(std::size_t bytes);
  // Borrows `bytes` bytes at `data` (no alignment promised); `release` runs once, when the
  // storage is destroyed, and must not throw.
  Storage(void* data, std::size_t bytes, std::function<void()> release);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  std::function<void()> release_;  // set for borrowed memory; empty for attn's own
};

}  // namespace attn
