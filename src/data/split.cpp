#include "attn/data/split.h"

#include "attn/core/error.h"

namespace attn::data {

std::string_view split_name(Split split) {
  switch (split) {
    case Split::Train:
      return "train";
    case Split::Valid:
      return "valid";
    case Split::Test:
      return "test";
  }
  ATTN_ASSERT(false, "unknown split");
  return {};
}

Split parse_split(std::string_view name) {
  for (Split split : kAllSplits) {
    if (split_name(split) == name) return split;
  }
  throw Error(detail::concat("split: expected train, valid or test, got '", name, "'"));
}

}  // namespace attn::data
