// Input limits of the trained-model entry points, in the library (Translator, Classifier,
// TextGenerator) and in the `attn translate`, `classify` and `generate` commands: input
// longer than the model takes, empty input and invalid UTF-8 each give an error that names
// the input (its 1-based position) and what is wrong; nothing crashes. Where the behaviour
// is a deliberate policy rather than an error, the test pins the policy:
//   - translate: an empty sentence translates to an empty line (files stay line-aligned);
//   - classify: a longer text is cut to the run's data.max_length (as in training);
//   - generate: an empty prompt starts a paragraph from nothing.
// Three tiny runs (two training steps each) are trained once for the whole suite.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "attn/core/random.h"
#include "attn/data/text_files.h"
#include "attn/tasks/classification.h"
#include "attn/tasks/language_modeling.h"
#include "attn/tasks/registry.h"
#include "attn/tasks/translation.h"
#include "attn/train/trainer.h"
#include "support/temporary_directory.h"

namespace attn {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxLength = 16;  // tokens: the translation model's and the language model's limit
const std::string kInvalid = "d\xFFos";  // 0xFF never occurs in UTF-8

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

void train_run(const std::string& toml, const std::string& kind, const fs::path& run_dir) {
  train::Config config = train::Config::parse(toml, tasks::task_schema(kind));
  config.apply_overrides({"train.run_dir=" + run_dir.string(), "train.progress=none",
                          "train.max_steps=2"});
  manual_seed(1);
  std::ostringstream log;
  std::unique_ptr<train::Task> task = tasks::make_task(kind, config, false, log);
  train::Trainer(*task, train::trainer_options(config)).fit();
}

class InputLimits : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = new testing::TemporaryDirectory("attn_limits");
    const fs::path root = directory_->path();
    const std::vector<std::string> spanish = {"uno", "dos", "tres", "cuatro", "cinco"};
    const std::vector<std::string> english = {"one", "two", "three", "four", "five"};
    std::mt19937 engine(1);
    fs::create_directories(root / "parallel");
    fs::create_directories(root / "labelled");
    fs::create_directories(root / "text");
    for (const char* split : {"train", "valid"}) {
      std::vector<std::string> source, target;
      std::vector<data::LabeledText> labelled;
      for (int i = 0; i < 40; ++i) {
        std::string es, en;
        for (int w = 0, n = 1 + static_cast<int>(engine() % 4); w < n; ++w) {
          const std::size_t word = engine() % spanish.size();
          es += (w ? " " : "") + spanish[word];
          en += (w ? " " : "") + english[word];
        }
        source.push_back(es);
        target.push_back(en);
        labelled.push_back({static_cast<std::int64_t>(engine() % 2), en});
      }
      data::write_lines((root / "parallel" / (std::string(split) + ".es")).string(), source);
      data::write_lines((root / "parallel" / (std::string(split) + ".en")).string(), target);
      data::write_labeled_tsv((root / "labelled" / (std::string(split) + ".tsv")).string(), labelled);
      data::write_lines((root / "text" / (std::string(split) + ".txt")).string(), target);
    }
    const std::string limit = std::to_string(kMaxLength);
    train_run("[task]\nkind = \"translation\"\n[data]\ndir = \"" + (root / "parallel").string() +
                  "\"\nmax_tokens = 256\nmax_length = " + limit +
                  "\n[tokenizer]\nvocab_size = 30\nmodel_type = \"bpe\"\n"
                  "[model.transformer]\nd_model = 16\nnum_heads = 2\nd_ff = 32\n"
                  "encoder_layers = 1\ndecoder_layers = 1\nmax_length = " + limit +
                  "\n[eval]\nbleu_sentences = 0\n",
              "translation", root / "translation");
    train_run("[task]\nkind = \"classification\"\n[data]\nsource = \"tsv\"\ndir = \"" +
                  (root / "labelled").string() + "\"\nmax_length = 4\nbatch_size = 8\n"
                  "[tokenizer]\nkind = \"word\"\nvocab_size = 0\n"
                  "[model.bigru]\nembedding_size = 8\nhidden_size = 8\nattention_size = 4\n",
              "classification", root / "classification");
    train_run("[task]\nkind = \"language_model\"\n[data]\nsource = \"text\"\ndir = \"" +
                  (root / "text").string() + "\"\ncontext_length = " + limit +
                  "\nbatch_size = 4\n[tokenizer]\nkind = \"char\"\nvocab_size = 0\n"
                  "[model.transformer]\nd_model = 16\nnum_heads = 2\nd_ff = 32\nnum_layers = 1\n",
              "language_model", root / "language_model");
  }
  static void TearDownTestSuite() {
    delete directory_;
    directory_ = nullptr;
  }

  static fs::path run(const std::string& name) { return directory_->path() / name; }

  struct Outcome {
    int status = -1;  // the exit status; -1 when the program did not exit normally
    std::string out, err;
  };
  // Runs the attn program with `arguments` (through the shell: quote with single quotes).
  static Outcome command(const std::string& arguments, const std::string& stdin_text = "") {
    const fs::path program = fs::path(ATTN_BINARY_DIR) / "apps" / "attn";
    const fs::path in = directory_->path() / "stdin.txt", out = directory_->path() / "stdout.txt",
                   err = directory_->path() / "stderr.txt";
    std::ofstream(in, std::ios::binary) << stdin_text;
    const std::string line = program.string() + " " + arguments + " < " + in.string() + " > " +
                             out.string() + " 2> " + err.string();
    const int raw = std::system(line.c_str());
    Outcome outcome;
    outcome.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    auto read = [](const fs::path& file) {
      std::ifstream stream(file, std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(stream), {});
    };
    outcome.out = read(out);
    outcome.err = read(err);
    return outcome;
  }
  static bool have_program() { return fs::exists(fs::path(ATTN_BINARY_DIR) / "apps" / "attn"); }

  // A sentence of `words` words: longer than kMaxLength tokens for any of the tokenizers.
  static std::string long_text(int words) {
    std::string text;
    for (int i = 0; i < words; ++i) text += (i ? " " : "") + std::string(i % 2 ? "two" : "one");
    return text;
  }

  static testing::TemporaryDirectory* directory_;
};

testing::TemporaryDirectory* InputLimits::directory_ = nullptr;

void expect_contains(const std::string& text, const std::string& fragment) {
  EXPECT_NE(text.find(fragment), std::string::npos) << "in: " << text << "\nmissing: " << fragment;
}

TEST_F(InputLimits, TranslatorNamesTooLongAndInvalidSentences) {
  const tasks::Translator translator = tasks::Translator::load(run("translation"));
  tasks::SearchSettings greedy;
  greedy.method = "greedy";
  greedy.max_length = 4;
  std::string message = error_of([&] { translator.translate({"uno", long_text(40)}, greedy); });
  expect_contains(message, "translate: sentence 2 is ");
  expect_contains(message, "the model takes at most " + std::to_string(kMaxLength));
  message = error_of([&] { translator.translate({"uno", kInvalid}, greedy); });
  expect_contains(message, "translate: sentence 2: invalid UTF-8 at byte 1 (0xFF)");
  // An empty sentence is not an error: it translates to an empty line.
  const auto translations = translator.translate({"uno", "", "dos"}, greedy);
  ASSERT_EQ(translations.size(), 3u);
  EXPECT_EQ(translations[1].front().text, "");
  EXPECT_EQ(translations[1].front().num_tokens, 0);
}

TEST_F(InputLimits, ClassifierNamesEmptyAndInvalidTextsAndCutsLongOnes) {
  const tasks::Classifier classifier = tasks::Classifier::load(run("classification"));
  expect_contains(error_of([&] { classifier.classify({"one", "  \t"}); }),
                  "classify: text 2 is empty");
  expect_contains(error_of([&] { classifier.classify({kInvalid}); }),
                  "classify: text 1: invalid UTF-8 at byte 1 (0xFF)");
  const auto results = classifier.classify({long_text(30)});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].tokens.size(), 4u);  // the run's data.max_length
}

TEST_F(InputLimits, GeneratorNamesTooLongAndInvalidPrompts) {
  const tasks::TextGenerator generator = tasks::TextGenerator::load(run("language_model"));
  tasks::GenerationSettings greedy;
  greedy.method = "greedy";
  greedy.max_length = 3;
  std::string message = error_of([&] { generator.generate({"one", long_text(10)}, greedy); });
  expect_contains(message, "generate: prompt 2 is ");
  expect_contains(message, "the model takes at most " + std::to_string(kMaxLength));
  expect_contains(error_of([&] { generator.generate({"one", kInvalid}, greedy); }),
                  "generate: prompt 2: invalid UTF-8 at byte 1 (0xFF)");
  // An empty prompt starts a paragraph from nothing.
  EXPECT_EQ(generator.generate({""}, greedy).size(), 1u);
}

TEST_F(InputLimits, CommandsReportBadInputWithExitStatusOne) {
  if (!have_program()) GTEST_SKIP() << "the attn program is not built";
  const std::string translation = " --checkpoint " + run("translation").string();
  const std::string classification = " --checkpoint " + run("classification").string();
  const std::string language_model = " --checkpoint " + run("language_model").string();
  struct Case {
    std::string arguments, stdin_text, message;
  };
  const std::vector<Case> cases = {
      {"translate" + translation + " --method greedy", "uno\n" + long_text(40) + "\n",
       "attn: translate: sentence 2 is "},
      {"translate" + translation + " --method greedy", "uno\n" + kInvalid + "\n",
       "attn: translate: sentence 2: invalid UTF-8 at byte 1 (0xFF)"},
      {"classify" + classification, "one\n\n", "attn: classify: line 2 of standard input is empty"},
      {"classify" + classification + " ''", "", "attn: classify: argument 1 is empty"},
      {"classify" + classification, kInvalid + "\n", "attn: classify: text 1: invalid UTF-8"},
      {"generate" + language_model + " --method greedy --max-length 2", long_text(10) + "\n",
       "attn: generate: prompt 1 is "},
      {"generate" + language_model + " --method greedy --max-length 2", "one\n" + kInvalid + "\n",
       "attn: generate: prompt 2: invalid UTF-8 at byte 1 (0xFF)"},
  };
  for (const Case& test : cases) {
    const Outcome outcome = command(test.arguments, test.stdin_text);
    EXPECT_EQ(outcome.status, 1) << test.arguments << "\n" << outcome.err;
    expect_contains(outcome.err, test.message);
  }
}

}  // namespace
}  // namespace attn
