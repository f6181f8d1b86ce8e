// The attn command-line program: one subcommand per task.
#include <CLI/CLI.hpp>

#include <malloc.h>

#include <iostream>

#include "attn/core/error.h"
#include "attn/kernels/simd_target.h"
#include "commands.h"

int main(int argc, char** argv) {
  // Training allocates and frees the same large tensors (activations, logits) every step.
  // glibc hands blocks above its mmap threshold back to the system on free, so each step
  // would fault in fresh zero-filled pages again (about 8% of a Transformer step). Serving
  // every block from the heap and keeping freed memory avoids that; the cost is that the
  // process keeps its peak memory.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  // ATTN_SIMD_TARGET=AVX2 (or SSE4, ...) runs the kernels another machine would run.
  try {
    attn::kernels::apply_simd_target_from_environment();
  } catch (const attn::Error& error) {
    std::cerr << "attn: ATTN_SIMD_TARGET: " << error.what() << "\n";
    return 2;
  }
  CLI::App app{"attn: attention-based neural networks in C++"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(attn::cli::kVersion));
  attn::cli::add_demo_command(app);
  attn::cli::add_attention_command(app);
  attn::cli::add_data_command(app);
  attn::cli::add_eval_command(app);
  attn::cli::add_train_command(app);
  attn::cli::add_translate_command(app);
  attn::cli::add_classify_command(app);
  attn::cli::add_generate_command(app);
  attn::cli::add_serve_command(app);
  attn::cli::add_viz_command(app);
  attn::cli::add_plot_command(app);
  attn::cli::add_align_eval_command(app);
  attn::cli::add_embed_command(app);
  attn::cli::add_info_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  // Subcommand callbacks run during parse; errors from the library surface here.
  return 0;
}
