#include "attn/train/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "attn/train/trainer.h"
#include "support/temporary_directory.h"

namespace attn::train {
namespace {

using attn::testing::TemporaryDirectory;

// The trainer's keys plus a model and a data section of every type, as a task declares them.
Schema test_schema() {
  Schema schema = trainer_schema();
  schema.section("model")
      .add("d_model", 32, "model width")
      .add("dropout", 0.1, "dropout probability")
      .add("norm", "post", "where layer norm sits", {"post", "pre"})
      .add("tie_embeddings", true, "share the embedding matrices")
      .add("encoder.num_layers", 2, "encoder layers");
  schema.section("data")
      .add("buckets", std::vector<std::int64_t>{8, 16, 32}, "bucket boundaries")
      .add("weights", std::vector<double>{0.5, 0.5}, "mixture weights")
      .add("books", std::vector<std::string>{"Genesis"}, "books to read")
      .add("path", "data/bible", "where the corpus lives");
  return schema;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// Runs `action`, expecting an attn::Error whose message contains every fragment.
void expect_error(const std::function<void()>& action,
                  std::initializer_list<std::string> fragments) {
  try {
    action();
    ADD_FAILURE() << "expected an attn::Error";
  } catch (const Error& error) {
    std::string message = error.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "message: " << message << "\nmissing: " << fragment;
    }
  }
}

TEST(TrainConfig, StartsFromTheDefaults) {
  Config config(test_schema());
  EXPECT_EQ(config.get<std::int64_t>("model.d_model"), 32);
  EXPECT_EQ(config.get<int>("model.encoder.num_layers"), 2);
  EXPECT_DOUBLE_EQ(config.get<double>("model.dropout"), 0.1);
  EXPECT_EQ(config.get<std::string>("model.norm"), "post");
  EXPECT_TRUE(config.get<bool>("model.tie_embeddings"));
  EXPECT_EQ(config.get<std::vector<std::int64_t>>("data.buckets"),
            (std::vector<std::int64_t>{8, 16, 32}));
  EXPECT_EQ(config.get<std::string>("train.optimizer"), "adamw");
  EXPECT_EQ(config.get<std::int64_t>("train.log_every"), 50);
}

TEST(TrainConfig, ReadsAFileAndOverridesWinOverIt) {
  TemporaryDirectory directory;
  std::string path = directory.file("run.toml");
  write_file(path, R"(
[train]
learning_rate = 3     # an integer where a float is expected is widened
max_steps = 100
optimizer = "sgd"

[model]
d_model = 64
encoder = { num_layers = 4 }

[data]
weights = [1, 2.5]
books = ["Ruth", "Jonah"]
)");
  Config config = Config::load(path, test_schema());
  EXPECT_DOUBLE_EQ(config.get<double>("train.learning_rate"), 3.0);
  EXPECT_EQ(config.get<std::int64_t>("train.max_steps"), 100);
  EXPECT_EQ(config.get<std::int64_t>("model.encoder.num_layers"), 4);
  EXPECT_EQ(config.get<std::vector<double>>("data.weights"), (std::vector<double>{1.0, 2.5}));
  EXPECT_EQ(config.get<std::int64_t>("model.d_model"), 64);

  config.apply_overrides({"model.d_model=128", "train.learning_rate=1e-3",
                          "model.tie_embeddings=false", "model.norm=pre", "data.buckets=[4, 8]",
                          "data.books=Ruth,Jonah,Ezra", "data.path = \"/tmp/x y\"",
                          "data.weights=0.25,0.75"});
  EXPECT_EQ(config.get<std::int64_t>("model.d_model"), 128);
  EXPECT_DOUBLE_EQ(config.get<double>("train.learning_rate"), 1e-3);
  EXPECT_FALSE(config.get<bool>("model.tie_embeddings"));
  EXPECT_EQ(config.get<std::string>("model.norm"), "pre");
  EXPECT_EQ(config.get<std::vector<std::int64_t>>("data.buckets"),
            (std::vector<std::int64_t>{4, 8}));
  EXPECT_EQ(config.get<std::vector<std::string>>("data.books"),
            (std::vector<std::string>{"Ruth", "Jonah", "Ezra"}));
  EXPECT_EQ(config.get<std::string>("data.path"), "/tmp/x y");
  EXPECT_EQ(config.get<std::vector<double>>("data.weights"), (std::vector<double>{0.25, 0.75}));
}

TEST(TrainConfig, UnknownKeyNamesKeyFileLineAndSuggestion) {
  TemporaryDirectory directory;
  std::string path = directory.file("typo.toml");
  write_file(path, "[train]\nmax_steps = 10\nlearnig_rate = 0.1\n");
  expect_error(
      [&] { Config::load(path, test_schema()); },
      {"typo.toml:3", "unknown key 'train.learnig_rate'", "did you mean 'train.learning_rate'"});
}

TEST(TrainConfig, UnknownSectionSuggestsTheKeyItMeant) {
  expect_error([] { Config::parse("[modle]\nd_model = 3\n", test_schema(), "cfg.toml"); },
               {"cfg.toml:1", "unknown section 'modle'", "did you mean 'model.d_model'"});
  expect_error([] { Config::parse("learning_rate = 0.1\n", test_schema(), "cfg.toml"); },
               {"unknown key 'learning_rate'", "did you mean 'train.learning_rate'"});
}

TEST(TrainConfig, WrongTypeNamesKeyExpectedAndFoundTypes) {
  expect_error([] { Config::parse("[train]\nmax_steps = \"ten\"\n", test_schema(), "a.toml"); },
               {"a.toml:2", "key 'train.max_steps'", "expects an integer", "found a string"});
  expect_error([] { Config::parse("[train]\nmax_steps = 1.5\n", test_schema(), "a.toml"); },
               {"key 'train.max_steps'", "expects an integer", "found a float"});
  expect_error(
      [] { Config::parse("[data]\nbuckets = [1, \"x\"]\n", test_schema(), "a.toml"); },
      {"key 'data.buckets'", "expects an array of integers", "found an array containing a string"});
  expect_error([] { Config::parse("[model]\ntie_embeddings = 1\n", test_schema(), "a.toml"); },
               {"expects a boolean", "found an integer"});
}

TEST(TrainConfig, StringOutsideItsChoicesIsAnError) {
  expect_error([] { Config::parse("[train]\noptimizer = \"adamx\"\n", test_schema(), "a.toml"); },
               {"key 'train.optimizer'", "must be one of adamw, adam, sgd", "found 'adamx'"});
}

TEST(TrainConfig, BadOverridesAreErrorsThatNameThem) {
  Config config(test_schema());
  expect_error([&] { config.apply_override("train.max_steps"); },
               {"override 'train.max_steps'", "expected key=value"});
  expect_error([&] { config.apply_override("=3"); }, {"expected key=value"});
  expect_error([&] { config.apply_override("train.learnig_rate=0.1"); },
               {"override 'train.learnig_rate=0.1'", "unknown key 'train.learnig_rate'",
                "did you mean 'train.learning_rate'"});
  expect_error([&] { config.apply_override("train.max_steps=ten"); },
               {"key 'train.max_steps' expects an integer", "found 'ten'"});
  expect_error([&] { config.apply_override("train.max_steps=12x"); }, {"expects an integer"});
  expect_error([&] { config.apply_override("model.tie_embeddings=yes"); }, {"expects a boolean"});
  expect_error([&] { config.apply_override("data.buckets=[1, 2.5]"); },
               {"expects an array of integers"});
  expect_error([&] { config.apply_override("train.schedule=linear"); },
               {"must be one of constant, noam, cosine"});
  // TOML is UTF-8: text that is not could never be written into a resolved configuration.
  expect_error([&] { config.apply_override("data.path=caf\xe9"); },
               {"key 'data.path'", "invalid UTF-8 at byte 3 (0xE9)"});
  expect_error([&] { config.apply_override("data.books=Ruth,\xff"); },
               {"key 'data.books'", "invalid UTF-8 at byte 0 (0xFF)"});
  expect_error([&] { config.set("data.path", std::string("\xc3")); }, {"invalid UTF-8"});
  // A failed override changes nothing.
  EXPECT_EQ(config.get<std::int64_t>("train.max_steps"), 0);
  EXPECT_EQ(config.get<std::string>("data.path"), Config(test_schema()).get<std::string>("data.path"));
}

TEST(TrainConfig, MissingOrInvalidFileIsAClearError) {
  TemporaryDirectory directory;
  expect_error([&] { Config::load(directory.file("absent.toml"), test_schema()); },
               {"absent.toml", "does not exist"});
  expect_error([&] { Config::load(directory.path().string(), test_schema()); }, {"is a directory"});
  std::string path = directory.file("broken.toml");
  write_file(path, "[train]\nmax_steps = = 3\n");
  expect_error([&] { Config::load(path, test_schema()); }, {"broken.toml:2", "invalid TOML"});
}

TEST(TrainConfig, WritesTomlThatReadsBackIdentically) {
  Config config(test_schema());
  config.set("train.learning_rate", 1.0 / 3.0);
  config.set("train.eps", 1e-300);
  config.set("train.min_learning_rate", 5e-324);  // the smallest subnormal
  config.set("train.max_minutes", 1e300);
  config.set("model.dropout", 0.0);
  config.set("model.d_model", std::int64_t{-9007199254740993});
  config.set("data.path", std::string("quote \" backslash \\ tab \t newline \n unicode \xc3\xa9"));
  config.set("data.weights", std::vector<double>{0.1, -2.0, 1e-7});
  config.set("data.buckets", std::vector<std::int64_t>{});
  config.set("data.books", std::vector<std::string>{"a,b", "c\"d"});

  TemporaryDirectory directory;
  std::string path = directory.file("config.toml");
  config.save(path);
  Config loaded = Config::load(path, test_schema());
  EXPECT_TRUE(loaded == config);
  EXPECT_EQ(loaded.to_toml(), config.to_toml());
  EXPECT_EQ(loaded.get<double>("train.learning_rate"), 1.0 / 3.0);
  EXPECT_EQ(loaded.get<std::string>("data.path"), config.get<std::string>("data.path"));
  // The file groups keys into tables and says what each is.
  std::string text = config.to_toml();
  EXPECT_NE(text.find("[train]\n"), std::string::npos);
  EXPECT_NE(text.find("[model.encoder]\n# encoder layers\nnum_layers = 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("# model width\nd_model = "), std::string::npos);
}

TEST(TrainConfig, FloatKeysAreWrittenAsFloats) {
  Config config(test_schema());
  config.set("train.learning_rate", std::int64_t{2});  // widened
  EXPECT_EQ(format_value(config.value("train.learning_rate")), "2.0");
  EXPECT_EQ(format_value(Value(1e-8)), "1e-08");
  EXPECT_EQ(format_value(Value(std::vector<std::int64_t>{1, 2})), "[1, 2]");
  EXPECT_EQ(format_value(Value(std::string("adamw"))), "\"adamw\"");
}

TEST(TrainConfig, SectionJsonNestsDeeperKeys) {
  Config config(test_schema());
  nlohmann::json json = nlohmann::json::parse(config.section_json("model"));
  EXPECT_EQ(json["d_model"], 32);
  EXPECT_EQ(json["norm"], "post");
  EXPECT_EQ(json["encoder"]["num_layers"], 2);
  EXPECT_FALSE(json.contains("learning_rate"));
}

TEST(TrainConfig, ReadingAsTheWrongTypeIsAnError) {
  Config config(test_schema());
  expect_error([&] { config.get<std::string>("model.d_model"); },
               {"key 'model.d_model' holds an integer, not a string"});
  expect_error([&] { config.get<bool>("model.d_modl"); },
               {"unknown key", "did you mean 'model.d_model'"});
  EXPECT_DOUBLE_EQ(config.get<double>("model.d_model"), 32.0);  // integers read as floats
}

TEST(TrainConfig, SchemaRejectsMalformedDeclarations) {
  Schema schema;
  schema.add("model.d_model", 4, "width");
  expect_error([&] { schema.add("model.d_model", 8, "again"); }, {"declared twice"});
  expect_error([&] { schema.add("model.d_model.extra", 8, "inside"); }, {"cannot both exist"});
  expect_error([&] { schema.add("model", 8, "outside"); }, {"cannot both exist"});
  expect_error([&] { schema.add("bad key", 1, "space"); }, {"invalid key"});
  expect_error([&] { schema.add("model..x", 1, "empty part"); }, {"invalid key"});
  expect_error(
      [&] {
        schema.add("model.kind", "c", "kind", {"a", "b"});
      },
      {"not one of its choices"});
  expect_error([&] { schema.add("model.size", 3, "size", {"a"}); }, {"not a string key"});
  EXPECT_NE(trainer_schema().help().find("train.learning_rate"), std::string::npos);
  EXPECT_EQ(trainer_schema().closest_key("train.max_step"), "train.max_steps");
}

}  // namespace
}  // namespace attn::train
