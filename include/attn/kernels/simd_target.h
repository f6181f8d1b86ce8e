// Which SIMD instruction set attn's own kernels run on.
//
// Highway compiles every SIMD kernel once per instruction set (AVX-512, AVX2, SSE4, SSSE3
// and a portable scalar fallback) and picks the best one the CPU supports at run
// time. These functions name that choice and let a program pin a lower one, so that one
// machine can check the code paths other machines run (tests, CI, benchmarks). The float
// GEMM library (oneDNN) dispatches on its own; ONEDNN_MAX_CPU_ISA limits it
// (docs/RELIABILITY.md, "Across instruction sets").
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace attn::kernels {

// The target the kernels dispatch to now, as Highway names it: "AVX3", "AVX2", "SSE4",
// "SSSE3", and "SCALAR" or "EMU128" for the portable fallback (Highway builds one or the
// other).
std::string simd_target();

// Every target that is both compiled into attn and supported by this CPU, best first.
std::vector<std::string> available_simd_targets();

// Makes the kernels run on `name` (case-insensitive, one of available_simd_targets()) from
// now on, in every thread. Throws attn::Error naming the available targets when `name` is
// not one of them. Call it before starting threads that run kernels.
void set_simd_target(std::string_view name);

// Undoes set_simd_target: the best available target again.
void reset_simd_target();

// Reads the environment variable ATTN_SIMD_TARGET and, when it is set and not empty,
// calls set_simd_target with its value. Returns the target in force afterwards. The `attn`
// program and the test suite call this at start; a library user may too.
std::string apply_simd_target_from_environment();

}  // namespace attn::kernels
