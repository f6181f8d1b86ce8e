// Highway keeps one process-wide "chosen target" that every HWY_DYNAMIC_DISPATCH reads;
// SetSupportedTargetsForTest narrows the set it chooses from. That is the whole mechanism:
// pinning a target changes no kernel code, so what runs is exactly what runs on a CPU whose
// best instruction set is that target. This file is compiled with Highway's default target
// policy, as every kernel file is, so HWY_TARGETS here is the kernels' set.
#undef HWY_TARGET_INCLUDE
// Relative to the include directory (include/), the only project path on the include path.
#define HWY_TARGET_INCLUDE "../src/kernels/simd_target.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h

#include <hwy/highway.h>

// Compiled once per target: the name of the target this copy was compiled for, so that
// dispatching to it reports what every other dispatched kernel runs on.
HWY_BEFORE_NAMESPACE();
namespace attn::kernels::HWY_NAMESPACE {
const char* CompiledTargetName() { return hwy::TargetName(HWY_TARGET); }
}  // namespace attn::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "attn/kernels/simd_target.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>

#include "attn/core/error.h"

namespace attn::kernels {
HWY_EXPORT(CompiledTargetName);

namespace {

std::string upper(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return char(std::toupper(c)); });
  return result;
}

// The targets compiled in and supported by the CPU, best first, read once before any pin
// narrows what Highway reports.
const std::vector<std::int64_t>& unpinned_targets() {
  static const std::vector<std::int64_t> targets = hwy::SupportedAndGeneratedTargets();
  return targets;
}

}  // namespace

std::string simd_target() { return HWY_DYNAMIC_DISPATCH(CompiledTargetName)(); }

std::vector<std::string> available_simd_targets() {
  std::vector<std::string> names;
  for (std::int64_t target : unpinned_targets()) names.emplace_back(hwy::TargetName(target));
  return names;
}

void set_simd_target(std::string_view name) {
  const std::string wanted = upper(name);
  for (std::int64_t target : unpinned_targets()) {
    if (upper(hwy::TargetName(target)) == wanted) {
      hwy::SetSupportedTargetsForTest(target);
      return;
    }
  }
  std::string names;
  for (const std::string& available : available_simd_targets()) {
    names += names.empty() ? available : ", " + available;
  }
  ATTN_CHECK(false, "set_simd_target: '", name, "' is not a SIMD target of this build and CPU; ",
             "available: ", names);
}

void reset_simd_target() {
  unpinned_targets();
  hwy::SetSupportedTargetsForTest(0);
}

std::string apply_simd_target_from_environment() {
  const char* value = std::getenv("ATTN_SIMD_TARGET");
  if (value != nullptr && *value != '\0') set_simd_target(value);
  return simd_target();
}

}  // namespace attn::kernels
#endif  // HWY_ONCE
