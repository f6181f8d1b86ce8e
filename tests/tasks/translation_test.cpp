// The translation task end to end on a toy parallel corpus (number words, Spanish to English,
// word by word): SentencePiece trained by the task, a tiny Transformer trained by the
// Trainer, greedy BLEU on validation, and the Translator loaded back from the run directory.
#include "attn/tasks/translation.h"

#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "attn/core/error.h"
#include "attn/core/random.h"
#include "attn/data/text_files.h"
#include "attn/train/trainer.h"
#include "support/temporary_directory.h"

namespace attn::tasks {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kSpanish = {"uno", "dos", "tres", "cuatro", "cinco", "seis"};
const std::vector<std::string> kEnglish = {"one", "two", "three", "four", "five", "six"};

// Sentences of 2 to 5 number words; the English side is the word-by-word translation.
void write_numbers(const fs::path& directory, const std::string& split, std::uint32_t seed, int count) {
  std::mt19937 engine(seed);
  std::vector<std::string> source, target;
  for (int i = 0; i < count; ++i) {
    const int length = 2 + static_cast<int>(engine() % 4);
    std::string es, en;
    for (int word = 0; word < length; ++word) {
      const std::size_t number = engine() % kSpanish.size();
      es += (word ? " " : "") + kSpanish[number];
      en += (word ? " " : "") + kEnglish[number];
    }
    source.push_back(es);
    target.push_back(en);
  }
  data::write_lines((directory / (split + ".es")).string(), source);
  data::write_lines((directory / (split + ".en")).string(), target);
}

std::string numbers_config(const fs::path& data_dir, const fs::path& run_dir) {
  std::ostringstream toml;
  toml << "[task]\nkind = \"translation\"\n"
       << "[data]\ndir = \"" << data_dir.string() << "\"\nmax_tokens = 512\nmax_length = 32\n"
       << "[tokenizer]\nvocab_size = 40\nmodel_type = \"bpe\"\n"
       << "[model.transformer]\nd_model = 64\nnum_heads = 4\nd_ff = 128\nencoder_layers = 1\n"
       << "decoder_layers = 1\ndropout = 0.0\nmax_length = 32\n"
       << "[loss]\nlabel_smoothing = 0.0\n[eval]\nbleu_sentences = 40\n"
       << "[train]\nrun_dir = \"" << run_dir.string() << "\"\nseed = 2\noptimizer = \"adam\"\n"
       << "learning_rate = 0.003\nmax_steps = 400\nvalidate_every = 400\nprogress = \"none\"\n"
       << "max_minutes = 0.0\n";
  return toml.str();
}

TEST(TranslationTask, LearnsWordByWordNumbersAndLoadsBack) {
  testing::TemporaryDirectory directory("attn_translation_task");
  const fs::path data_dir = directory.path() / "data";
  fs::create_directories(data_dir);
  write_numbers(data_dir, "train", 1, 400);
  write_numbers(data_dir, "valid", 2, 40);
  const fs::path run_dir = directory.path() / "run";
  train::Config config =
      train::Config::parse(numbers_config(data_dir, run_dir), translation_schema(), "numbers.toml");
  manual_seed(2);
  std::ostringstream log;
  TranslationTask task(config, /*resume=*/false, log);
  train::TrainerOptions options = train::trainer_options(config);
  std::ostringstream progress;
  options.progress_stream = &progress;
  const train::TrainResult result = train::Trainer(task, options).fit();
  ASSERT_TRUE(result.last_validation.has_value());
  // Greedy BLEU on 40 validation sentences: a model that has learnt the word mapping.
  EXPECT_GT(result.last_validation->metric("bleu"), 60.0) << log.str();

  // The run directory holds all a translator needs; it translates as the trained model does.
  const Translator translator = Translator::load(run_dir);
  SearchSettings greedy;
  greedy.method = "greedy";
  const std::vector<std::string> sentences = {"tres uno cinco", "seis dos", ""};
  const auto loaded = translator.translate_best(sentences, greedy);
  task.model().eval();
  const auto in_memory = translate_sentences(task.translation_model(), task.source_tokenizer(),
                                             task.target_tokenizer(), sentences, greedy);
  ASSERT_EQ(loaded.size(), 3u);
  for (std::size_t i = 0; i < sentences.size(); ++i) EXPECT_EQ(loaded[i], in_memory[i].front().text);
  EXPECT_EQ(loaded[2], "");

  // A sentence longer than the model's 32 positions is an error that says so.
  std::string too_long;
  for (int i = 0; i < 40; ++i) too_long += "uno ";
  try {
    translator.translate_best({too_long}, greedy);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("the model takes at most 32"), std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace attn::tasks
