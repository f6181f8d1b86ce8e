// `attn info [--simd-targets]`: what this build runs on: the SIMD instruction set of attn's
// kernels (ATTN_SIMD_TARGET pins a lower one), the others this CPU could run, the GEMM
// libraries and the thread count. --simd-targets prints only the available targets, one a
// line, best first, for scripts (scripts/test.sh runs the suite once per target).
#include <omp.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "attn/kernels/gemm.h"
#include "attn/kernels/simd_target.h"
#include "commands.h"

namespace attn::cli {
namespace {

void print_info(bool targets_only) {
  const std::vector<std::string> targets = kernels::available_simd_targets();
  if (targets_only) {
    for (const std::string& target : targets) std::printf("%s\n", target.c_str());
    return;
  }
  std::printf("attn %s\n", std::string(kVersion).c_str());
  std::printf("simd target: %s\n", kernels::simd_target().c_str());
  std::string names;
  for (const std::string& target : targets) names += (names.empty() ? "" : " ") + target;
  std::printf("available simd targets: %s\n", names.c_str());
  std::printf("gemm: %s\n", kernels::gemm_library_description().c_str());
  std::printf("threads: %d\n", omp_get_max_threads());
}

}  // namespace

void add_info_command(CLI::App& app) {
  CLI::App* info = app.add_subcommand("info", "the SIMD target, GEMM libraries and threads");
  auto targets_only = std::make_shared<bool>(false);
  info->add_flag("--simd-targets", *targets_only,
                 "print only the SIMD targets this CPU can run, best first");
  info->callback([targets_only] {
    int status = run_guarded([&] { print_info(*targets_only); });
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
