#include "attn/tasks/language_modeling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "attn/autograd/grad_mode.h"
#include "attn/core/error.h"
#include "attn/core/random.h"
#include "attn/data/text_files.h"
#include "attn/io/checkpoint.h"
#include "attn/nn/linear.h"
#include "attn/tasks/registry.h"
#include "attn/text/char_vocabulary.h"
#include "attn/train/trainer.h"
#include "support/temporary_directory.h"

namespace attn::tasks {
namespace {

namespace fs = std::filesystem;
using attn::testing::TemporaryDirectory;

// Paragraphs of one to three sentences from a tiny grammar.
std::vector<std::string> paragraphs(std::uint32_t seed, int count) {
  const std::vector<std::string> subjects = {"the cat", "a dog", "the bird", "my friend"};
  const std::vector<std::string> verbs = {"sat on", "ran to", "looked at"};
  const std::vector<std::string> objects = {"the mat", "the park", "a tree"};
  std::mt19937 engine(seed);
  std::vector<std::string> result;
  for (int i = 0; i < count; ++i) {
    std::string paragraph;
    const int sentences = 1 + static_cast<int>(engine() % 3);
    for (int s = 0; s < sentences; ++s) {
      if (!paragraph.empty()) paragraph += ' ';
      paragraph += subjects[engine() % subjects.size()] + " " + verbs[engine() % verbs.size()] + " " +
                   objects[engine() % objects.size()] + ".";
    }
    result.push_back(paragraph);
  }
  return result;
}

void write_text_data(const fs::path& directory) {
  fs::create_directories(directory);
  data::write_lines((directory / "train.txt").string(), paragraphs(1, 60));
  data::write_lines((directory / "valid.txt").string(), paragraphs(2, 12));
}

std::string lm_config(const fs::path& data_dir, const fs::path& run_dir, int max_steps,
                      double dropout = 0.0) {
  std::ostringstream toml;
  toml << "[task]\nkind = \"language_model\"\n"
       << "[data]\nsource = \"text\"\ndir = \"" << data_dir.string() << "\"\n"
       << "context_length = 32\nbatch_size = 8\n"
       << "[tokenizer]\nkind = \"char\"\nvocab_size = 0\n"
       << "[model.transformer]\nd_model = 32\nnum_heads = 2\nd_ff = 64\nnum_layers = 2\n"
       << "dropout = " << dropout << "\n"
       << "[train]\nrun_dir = \"" << run_dir.string() << "\"\nseed = 5\noptimizer = \"adam\"\n"
       << "learning_rate = 0.005\nmax_steps = " << max_steps << "\nvalidate_every = 10\n"
       << "progress = \"none\"\nlog_every = 5\n";
  return toml.str();
}

struct Trained {
  std::unique_ptr<LanguageModelTask> task;
  train::TrainResult result;
  double initial_perplexity = 0;
};

Trained train_from(const std::string& toml, bool resume = false) {
  train::Config config = train::Config::parse(toml, language_model_schema());
  manual_seed(static_cast<std::uint64_t>(config.get<std::int64_t>("train.seed")));
  std::ostringstream log;
  Trained trained;
  trained.task = std::make_unique<LanguageModelTask>(config, resume, log);
  {
    // Validation as the trainer runs it: eval mode, no gradients.
    NoGradGuard no_grad;
    trained.task->model().eval();
    trained.initial_perplexity = trained.task->validate().metric("perplexity");
    trained.task->model().train();
  }
  train::TrainerOptions options = train::trainer_options(config);
  options.resume = resume;
  trained.result = train::Trainer(*trained.task, options).fit();
  return trained;
}

std::string message_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(LanguageModelTask, PerplexityFallsAndGenerationIsRepeatable) {
  TemporaryDirectory directory("attn_language_model");
  write_text_data(directory.path() / "data");
  const fs::path run_dir = directory.path() / "run";
  Trained trained = train_from(lm_config(directory.path() / "data", run_dir, 40));
  ASSERT_TRUE(trained.result.last_validation.has_value());
  const double final_perplexity = trained.result.last_validation->metric("perplexity");
  EXPECT_NEAR(std::log(final_perplexity), trained.result.last_validation->loss, 1e-9);
  EXPECT_LT(final_perplexity, 0.5 * trained.initial_perplexity)
      << "from " << trained.initial_perplexity << " to " << final_perplexity;

  const TextGenerator generator = TextGenerator::load(run_dir / "checkpoints" / "last.safetensors");
  GenerationSettings greedy;
  greedy.method = "greedy";
  greedy.max_length = 40;
  const std::vector<std::string> prompts = {"the cat", "", "a dog ran"};
  const std::vector<Generation> first = generator.generate(prompts, greedy);
  const std::vector<Generation> second = generator.generate(prompts, greedy);
  ASSERT_EQ(first.size(), 3u);
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(first[i].text, second[i].text);
    EXPECT_EQ(first[i].text, first[i].prompt + first[i].continuation);
    EXPECT_FALSE(first[i].tokens.empty());
    EXPECT_LE(static_cast<std::int64_t>(first[i].tokens.size()), greedy.max_length);
  }
  // The checkpoint holds the model as training left it.
  const std::vector<Generation> in_memory = trained.task->generator().generate(prompts, greedy);
  for (std::size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(in_memory[i].tokens, first[i].tokens);

  GenerationSettings sampling;
  sampling.method = "sample";
  sampling.temperature = 1.5;
  sampling.max_length = 30;
  sampling.seed = 11;
  const auto sampled = generator.generate(prompts, sampling);
  const auto resampled = generator.generate(prompts, sampling);
  sampling.seed = 12;
  const auto other_seed = generator.generate(prompts, sampling);
  bool any_different = false;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(sampled[i].tokens, resampled[i].tokens);
    any_different = any_different || sampled[i].tokens != other_seed[i].tokens;
  }
  EXPECT_TRUE(any_different);

  GenerationSettings beam = greedy;
  beam.method = "beam";
  beam.beam_size = 1;
  const auto beamed = generator.generate(prompts, beam);
  for (std::size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(beamed[i].tokens, first[i].tokens);
}

TEST(LanguageModelTask, ResumedRunEndsWithTheSameParameters) {
  TemporaryDirectory directory("attn_language_model");
  write_text_data(directory.path() / "data");
  const fs::path straight = directory.path() / "straight", split = directory.path() / "split";
  train_from(lm_config(directory.path() / "data", straight, 16, 0.2));
  train_from(lm_config(directory.path() / "data", split, 7, 0.2));
  Trained resumed = train_from(lm_config(directory.path() / "data", split, 16, 0.2), true);
  EXPECT_EQ(resumed.result.steps, 16);
  const auto a = io::load_checkpoint((straight / "checkpoints" / "last.safetensors").string()).tensors;
  const auto b = io::load_checkpoint((split / "checkpoints" / "last.safetensors").string()).tensors;
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) {
    EXPECT_EQ(tensor.to_vector<float>(), b.at(name).to_vector<float>()) << name;
  }
}

TEST(LanguageModelTask, RegistryBuildsTheTaskFromItsKind) {
  TemporaryDirectory directory("attn_language_model");
  write_text_data(directory.path() / "data");
  train::Config config = train::Config::parse(
      lm_config(directory.path() / "data", directory.path() / "run", 1), task_schema("language_model"));
  std::ostringstream log;
  std::unique_ptr<train::Task> task = make_task("language_model", config, false, log);
  const auto* lm = dynamic_cast<LanguageModelTask*>(task.get());
  ASSERT_NE(lm, nullptr);
  EXPECT_EQ(task->batches_per_epoch(), (lm->num_train_blocks() + 7) / 8);
  const nlohmann::json saved = nlohmann::json::parse(task->model_config_json());
  EXPECT_EQ(saved["task"], "language_model");
  EXPECT_EQ(saved["context_length"], 32);
  EXPECT_EQ(saved["model"]["max_length"], 32);
  EXPECT_EQ(saved["model"]["vocab_size"], lm->tokenizer().vocab_size());
  EXPECT_TRUE(fs::exists(directory.path() / "run" / "checkpoints" / "text.tokenizer.json"));
}

// ---- the token stream -------------------------------------------------------------------------

TEST(LanguageModelStream, ParagraphsAreSeparatedByEndTokens) {
  const std::vector<std::string> texts = {"ab", "", "ba c"};
  const text::CharVocabulary vocabulary = text::CharVocabulary::build(texts);
  const std::vector<std::int64_t> stream = paragraph_stream(vocabulary, texts);
  std::vector<std::int64_t> expected{text::kEosId};
  for (const std::string& paragraph : {std::string("ab"), std::string("ba c")}) {
    for (std::int64_t id : vocabulary.encode(paragraph)) expected.push_back(id);
    expected.push_back(text::kEosId);
  }
  EXPECT_EQ(stream, expected);
}

TEST(LanguageModelStream, BlocksOverlapByOneTokenAndDropTheTail) {
  EXPECT_EQ(block_layout(0, 4).num_blocks, 0);
  EXPECT_EQ(block_layout(1, 4).num_blocks, 0);
  const BlockLayout short_stream = block_layout(3, 4);  // 2 predictions: one short block
  EXPECT_EQ(short_stream.num_blocks, 1);
  EXPECT_EQ(short_stream.block_length, 2);
  const BlockLayout exact = block_layout(9, 4);  // 8 predictions: blocks [0, 4], [4, 8]
  EXPECT_EQ(exact.num_blocks, 2);
  EXPECT_EQ(exact.block_length, 4);
  EXPECT_EQ(block_layout(12, 4).num_blocks, 2);  // 11 predictions: the last 3 left out
  EXPECT_THROW(block_layout(10, 0), Error);
}

// ---- bad input ------------------------------------------------------------------------------

TEST(LanguageModelErrors, ConfigPromptsAndCheckpointsGiveClearMessages) {
  std::string message = message_of([] {
    train::Config::parse("[data]\ncontext_lenght = 8\n", language_model_schema());
  });
  EXPECT_NE(message.find("data.context_lenght"), std::string::npos) << message;
  message = message_of([] {
    train::Config::parse("[model.transformer]\nmax_length = 8\n", language_model_schema());
  });
  EXPECT_NE(message.find("model.transformer.max_length"), std::string::npos) << message;

  TemporaryDirectory directory("attn_language_model");
  write_text_data(directory.path() / "data");
  train::Config config = train::Config::parse(
      lm_config(directory.path() / "data", directory.path() / "run", 1), language_model_schema());
  std::ostringstream log;
  LanguageModelTask task(config, false, log);
  const TextGenerator generator = task.generator();
  EXPECT_EQ(generator.max_length(), 32);
  GenerationSettings settings;
  settings.method = "greedy";
  settings.max_length = 5;
  // 31 characters + the leading </s> fit; 32 do not.
  EXPECT_NO_THROW(generator.generate({std::string(31, 'a')}, settings));
  message = message_of([&] { generator.generate({"the cat", std::string(32, 'a')}, settings); });
  EXPECT_NE(message.find("prompt 2 is 33 tokens"), std::string::npos) << message;
  // Characters never seen in training read as <unk>.
  const auto unseen = generator.generate({"ZQX \xE2\x98\x83"}, settings);
  EXPECT_EQ(unseen[0].prompt, "ZQX \xE2\x98\x83");
  settings.method = "nucleus";
  message = message_of([&] { generator.generate({"a"}, settings); });
  EXPECT_NE(message.find("nucleus"), std::string::npos) << message;

  // A checkpoint of another task, and a missing data file.
  nn::Linear linear(2, 2);
  io::save_checkpoint(directory.file("other.safetensors"), linear, R"({"task": "classification"})");
  message = message_of([&] { TextGenerator::load(directory.file("other.safetensors")); });
  EXPECT_NE(message.find("a classification model, not a language_model model"), std::string::npos)
      << message;
  fs::remove(directory.path() / "data" / "valid.txt");
  message = message_of([&] { LanguageModelTask missing(config, false, log); });
  EXPECT_NE(message.find("valid.txt"), std::string::npos) << message;
}

}  // namespace
}  // namespace attn::tasks
