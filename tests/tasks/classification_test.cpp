#include "attn/tasks/classification.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>

#include "attn/core/error.h"
#include "attn/core/random.h"
#include "attn/data/text_files.h"
#include "attn/io/checkpoint.h"
#include "attn/nn/linear.h"
#include "attn/tasks/registry.h"
#include "attn/text/word_vocabulary.h"
#include "attn/train/trainer.h"
#include "support/pretrained_model.h"
#include "support/temporary_directory.h"
#include "support/tiny_bert_folder.h"

namespace attn::tasks {
namespace {

namespace fs = std::filesystem;
using attn::testing::TemporaryDirectory;

const std::vector<std::string> kColours = {"red", "green", "blue"};

// A toy task: a few filler words with one colour word among them; the label is the colour.
std::vector<data::LabeledText> colour_texts(std::uint32_t seed, int count) {
  std::mt19937 engine(seed);
  std::vector<data::LabeledText> texts;
  for (int i = 0; i < count; ++i) {
    const auto label = static_cast<std::int64_t>(engine() % kColours.size());
    const int fillers = 3 + static_cast<int>(engine() % 7);
    const int position = static_cast<int>(engine() % (fillers + 1));
    std::string text;
    for (int word = 0; word <= fillers; ++word) {
      if (!text.empty()) text += ' ';
      text += word == position ? kColours[label] : "w" + std::to_string(engine() % 20);
    }
    texts.push_back({label, text});
  }
  return texts;
}

void write_colour_data(const fs::path& directory) {
  fs::create_directories(directory);
  data::write_labeled_tsv((directory / "train.tsv").string(), colour_texts(1, 192));
  data::write_labeled_tsv((directory / "valid.tsv").string(), colour_texts(2, 48));
  data::write_lines((directory / "labels.txt").string(), kColours);
}

std::string bigru_config(const fs::path& data_dir, const fs::path& run_dir, int max_steps) {
  std::ostringstream toml;
  toml << "[task]\nkind = \"classification\"\n"
       << "[data]\nsource = \"tsv\"\ndir = \"" << data_dir.string() << "\"\n"
       << "max_length = 16\nbatch_size = 16\n"
       << "[tokenizer]\nkind = \"word\"\nvocab_size = 0\n"
       << "[model]\narch = \"bigru\"\n"
       << "[model.bigru]\nembedding_size = 16\nhidden_size = 16\nattention_size = 8\ndropout = 0.0\n"
       << "[train]\nrun_dir = \"" << run_dir.string() << "\"\nseed = 3\noptimizer = \"adam\"\n"
       << "learning_rate = 0.02\nmax_steps = " << max_steps << "\nvalidate_every = 12\n"
       << "best_metric = \"accuracy\"\nbest_mode = \"max\"\nprogress = \"none\"\nlog_every = 4\n";
  return toml.str();
}

std::string transformer_config(const fs::path& data_dir, const fs::path& run_dir) {
  std::ostringstream toml;
  toml << "[task]\nkind = \"classification\"\n"
       << "[data]\nsource = \"tsv\"\ndir = \"" << data_dir.string() << "\"\n"
       << "max_length = 16\nbatch_size = 16\n"
       << "[tokenizer]\nkind = \"word\"\nvocab_size = 0\n"
       << "[model]\narch = \"transformer\"\n"
       << "[model.transformer]\nd_model = 32\nnum_heads = 2\nd_ff = 64\nnum_layers = 1\n"
       << "dropout = 0.0\n"
       << "[train]\nrun_dir = \"" << run_dir.string() << "\"\nseed = 3\noptimizer = \"adam\"\n"
       << "learning_rate = 0.005\nmax_steps = 60\nvalidate_every = 12\n"
       << "best_metric = \"accuracy\"\nbest_mode = \"max\"\nprogress = \"none\"\n";
  return toml.str();
}

// Fine-tuning a pretrained folder (model.arch = pretrained).
std::string pretrained_config(const fs::path& data_dir, const fs::path& run_dir,
                              const std::string& folder, double learning_rate, int max_steps) {
  std::ostringstream toml;
  toml << "[task]\nkind = \"classification\"\n"
       << "[data]\nsource = \"tsv\"\ndir = \"" << data_dir.string() << "\"\n"
       << "max_length = 12\nbatch_size = 16\n"
       << "[model]\narch = \"pretrained\"\npretrained = \"" << folder << "\"\n"
       << "classifier_dropout = 0.0\n"
       << "[train]\nrun_dir = \"" << run_dir.string() << "\"\nseed = 3\noptimizer = \"adamw\"\n"
       << "learning_rate = " << learning_rate << "\nmax_steps = " << max_steps
       << "\nvalidate_every = " << max_steps << "\n"
       << "best_metric = \"accuracy\"\nbest_mode = \"max\"\nprogress = \"none\"\n";
  return toml.str();
}

// A tiny random BERT folder whose vocabulary holds the colour task's words.
std::unique_ptr<attn::testing::TinyBertFolder> colour_bert_folder() {
  std::vector<std::string> vocabulary = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  vocabulary.insert(vocabulary.end(), kColours.begin(), kColours.end());
  for (int i = 0; i < 20; ++i) vocabulary.push_back("w" + std::to_string(i));
  auto folder = std::make_unique<attn::testing::TinyBertFolder>(vocabulary);
  folder->write();
  return folder;
}

struct Trained {
  std::unique_ptr<ClassificationTask> task;
  train::TrainResult result;
};

Trained train_from(const std::string& toml, bool resume = false) {
  train::Config config = train::Config::parse(toml, classification_schema());
  manual_seed(static_cast<std::uint64_t>(config.get<std::int64_t>("train.seed")));
  std::ostringstream log;
  Trained trained;
  trained.task = std::make_unique<ClassificationTask>(config, resume, log);
  train::TrainerOptions options = train::trainer_options(config);
  options.resume = resume;
  trained.result = train::Trainer(*trained.task, options).fit();
  return trained;
}

double accuracy_of(const Classifier& classifier, const std::vector<data::LabeledText>& examples) {
  std::vector<std::string> texts;
  for (const auto& example : examples) texts.push_back(example.text);
  const std::vector<Classification> results = classifier.classify(texts);
  double correct = 0;
  for (std::size_t i = 0; i < examples.size(); ++i) correct += results[i].label == examples[i].label;
  return correct / static_cast<double>(examples.size());
}

TEST(ClassificationTask, BiGruLearnsAToyTaskAndItsCheckpointClassifiesTheSame) {
  TemporaryDirectory directory("attn_classification");
  write_colour_data(directory.path() / "data");
  const fs::path run_dir = directory.path() / "run";
  Trained trained = train_from(bigru_config(directory.path() / "data", run_dir, 60));

  ASSERT_TRUE(trained.result.last_validation.has_value());
  EXPECT_GE(trained.result.last_validation->metric("accuracy"), 0.9);
  EXPECT_EQ(trained.task->label_names(), kColours);

  // Texts never seen in training.
  const std::vector<data::LabeledText> fresh = colour_texts(7, 60);
  const Classifier loaded = Classifier::load(run_dir);
  EXPECT_EQ(loaded.label_names(), kColours);
  EXPECT_EQ(loaded.model().arch(), "bigru");
  EXPECT_GE(accuracy_of(loaded, fresh), 0.9);

  // The last checkpoint holds the model as training left it: identical probabilities.
  const Classifier last = Classifier::load(run_dir / "checkpoints" / "last.safetensors");
  const Classifier in_memory = trained.task->classifier();
  std::vector<std::string> texts;
  for (const auto& example : fresh) texts.push_back(example.text);
  const auto from_disk = last.classify(texts);
  const auto from_memory = in_memory.classify(texts);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(from_disk[i].probabilities, from_memory[i].probabilities) << texts[i];
    EXPECT_EQ(from_disk[i].tokens, from_memory[i].tokens);
  }
}

TEST(ClassificationTask, BiGruGivesOneAttentionWeightPerTokenIndependentOfBatching) {
  TemporaryDirectory directory("attn_classification");
  write_colour_data(directory.path() / "data");
  Trained trained = train_from(bigru_config(directory.path() / "data", directory.path() / "run", 12));
  const Classifier classifier = trained.task->classifier();
  const std::vector<std::string> texts = {"red w1 w2", "w3 w4 w5 w6 w7 green w8 w9", "blue",
                                          "w1 unseenword blue w2"};
  const auto together = classifier.classify(texts, 8);
  const auto one_by_one = classifier.classify(texts, 1);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Classification& result = together[i];
    ASSERT_EQ(result.tokens.size(), result.attention.size()) << texts[i];
    double total = 0;
    for (double weight : result.attention) total += weight;
    EXPECT_NEAR(total, 1.0, 1e-5) << texts[i];
    ASSERT_EQ(result.probabilities.size(), 3u);
    EXPECT_EQ(result.label_name, kColours[static_cast<std::size_t>(result.label)]);
    for (std::size_t c = 0; c < 3; ++c) {
      EXPECT_NEAR(result.probabilities[c], one_by_one[i].probabilities[c], 1e-5) << texts[i];
    }
  }
  EXPECT_EQ(together[3].tokens, (std::vector<std::string>{"w1", "<unk>", "blue", "w2"}));
  // The model's mode survives classification (a task may classify while it trains).
  trained.task->model().train();
  classifier.classify({"red"});
  EXPECT_TRUE(trained.task->model().is_training());
  trained.task->model().eval();
  classifier.classify({"red"});
  EXPECT_FALSE(trained.task->model().is_training());
}

TEST(ClassificationTask, TransformerLearnsAToyTask) {
  TemporaryDirectory directory("attn_classification");
  write_colour_data(directory.path() / "data");
  const fs::path run_dir = directory.path() / "run";
  Trained trained = train_from(transformer_config(directory.path() / "data", run_dir));
  ASSERT_TRUE(trained.result.last_validation.has_value());
  EXPECT_GE(trained.result.last_validation->metric("accuracy"), 0.9);

  const Classifier loaded = Classifier::load(run_dir);
  EXPECT_EQ(loaded.model().arch(), "transformer");
  EXPECT_GE(accuracy_of(loaded, colour_texts(7, 60)), 0.9);
  const auto results = loaded.classify({"w1 w2 green"});
  EXPECT_TRUE(results[0].attention.empty());
  EXPECT_EQ(results[0].tokens.size(), 3u);
}

TEST(ClassificationTask, ResumedRunComputesTheSameLosses) {
  TemporaryDirectory directory("attn_classification");
  write_colour_data(directory.path() / "data");
  const fs::path straight = directory.path() / "straight", split = directory.path() / "split";
  // With dropout, so that resuming must also restore the generator.
  auto with_dropout = [](std::string toml) {
    const std::string from = "dropout = 0.0";
    toml.replace(toml.find(from), from.size(), "dropout = 0.3");
    return toml;
  };
  train_from(with_dropout(bigru_config(directory.path() / "data", straight, 20)));
  train_from(with_dropout(bigru_config(directory.path() / "data", split, 9)));
  Trained resumed = train_from(with_dropout(bigru_config(directory.path() / "data", split, 20)), true);
  EXPECT_EQ(resumed.result.steps, 20);
  const auto read = [](const fs::path& checkpoint) {
    return io::load_checkpoint(checkpoint.string()).tensors;
  };
  const auto a = read(straight / "checkpoints" / "last.safetensors");
  const auto b = read(split / "checkpoints" / "last.safetensors");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) {
    EXPECT_EQ(tensor.to_vector<float>(), b.at(name).to_vector<float>()) << name;
  }
}

TEST(ClassificationTask, PretrainedEncoderFineTunesAndItsRunDirectoryClassifiesTheSame) {
  TemporaryDirectory directory("attn_classification");
  write_colour_data(directory.path() / "data");
  const auto folder = colour_bert_folder();
  const fs::path run_dir = directory.path() / "run";
  Trained trained = train_from(pretrained_config(directory.path() / "data", run_dir, folder->path(), 0.01, 120));
  ASSERT_TRUE(trained.result.last_validation.has_value());
  EXPECT_GE(trained.result.last_validation->metric("accuracy"), 0.9);

  // The run directory holds everything: the folder's tokenizer (as the folder's files) and
  // every weight, so the model folder is no longer needed.
  EXPECT_TRUE(fs::exists(run_dir / "checkpoints" / "input.vocab.txt"));
  const Classifier loaded = Classifier::load(run_dir / "checkpoints" / "last.safetensors");
  EXPECT_EQ(loaded.model().arch(), "pretrained");
  EXPECT_EQ(loaded.tokenizer().kind(), text::TokenizerKind::kWordPiece);
  const std::vector<data::LabeledText> fresh = colour_texts(7, 60);
  EXPECT_GE(accuracy_of(loaded, fresh), 0.9);
  std::vector<std::string> texts;
  for (const auto& example : fresh) texts.push_back(example.text);
  const auto from_disk = loaded.classify(texts);
  const auto from_memory = trained.task->classifier().classify(texts);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(from_disk[i].probabilities, from_memory[i].probabilities) << texts[i];
  }
  // The pieces the model read, without [CLS] and [SEP] (the model adds them).
  EXPECT_EQ(loaded.classify({"W1 Green"})[0].tokens, (std::vector<std::string>{"w1", "green"}));
  // An unknown word reads as [UNK], and a text of no pieces as one [UNK].
  EXPECT_EQ(loaded.classify({"purple"})[0].tokens, (std::vector<std::string>{"[UNK]"}));
}

TEST(ClassificationTask, PretrainedResumedRunComputesTheSameWeights) {
  TemporaryDirectory directory("attn_classification");
  write_colour_data(directory.path() / "data");
  const auto folder = colour_bert_folder();
  const fs::path straight = directory.path() / "straight", split = directory.path() / "split";
  // With dropout, so that resuming must also restore the generator.
  auto config = [&](const fs::path& run_dir, int steps) {
    std::string toml = pretrained_config(directory.path() / "data", run_dir, folder->path(), 0.01, steps);
    const std::string from = "classifier_dropout = 0.0";
    return toml.replace(toml.find(from), from.size(), "classifier_dropout = 0.3");
  };
  train_from(config(straight, 12));
  train_from(config(split, 5));
  Trained resumed = train_from(config(split, 12), true);
  EXPECT_EQ(resumed.result.steps, 12);
  const auto a = io::load_checkpoint((straight / "checkpoints" / "last.safetensors").string()).tensors;
  const auto b = io::load_checkpoint((split / "checkpoints" / "last.safetensors").string()).tensors;
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) {
    EXPECT_EQ(tensor.to_vector<float>(), b.at(name).to_vector<float>()) << name;
  }
}

TEST(ClassificationTask, PretrainedFromRandomWeightsKeepsTheFoldersArchitecture) {
  TemporaryDirectory directory("attn_classification");
  write_colour_data(directory.path() / "data");
  const auto folder = colour_bert_folder();
  train::Config config = train::Config::parse(
      pretrained_config(directory.path() / "data", directory.path() / "run", folder->path(), 0.01, 1),
      classification_schema());
  const std::string word_embeddings = "bert.embeddings.word_embeddings.weight";
  const Tensor pretrained = folder->model.state_dict().at("embeddings.word_embeddings.weight");
  std::ostringstream log;
  {
    manual_seed(3);
    ClassificationTask task(config, false, log);
    EXPECT_EQ(task.model().state_dict().at(word_embeddings).to_vector<float>(),
              pretrained.to_vector<float>());
  }
  config.set("model.pretrained_weights", false);
  config.set("train.run_dir", (directory.path() / "random").string());
  manual_seed(3);
  ClassificationTask task(config, false, log);
  EXPECT_NE(task.model().state_dict().at(word_embeddings).to_vector<float>(),
            pretrained.to_vector<float>());
  EXPECT_EQ(task.model().num_parameters(),
            folder->model.num_parameters() + 3 * 8 + 3);  // the same encoder and a 3-class head
  EXPECT_NE(log.str().find("random weights"), std::string::npos) << log.str();
}

TEST(PretrainedMiniLMSlow, FineTunesOnAToyTaskInAFewSteps) {
  TemporaryDirectory directory("attn_classification");
  write_colour_data(directory.path() / "data");
  Trained trained = train_from(pretrained_config(directory.path() / "data", directory.path() / "run",
                                                 attn::testing::minilm_directory(), 1e-4, 24));
  ASSERT_TRUE(trained.result.last_validation.has_value());
  EXPECT_GE(trained.result.last_validation->metric("accuracy"), 0.9);
}

TEST(ClassificationTask, RegistryBuildsTheTaskFromItsKind) {
  TemporaryDirectory directory("attn_classification");
  write_colour_data(directory.path() / "data");
  const std::vector<std::string> kinds = task_kinds();
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "classification"), kinds.end());
  train::Config config = train::Config::parse(
      bigru_config(directory.path() / "data", directory.path() / "run", 1), task_schema("classification"));
  std::ostringstream log;
  std::unique_ptr<train::Task> task = make_task("classification", config, false, log);
  EXPECT_EQ(task->unit_name(), "ex");
  EXPECT_EQ(task->batches_per_epoch(), 12);
  const nlohmann::json saved = nlohmann::json::parse(task->model_config_json());
  EXPECT_EQ(saved["task"], "classification");
  EXPECT_EQ(saved["arch"], "bigru");
  EXPECT_EQ(saved["labels"], nlohmann::json(kColours));
  EXPECT_EQ(saved["max_length"], 16);
  EXPECT_EQ(saved["model"]["num_classes"], 3);
  EXPECT_NE(log.str().find("192 training texts"), std::string::npos) << log.str();
  EXPECT_TRUE(fs::exists(directory.path() / "run" / "checkpoints" / "input.tokenizer.json"));
}

// ---- encoding -----------------------------------------------------------------------------

TEST(ClassificationIds, TruncatesAtEitherEndAndNeverGivesAnEmptySequence) {
  const std::vector<std::string> texts = {"a b c d e f"};
  const text::WordVocabulary vocabulary = text::WordVocabulary::build(texts);
  const std::vector<std::int64_t> all = vocabulary.encode("a b c d e f");
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(classification_ids(vocabulary, "a b c d e f", 0, data::Truncation::KeepStart), all);
  EXPECT_EQ(classification_ids(vocabulary, "a b c d e f", 4, data::Truncation::KeepStart),
            std::vector<std::int64_t>(all.begin(), all.begin() + 4));
  EXPECT_EQ(classification_ids(vocabulary, "a b c d e f", 4, data::Truncation::KeepEnd),
            std::vector<std::int64_t>(all.end() - 4, all.end()));
  EXPECT_EQ(classification_ids(vocabulary, "!!! ...", 4, data::Truncation::KeepStart),
            std::vector<std::int64_t>{text::kUnkId});
  EXPECT_THROW(classification_ids(vocabulary, "a b c d e f", 4, data::Truncation::Error), Error);
  EXPECT_EQ(truncation_from_string("keep_end"), data::Truncation::KeepEnd);
  EXPECT_EQ(truncation_name(data::Truncation::KeepStart), "keep_start");
  EXPECT_THROW(truncation_from_string("middle"), Error);
}

// ---- data sources ---------------------------------------------------------------------------

void write_review(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

TEST(ClassificationData, ImdbValidationIsAFixedSeededSliceOfTrain) {
  TemporaryDirectory directory("attn_classification");
  const fs::path imdb = directory.path() / "aclImdb";
  for (int i = 0; i < 10; ++i) {
    write_review(imdb / "train" / "pos" / (std::to_string(i) + "_9.txt"), "great<br /><br />film " + std::to_string(i));
    write_review(imdb / "train" / "neg" / (std::to_string(i) + "_2.txt"), "dull film " + std::to_string(i));
  }
  auto load = [&](int seed) {
    train::Config config(classification_schema());
    config.set("data.source", std::string("imdb"));
    config.set("data.dir", imdb.string());
    config.set("data.valid_fraction", 0.25);
    config.set("data.valid_seed", std::int64_t{seed});
    return load_classification_data(config);
  };
  const ClassificationData first = load(1), again = load(1), other = load(2);
  EXPECT_EQ(first.label_names, (std::vector<std::string>{"neg", "pos"}));
  ASSERT_EQ(first.valid.size(), 5u);
  ASSERT_EQ(first.train.size(), 15u);
  std::multiset<std::string> all;
  for (const auto* part : {&first.train, &first.valid}) {
    for (const auto& example : *part) {
      all.insert(example.text);
      EXPECT_EQ(example.text.find("<br"), std::string::npos) << example.text;
      EXPECT_EQ(example.label, example.text.rfind("great", 0) == 0 ? 1 : 0) << example.text;
    }
  }
  EXPECT_EQ(all.size(), 20u);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 20u);
  std::vector<std::string> first_valid, again_valid, other_valid;
  for (const auto& example : first.valid) first_valid.push_back(example.text);
  for (const auto& example : again.valid) again_valid.push_back(example.text);
  for (const auto& example : other.valid) other_valid.push_back(example.text);
  EXPECT_EQ(first_valid, again_valid);
  EXPECT_NE(first_valid, other_valid);
}

TEST(ClassificationData, TsvWithoutLabelsFileNamesLabelsByNumber) {
  TemporaryDirectory directory("attn_classification");
  data::write_labeled_tsv(directory.file("train.tsv"), {{0, "a"}, {2, "b"}});
  data::write_labeled_tsv(directory.file("valid.tsv"), {{1, "c"}});
  train::Config config(classification_schema());
  config.set("data.source", std::string("tsv"));
  config.set("data.dir", directory.path().string());
  const ClassificationData loaded = load_classification_data(config);
  EXPECT_EQ(loaded.label_names, (std::vector<std::string>{"0", "1", "2"}));

  // A label beyond labels.txt names the file and line.
  data::write_lines(directory.file("labels.txt"), {"x", "y"});
  try {
    load_classification_data(config);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("train.tsv:2"), std::string::npos) << error.what();
  }
}

// ---- bad input ------------------------------------------------------------------------------

std::string message_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(ClassificationErrors, UnknownConfigKeyIsNamed) {
  const std::string message = message_of([] {
    train::Config::parse("[model.bigru]\nhiden_size = 8\n", classification_schema());
  });
  EXPECT_NE(message.find("model.bigru.hiden_size"), std::string::npos) << message;
  EXPECT_NE(message.find("model.bigru.hidden_size"), std::string::npos) << message;
  // Derived fields are not keys.
  EXPECT_NE(message_of([] {
              train::Config::parse("[model.bigru]\nvocab_size = 8\n", classification_schema());
            }).find("model.bigru.vocab_size"),
            std::string::npos);
}

TEST(ClassificationErrors, MissingFilesEmptyTextsAndOtherTasksAreClearErrors) {
  TemporaryDirectory directory("attn_classification");
  write_colour_data(directory.path() / "data");
  fs::remove(directory.path() / "data" / "valid.tsv");
  train::Config config = train::Config::parse(
      bigru_config(directory.path() / "data", directory.path() / "run", 1), classification_schema());
  std::ostringstream log;
  std::string message = message_of([&] { ClassificationTask task(config, false, log); });
  EXPECT_NE(message.find("valid.tsv"), std::string::npos) << message;

  write_colour_data(directory.path() / "data");
  Trained trained = train_from(bigru_config(directory.path() / "data", directory.path() / "run2", 1));
  const Classifier classifier = trained.task->classifier();
  message = message_of([&] { classifier.classify({"red", "  ", "blue"}); });
  EXPECT_NE(message.find("text 2 is empty"), std::string::npos) << message;

  // A checkpoint of another task.
  nn::Linear linear(2, 2);
  const std::string other = directory.file("other.safetensors");
  io::save_checkpoint(other, linear, R"({"task": "language_model"})");
  message = message_of([&] { Classifier::load(other); });
  EXPECT_NE(message.find("language_model"), std::string::npos) << message;
  message = message_of([&] { Classifier::load(directory.path() / "nowhere"); });
  EXPECT_NE(message.find("nowhere"), std::string::npos) << message;

  // Fine-tuning needs a folder, a folder needs arch = pretrained, and texts must fit its
  // positions.
  config.set("model.arch", std::string("pretrained"));
  message = message_of([&] { ClassificationTask task(config, false, log); });
  EXPECT_NE(message.find("needs model.pretrained"), std::string::npos) << message;
  const auto folder = colour_bert_folder();
  config.set("model.arch", std::string("bigru"));
  config.set("model.pretrained", folder->path());
  message = message_of([&] { ClassificationTask task(config, false, log); });
  EXPECT_NE(message.find("set model.arch = \"pretrained\""), std::string::npos) << message;
  config.set("model.arch", std::string("pretrained"));
  config.set("data.max_length", std::int64_t{15});
  message = message_of([&] { ClassificationTask task(config, false, log); });
  EXPECT_NE(message.find("data.max_length 15"), std::string::npos) << message;
  EXPECT_NE(message.find("14 pieces"), std::string::npos) << message;
  config.set("model.pretrained", (directory.path() / "no-model").string());
  message = message_of([&] { ClassificationTask task(config, false, log); });
  EXPECT_NE(message.find("no-model"), std::string::npos) << message;
  config.set("model.pretrained", std::string());

  // A Transformer needs a length limit for its positions.
  config.set("model.arch", std::string("transformer"));
  config.set("data.max_length", std::int64_t{0});
  message = message_of([&] { ClassificationTask task(config, false, log); });
  EXPECT_NE(message.find("data.max_length"), std::string::npos) << message;
}

}  // namespace
}  // namespace attn::tasks
