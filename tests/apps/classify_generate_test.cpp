// `attn classify` and `attn generate` end to end: trains tiny runs with `attn train`, then
// runs the built command-line program on them. The program is a separate target, so a
// build of attn_tests alone may not have produced it; then these tests are skipped (the
// library side is tested in tests/tasks/).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "attn/data/text_files.h"
#include "support/temporary_directory.h"

namespace attn {
namespace {

namespace fs = std::filesystem;

class ClassifyGenerateCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    program_ = fs::path(ATTN_BINARY_DIR) / "apps" / "attn";
    if (!fs::exists(program_)) GTEST_SKIP() << "the attn program is not built: " << program_;
  }

  struct Outcome {
    int status = -1;
    std::string out, err;
  };
  // `arguments` go through the shell: quote texts with single quotes.
  Outcome run(const std::string& arguments, const std::string& stdin_text = "") const {
    const fs::path out = directory_.path() / "stdout.txt", err = directory_.path() / "stderr.txt";
    const fs::path in = directory_.path() / "stdin.txt";
    std::ofstream(in) << stdin_text;
    const std::string command = program_.string() + " " + arguments + " < " + in.string() + " > " +
                                out.string() + " 2> " + err.string();
    const int raw = std::system(command.c_str());
    Outcome outcome;
    outcome.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    outcome.out = read(out);
    outcome.err = read(err);
    return outcome;
  }
  static std::string read(const fs::path& file) {
    std::ifstream stream(file);
    std::stringstream text;
    text << stream.rdbuf();
    return text.str();
  }
  static std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream stream(text);
    for (std::string line; std::getline(stream, line);) lines.push_back(line);
    return lines;
  }
  std::string path(const std::string& name) const { return directory_.file(name); }

  // A BiGRU classifier of "which colour word is in the text", trained for a few steps.
  std::string train_classifier() {
    const fs::path data = directory_.path() / "colours";
    fs::create_directories(data);
    const std::vector<std::string> colours = {"red", "green", "blue"};
    std::mt19937 engine(1);
    for (const auto& [split, count] : {std::pair{"train", 48}, std::pair{"valid", 12}}) {
      std::vector<data::LabeledText> texts;
      for (int i = 0; i < count; ++i) {
        const auto label = static_cast<std::int64_t>(engine() % 3);
        texts.push_back({label, "w" + std::to_string(engine() % 9) + " " + colours[label] + " w" +
                                    std::to_string(engine() % 9)});
      }
      data::write_labeled_tsv((data / (std::string(split) + ".tsv")).string(), texts);
    }
    data::write_lines((data / "labels.txt").string(), colours);
    const std::string config = path("classifier.toml");
    std::ofstream(config) << "[task]\nkind = \"classification\"\n"
                          << "[data]\nsource = \"tsv\"\ndir = \"" << data.string() << "\"\n"
                          << "max_length = 8\nbatch_size = 16\n"
                          << "[tokenizer]\nkind = \"word\"\nvocab_size = 0\n"
                          << "[model.bigru]\nembedding_size = 8\nhidden_size = 8\n"
                          << "attention_size = 4\n"
                          << "[train]\nprogress = \"none\"\nlearning_rate = 0.01\n";
    const std::string run_dir = path("classifier_run");
    const Outcome outcome = run("train --config " + config + " --run-dir " + run_dir + " --max-steps 4");
    EXPECT_EQ(outcome.status, 0) << outcome.err;
    return run_dir;
  }

  // A character-level language model trained for a few steps.
  std::string train_language_model() {
    const fs::path data = directory_.path() / "text";
    fs::create_directories(data);
    data::write_lines((data / "train.txt").string(),
                      {"the cat sat on the mat.", "a dog ran to the park.", "the bird sat on a tree."});
    data::write_lines((data / "valid.txt").string(), {"the dog sat on the mat."});
    const std::string config = path("lm.toml");
    std::ofstream(config) << "[task]\nkind = \"language_model\"\n"
                          << "[data]\nsource = \"text\"\ndir = \"" << data.string() << "\"\n"
                          << "context_length = 16\nbatch_size = 4\n"
                          << "[tokenizer]\nkind = \"char\"\nvocab_size = 0\n"
                          << "[model.transformer]\nd_model = 16\nnum_heads = 2\nd_ff = 32\n"
                          << "num_layers = 1\n"
                          << "[train]\nprogress = \"none\"\nlearning_rate = 0.01\n";
    const std::string run_dir = path("lm_run");
    const Outcome outcome = run("train --config " + config + " --run-dir " + run_dir + " --max-steps 3");
    EXPECT_EQ(outcome.status, 0) << outcome.err;
    return run_dir;
  }

  fs::path program_;
  testing::TemporaryDirectory directory_{"attn_classify_generate"};
};

TEST_F(ClassifyGenerateCommand, ClassifiesArgumentsFilesAndStdin) {
  const std::string run_dir = train_classifier();
  Outcome outcome = run("classify --checkpoint " + run_dir + " 'w1 red w2' 'blue w3'");
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  const std::vector<std::string> labels = lines_of(outcome.out);
  ASSERT_EQ(labels.size(), 2u) << outcome.out;
  for (const std::string& label : labels) {
    EXPECT_TRUE(label == "red" || label == "green" || label == "blue") << label;
  }

  const std::string input = path("texts.txt");
  std::ofstream(input) << "w1 red w2\nblue w3\n";
  outcome = run("classify --checkpoint " + run_dir + " --input " + input + " --probabilities");
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  const std::vector<std::string> rows = lines_of(outcome.out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].substr(0, rows[0].find('\t')), labels[0]);
  EXPECT_NE(rows[0].find("\tred="), std::string::npos) << rows[0];
  EXPECT_NE(rows[0].find("\tgreen="), std::string::npos) << rows[0];
  EXPECT_NE(rows[0].find("\tblue="), std::string::npos) << rows[0];

  outcome = run("classify --checkpoint " + run_dir + " --json --input -", "w1 red w2\n");
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  const nlohmann::json line = nlohmann::json::parse(lines_of(outcome.out).at(0));
  EXPECT_EQ(line["label"], labels[0]);
  EXPECT_EQ(line["tokens"], nlohmann::json({"w1", "red", "w2"}));
  ASSERT_EQ(line["attention"].size(), 3u);
  double total = 0;
  for (const auto& [name, probability] : line["probabilities"].items()) total += probability.get<double>();
  EXPECT_NEAR(total, 1.0, 1e-6);

  const std::string output = path("labels.txt");
  outcome = run("classify --checkpoint " + run_dir + " --input " + input + " --output " + output);
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_EQ(lines_of(read(output)), labels);
}

TEST_F(ClassifyGenerateCommand, ClassifyRejectsEmptyLinesMissingAndForeignCheckpoints) {
  const std::string run_dir = train_classifier();
  const std::string input = path("gappy.txt");
  std::ofstream(input) << "w1 red\n\nblue\n";
  Outcome outcome = run("classify --checkpoint " + run_dir + " --input " + input);
  EXPECT_EQ(outcome.status, 1);
  EXPECT_NE(outcome.err.find("line 2 of " + input + " is empty"), std::string::npos) << outcome.err;
  EXPECT_TRUE(outcome.out.empty()) << outcome.out;

  outcome = run("classify --checkpoint " + path("no_such_run") + " red");
  EXPECT_EQ(outcome.status, 1);
  EXPECT_NE(outcome.err.find("no_such_run"), std::string::npos) << outcome.err;

  outcome = run("generate --checkpoint " + run_dir + " 'the'");
  EXPECT_EQ(outcome.status, 1);
  EXPECT_NE(outcome.err.find("a classification model, not a language_model model"), std::string::npos)
      << outcome.err;
  ASSERT_FALSE(outcome.err.empty());
  EXPECT_EQ(outcome.err.find('\n'), outcome.err.size() - 1) << "more than one line: " << outcome.err;
}

TEST_F(ClassifyGenerateCommand, GeneratesRepeatablyAndRejectsLongPrompts) {
  const std::string run_dir = train_language_model();
  const std::string greedy = "generate --checkpoint " + run_dir + " --method greedy --max-length 12 'the ca' ''";
  const Outcome first = run(greedy);
  ASSERT_EQ(first.status, 0) << first.err;
  const std::vector<std::string> lines = lines_of(first.out);
  ASSERT_EQ(lines.size(), 2u) << first.out;
  EXPECT_EQ(lines[0].rfind("the ca", 0), 0u) << lines[0];
  EXPECT_EQ(run(greedy).out, first.out);

  const std::string sample = "generate --checkpoint " + run_dir +
                             " --method sample --temperature 1.2 --top-k 5 --seed 7 --max-length 12 --input -";
  const Outcome sampled = run(sample, "the\na dog\n");
  ASSERT_EQ(sampled.status, 0) << sampled.err;
  EXPECT_EQ(lines_of(sampled.out).size(), 2u);
  EXPECT_EQ(run(sample, "the\na dog\n").out, sampled.out);

  const Outcome continuation = run(greedy + " --continuation");
  ASSERT_EQ(continuation.status, 0) << continuation.err;
  EXPECT_EQ("the ca" + lines_of(continuation.out).at(0), lines[0]);

  const Outcome beam = run("generate --checkpoint " + run_dir + " --method beam --beam-size 2 --max-length 8 'the'");
  ASSERT_EQ(beam.status, 0) << beam.err;

  const Outcome too_long = run("generate --checkpoint " + run_dir + " 'the cat sat on the mat and more'");
  EXPECT_EQ(too_long.status, 1);
  EXPECT_NE(too_long.err.find("prompt 1 is"), std::string::npos) << too_long.err;
  EXPECT_NE(too_long.err.find("at most 16"), std::string::npos) << too_long.err;
}

TEST_F(ClassifyGenerateCommand, EvalPerplexityEqualsTheValidationPerplexity) {
  // After 3 steps the only validation is the one at the end, so the best checkpoint is the
  // model it scored: perplexity of valid.txt through `attn eval` must give the same number.
  const std::string run_dir = train_language_model();
  std::ifstream log(fs::path(run_dir) / "metrics.jsonl");
  double validation = 0;
  for (std::string line; std::getline(log, line);) {
    const std::size_t at = line.find("\"perplexity\":");
    if (line.find("\"type\":\"validation\"") != std::string::npos && at != std::string::npos) {
      validation = std::stod(line.substr(at + 13));
    }
  }
  ASSERT_GT(validation, 1.0);
  const std::string text = (directory_.path() / "text" / "valid.txt").string();
  const Outcome outcome = run("eval --metric perplexity --json --checkpoint " + run_dir + " --text " + text);
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  const std::size_t at = outcome.out.find("\"perplexity\": {");
  ASSERT_NE(at, std::string::npos) << outcome.out;
  const std::size_t value = outcome.out.find("\"score\":", at);
  ASSERT_NE(value, std::string::npos) << outcome.out;
  EXPECT_NEAR(std::stod(outcome.out.substr(value + 8)), validation, 1e-4 * validation) << outcome.out;

  const Outcome missing = run("eval --metric perplexity --checkpoint " + run_dir);
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("--text"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace attn
