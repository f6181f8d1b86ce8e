#include "attn/core/storage.h"

#include <cstdlib>
#include <new>
#include <utility>

#include "attn/core/error.h"

namespace attn {

Storage::Storage(std::size_t bytes) : bytes_(bytes) {
  // aligned_alloc needs a size that is a multiple of the alignment; an empty tensor still
  // gets one aligned block so data() is never null.
  std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  data_ = std::aligned_alloc(kAlignment, rounded);
  ATTN_CHECK(data_ != nullptr, "Storage: could not allocate ", bytes, " bytes");
}

Storage::Storage(void* data, std::size_t bytes, std::function<void()> release)
    : data_(data), bytes_(bytes), release_(std::move(release)) {
  ATTN_CHECK(data_ != nullptr || bytes_ == 0, "Storage: borrowed memory of ", bytes,
             " bytes at a null pointer");
  ATTN_CHECK(static_cast<bool>(release_), "Storage: borrowed memory needs a release function");
}

Storage::~Storage() {
  if (release_) {
    release_();
  } else {
    std::free(data_);
  }
}

}  // namespace attn
