// Registration of the attn subcommands; each lives in its own file.
#pragma once

#include <CLI/CLI.hpp>
#include <string_view>

namespace attn::cli {

inline constexpr std::string_view kVersion = "0.1.0";

// Runs `body`, turning library errors into a message on stderr and exit status 1.
int run_guarded(const std::function<void()>& body);

void add_demo_command(CLI::App& app);
void add_attention_command(CLI::App& app);
void add_data_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_translate_command(CLI::App& app);
void add_classify_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_viz_command(CLI::App& app);
void add_plot_command(CLI::App& app);
void add_align_eval_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_embed_command(CLI::App& app);

}  // namespace attn::cli
