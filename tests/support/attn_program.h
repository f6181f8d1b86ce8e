// Running the built `attn` program from a test: a fixture that finds it (and skips the test
// when only attn_tests was built), runs it with a shell command line, and collects its exit
// status, standard output and standard error through files in a fresh temporary directory.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/temporary_directory.h"

namespace attn::testing {

class AttnProgramTest : public ::testing::Test {
 protected:
  struct Outcome {
    int status = -1;
    std::string out, err;
  };

  void SetUp() override {
    program_ = std::filesystem::path(ATTN_BINARY_DIR) / "apps" / "attn";
    if (!std::filesystem::exists(program_)) GTEST_SKIP() << "the attn program is not built: " << program_;
  }

  // `arguments` is shell text: quote what needs quoting.
  Outcome run(const std::string& arguments) const {
    return run_shell(program_.string() + " " + arguments);
  }

  // Any shell command line (one that starts the program through mpirun, say).
  Outcome run_shell(const std::string& command_line) const {
    const std::filesystem::path out = directory_.path() / "stdout.txt";
    const std::filesystem::path err = directory_.path() / "stderr.txt";
    const std::string command =
        "( " + command_line + " ) > " + out.string() + " 2> " + err.string();
    const int raw = std::system(command.c_str());
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, read(out), read(err)};
  }

  static std::string read(const std::filesystem::path& file) {
    std::ifstream stream(file);
    std::stringstream text;
    text << stream.rdbuf();
    return text.str();
  }

  std::string path(const std::string& name) const { return directory_.file(name); }

  std::filesystem::path program_;
  TemporaryDirectory directory_{"attn_program"};
};

}  // namespace attn::testing
