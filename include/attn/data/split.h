// The three parts of every corpus: train, valid (for model selection and early stopping) and
// test (held out until the final evaluation).
#pragma once

#include <string_view>

namespace attn::data {

enum class Split { Train, Valid, Test };
inline constexpr Split kAllSplits[] = {Split::Train, Split::Valid, Split::Test};

std::string_view split_name(Split split);  // "train", "valid", "test"
Split parse_split(std::string_view name);  // throws attn::Error for another name

}  // namespace attn::data
