#include "attn/core/storage.h"

#include <cstdlib>
#include <new>

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

Storage::~Storage() { std::free(data_); }

}  // namespace attn
