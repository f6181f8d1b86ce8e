// `attn align-eval` end to end: a tiny Transformer trained for two steps on four verses of
// Ruth, then the built program scores its cross-attention on them. Checks the structure of the
// table and the JSON, that every figure lies in [0, 1], and the error for missing markup. The
// program is a separate target; when it is not built these tests are skipped.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "attn/core/random.h"
#include "attn/data/osis.h"
#include "attn/data/text_files.h"
#include "attn/tasks/translation.h"
#include "attn/train/trainer.h"
#include "support/compare.h"
#include "support/temporary_directory.h"

namespace attn {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream stream(path);
  std::stringstream text;
  text << stream.rdbuf();
  return text.str();
}

// data/: the fixture's test markup, and its plain text as train and valid; run/: two steps.
void prepare_run(const fs::path& data_dir, const fs::path& run_dir) {
  fs::create_directories(data_dir);
  const fs::path fixtures = attn::testing::fixture_path("align");
  for (const char* name : {"test.es.markup", "test.en.markup", "test.ref"}) {
    fs::copy_file(fixtures / name, data_dir / name);
  }
  for (const char* language : {"es", "en"}) {
    std::vector<std::string> plain;
    for (const std::string& markup :
         data::read_lines((data_dir / ("test." + std::string(language) + ".markup")).string())) {
      plain.push_back(data::osis_plain_text(markup));
    }
    for (const char* split : {"train", "valid", "test"}) {
      data::write_lines((data_dir / (std::string(split) + "." + language)).string(), plain);
    }
  }
  std::ostringstream toml;
  toml << "[task]\nkind = \"translation\"\n"
       << "[data]\ndir = \"" << data_dir.string() << "\"\nmax_tokens = 1024\nmax_length = 200\n"
       << "[tokenizer]\nvocab_size = 150\nmodel_type = \"bpe\"\n"
       << "[model.transformer]\nd_model = 16\nnum_heads = 2\nd_ff = 32\nencoder_layers = 1\n"
       << "decoder_layers = 2\ndropout = 0.0\nmax_length = 256\n"
       << "[train]\nrun_dir = \"" << run_dir.string() << "\"\nmax_steps = 2\nprogress = \"none\"\n";
  train::Config config =
      train::Config::parse(toml.str(), tasks::translation_schema(), "align_eval.toml");
  manual_seed(3);
  std::ostringstream log;
  tasks::TranslationTask task(config, /*resume=*/false, log);
  train::TrainerOptions options = train::trainer_options(config);
  std::ostringstream progress;
  options.progress_stream = &progress;
  train::Trainer(task, options).fit();
}

class AlignEvalCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    program_ = fs::path(ATTN_BINARY_DIR) / "apps" / "attn";
    if (!fs::exists(program_)) GTEST_SKIP() << "the attn program is not built: " << program_;
  }

  struct Outcome {
    int status = -1;
    std::string out, err;
  };
  Outcome run(const std::string& arguments) const {
    const fs::path out = directory_.path() / "stdout.txt", err = directory_.path() / "stderr.txt";
    const std::string command = program_.string() + " " + arguments + " > " + out.string() +
                                " 2> " + err.string();
    const int raw = std::system(command.c_str());
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, read_file(out), read_file(err)};
  }

  fs::path program_;
  testing::TemporaryDirectory directory_{"attn_align_eval"};
};

TEST_F(AlignEvalCommand, PrintsATableAndWritesJsonWithRatesInTheUnitInterval) {
  const fs::path data_dir = directory_.path() / "data", run_dir = directory_.path() / "run";
  prepare_run(data_dir, run_dir);
  const fs::path json_path = directory_.path() / "align.json";
  const Outcome outcome = run("align-eval --model " + run_dir.string() + " --data " +
                              data_dir.string() + " --json " + json_path.string() + " --threads 1");
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_NE(outcome.out.find("4 given, 4 scored"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("layer     head      AER  precision  recall    links"),
            std::string::npos)
      << outcome.out;

  const nlohmann::json json = nlohmann::json::parse(read_file(json_path));
  EXPECT_EQ(json["arch"], "transformer");
  EXPECT_EQ(json["verses"]["scored"], 4);
  EXPECT_GT(json["gold"]["sure"].get<int>(), 0);
  // 2 layers x (2 heads + their mean), the mean of all layers, the diagonal.
  ASSERT_EQ(json["results"].size(), 8u);
  EXPECT_EQ(json["results"][6]["layer"], "all");
  EXPECT_EQ(json["results"][7]["layer"], "diagonal");
  for (const nlohmann::json& row : json["results"]) {
    for (const char* rate : {"aer", "precision", "recall"}) {
      EXPECT_GE(row[rate].get<double>(), 0.0) << row.dump();
      EXPECT_LE(row[rate].get<double>(), 1.0) << row.dump();
    }
    EXPECT_EQ(row["sure"], json["gold"]["sure"]);
  }

  const Outcome limited = run("align-eval --model " + run_dir.string() + " --data " +
                              data_dir.string() + " --limit 1 --target-rows reading --all-words");
  ASSERT_EQ(limited.status, 0) << limited.err;
  EXPECT_NE(limited.out.find("1 given, 1 scored"), std::string::npos) << limited.out;
  EXPECT_NE(limited.out.find("scoring: all links"), std::string::npos) << limited.out;
}

TEST_F(AlignEvalCommand, MissingMarkupIsAnErrorNamingTheFile) {
  const Outcome outcome =
      run("align-eval --model " + directory_.path().string() + " --data " +
          directory_.path().string());
  EXPECT_EQ(outcome.status, 1);
  EXPECT_NE(outcome.err.find("test.es.markup"), std::string::npos) << outcome.err;
}

}  // namespace
}  // namespace attn
