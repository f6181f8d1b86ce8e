// `attn viz` and `attn plot` end to end: tiny runs trained with `attn train` (a Transformer
// translator, a BiGRU classifier, a character language model), then the built program
// draws their attention and training curves. The program is a separate target, so a build
// of attn_tests alone may not have produced it; then these tests are skipped (the library
// side is tested in the other tests/viz files).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/data/text_files.h"
#include "attn/io/safetensors.h"
#include "attn/viz/png.h"
#include "support/temporary_directory.h"

namespace attn {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  int status = -1;
  std::string out, err;
};

std::string read(const fs::path& file) {
  std::ifstream stream(file, std::ios::binary);
  std::stringstream text;
  text << stream.rdbuf();
  return text.str();
}

std::size_t occurrences(const std::string& text, const std::string& pattern) {
  std::size_t count = 0;
  for (std::size_t at = text.find(pattern); at != std::string::npos; at = text.find(pattern, at + 1)) ++count;
  return count;
}

// The value of attribute `name` on the root <svg> element.
std::string svg_attribute(const std::string& svg, const std::string& name) {
  const std::size_t root = svg.find("<svg ");
  const std::size_t at = svg.find(" " + name + "=\"", root);
  if (root == std::string::npos || at == std::string::npos) return "";
  const std::size_t begin = at + name.size() + 3;
  return svg.substr(begin, svg.find('"', begin) - begin);
}

// The rects inside the <g class="cell"> groups.
std::size_t cell_rects(const std::string& svg) {
  std::size_t count = 0;
  for (std::size_t at = svg.find("<g class=\"cell\">"); at != std::string::npos;
       at = svg.find("<g class=\"cell\">", at + 1)) {
    const std::size_t end = svg.find("</g>", at);
    count += occurrences(svg.substr(at, end - at), "<rect ");
  }
  return count;
}

std::string xml_escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

class VizCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    program_ = new fs::path(fs::path(ATTN_BINARY_DIR) / "apps" / "attn");
    if (!fs::exists(*program_)) return;
    directory_ = new testing::TemporaryDirectory("attn_viz_command");
  }
  static void TearDownTestSuite() {
    delete translation_run_;
    delete classifier_run_;
    delete language_model_run_;
    delete directory_;
    delete program_;
    translation_run_ = classifier_run_ = language_model_run_ = nullptr;
    directory_ = nullptr;
    program_ = nullptr;
  }
  void SetUp() override {
    if (directory_ == nullptr) GTEST_SKIP() << "the attn program is not built: " << *program_;
  }

  // `arguments` go through the shell: quote texts with single quotes.
  static Outcome run(const std::string& arguments) {
    const fs::path out = directory_->path() / "stdout.txt", err = directory_->path() / "stderr.txt";
    const std::string command =
        program_->string() + " " + arguments + " < /dev/null > " + out.string() + " 2> " + err.string();
    const int raw = std::system(command.c_str());
    Outcome outcome;
    outcome.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    outcome.out = read(out);
    outcome.err = read(err);
    return outcome;
  }
  static std::string path(const std::string& name) { return directory_->file(name); }

  static std::string train(const std::string& name, const std::string& config_text) {
    const std::string config = path(name + ".toml"), run_dir = path(name + "_run");
    std::ofstream(config) << config_text
                          << "[train]\nprogress = \"none\"\nlearning_rate = 0.01\nlog_every = 1\n"
                          << "validate_every = 2\n";
    const Outcome outcome = run("train --config " + config + " --run-dir " + run_dir + " --max-steps 2");
    EXPECT_EQ(outcome.status, 0) << outcome.err;
    return run_dir;
  }

  // A two-layer, two-head Transformer on a few Spanish-English number phrases.
  static std::string train_translation() {
    const fs::path data = directory_->path() / "numbers";
    fs::create_directories(data);
    const std::vector<std::string> es{"uno", "dos", "tres", "cuatro"}, en{"one", "two", "three", "four"};
    std::mt19937 engine(3);
    for (const auto& [split, count] : {std::pair{"train", 40}, std::pair{"valid", 8}}) {
      std::vector<std::string> source, target;
      for (int i = 0; i < count; ++i) {
        const std::size_t a = engine() % 4, b = engine() % 4;
        source.push_back(es[a] + " " + es[b]);
        target.push_back(en[a] + " " + en[b]);
      }
      data::write_lines((data / (std::string(split) + ".es")).string(), source);
      data::write_lines((data / (std::string(split) + ".en")).string(), target);
    }
    return train("translation", "[task]\nkind = \"translation\"\n[data]\ndir = \"" + data.string() +
                                    "\"\nmax_tokens = 256\nmax_length = 24\n"
                                    "[tokenizer]\nvocab_size = 30\nmodel_type = \"bpe\"\n"
                                    "[model.transformer]\nd_model = 16\nnum_heads = 2\nd_ff = 32\n"
                                    "encoder_layers = 2\ndecoder_layers = 2\ndropout = 0.0\nmax_length = 24\n"
                                    "[eval]\nbleu_sentences = 0\n");
  }

  // A BiGRU classifier of "which colour word is in the text".
  static std::string train_classifier() {
    const fs::path data = directory_->path() / "colours";
    fs::create_directories(data);
    const std::vector<std::string> colours = {"red", "green", "blue"};
    std::mt19937 engine(1);
    for (const auto& [split, count] : {std::pair{"train", 24}, std::pair{"valid", 6}}) {
      std::vector<data::LabeledText> texts;
      for (int i = 0; i < count; ++i) {
        const auto label = static_cast<std::int64_t>(engine() % 3);
        texts.push_back({label, "w" + std::to_string(engine() % 5) + " " + colours[label] + " w" +
                                    std::to_string(engine() % 5)});
      }
      data::write_labeled_tsv((data / (std::string(split) + ".tsv")).string(), texts);
    }
    data::write_lines((data / "labels.txt").string(), colours);
    return train("classifier", "[task]\nkind = \"classification\"\n[data]\nsource = \"tsv\"\ndir = \"" +
                                   data.string() + "\"\nmax_length = 8\nbatch_size = 8\n"
                                   "[tokenizer]\nkind = \"word\"\nvocab_size = 0\n"
                                   "[model.bigru]\nembedding_size = 8\nhidden_size = 8\nattention_size = 4\n");
  }

  // A one-layer, two-head character language model.
  static std::string train_language_model() {
    const fs::path data = directory_->path() / "text";
    fs::create_directories(data);
    data::write_lines((data / "train.txt").string(), {"the cat sat on the mat.", "a dog ran to the park."});
    data::write_lines((data / "valid.txt").string(), {"the dog sat on the mat."});
    return train("lm", "[task]\nkind = \"language_model\"\n[data]\nsource = \"text\"\ndir = \"" + data.string() +
                           "\"\ncontext_length = 16\nbatch_size = 2\n"
                           "[tokenizer]\nkind = \"char\"\nvocab_size = 0\n"
                           "[model.transformer]\nd_model = 16\nnum_heads = 2\nd_ff = 32\nnum_layers = 1\n");
  }

  // Each run is trained when a test first needs it (ctest runs every test in a process of
  // its own) and then shared by the suite's other tests.
  static const std::string& translation_run() {
    if (translation_run_ == nullptr) translation_run_ = new std::string(train_translation());
    return *translation_run_;
  }
  static const std::string& classifier_run() {
    if (classifier_run_ == nullptr) classifier_run_ = new std::string(train_classifier());
    return *classifier_run_;
  }
  static const std::string& language_model_run() {
    if (language_model_run_ == nullptr) language_model_run_ = new std::string(train_language_model());
    return *language_model_run_;
  }

  static nlohmann::json read_json(const std::string& file) { return nlohmann::json::parse(read(file)); }

  static inline fs::path* program_ = nullptr;
  static inline testing::TemporaryDirectory* directory_ = nullptr;
  static inline std::string* translation_run_ = nullptr;
  static inline std::string* classifier_run_ = nullptr;
  static inline std::string* language_model_run_ = nullptr;
};

TEST_F(VizCommand, TranslationCrossAttentionAsSvgAndPngWithExport) {
  const Outcome svg_run = run("viz --model " + translation_run() + " --source 'uno dos' --target 'one two' -o " +
                              path("cross.svg") + " --export " + path("cross.json"));
  ASSERT_EQ(svg_run.status, 0) << svg_run.err;
  EXPECT_EQ(svg_run.out, "");  // the target was given: nothing to report
  const nlohmann::json maps = read_json(path("cross.json"))["maps"];
  ASSERT_EQ(maps.size(), 1u);
  EXPECT_EQ(maps[0]["name"], "decoder.layers.1.cross_attention");  // the last layer by default
  EXPECT_EQ(maps[0]["heads"], nlohmann::json::array({0, 1}));
  const std::vector<std::string> queries = maps[0]["query_tokens"], keys = maps[0]["key_tokens"];
  EXPECT_EQ(keys.back(), "</s>");
  EXPECT_EQ(queries.back(), "</s>");

  const std::string svg = read(path("cross.svg"));
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_EQ(cell_rects(svg), 2 * queries.size() * keys.size());
  for (const std::string& key : keys) {
    EXPECT_NE(svg.find(">" + xml_escaped(key) + "</text>"), std::string::npos) << key;
  }
  const std::string width = svg_attribute(svg, "width"), height = svg_attribute(svg, "height");
  EXPECT_EQ(svg_attribute(svg, "viewBox"), "0 0 " + width + " " + height);

  const Outcome png_run = run("viz --model " + translation_run() + " --source 'uno dos' --target 'one two' -o " +
                              path("cross.png"));
  ASSERT_EQ(png_run.status, 0) << png_run.err;
  const viz::RasterImage image = viz::decode_png(read(path("cross.png")), "cross.png");
  EXPECT_EQ(image.width, 2 * std::stoi(width));  // --png-scale 2 by default
  EXPECT_EQ(image.height, 2 * std::stoi(height));
}

TEST_F(VizCommand, TranslatesFirstWhenNoTargetIsGiven) {
  const Outcome outcome = run("viz --model " + translation_run() + " --source 'tres cuatro' --method greedy -o " +
                              path("own.svg") + " --export " + path("own.json"));
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  const nlohmann::json document = read_json(path("own.json"));
  EXPECT_EQ(outcome.out, document["context"]["target"].get<std::string>() + "\n");
  EXPECT_EQ(document["context"]["source"], "tres cuatro");
}

TEST_F(VizCommand, AllLayersAveragedIntoSafetensorsAndOtherKinds) {
  const std::string input = path("input.txt");
  data::write_lines(input, {"uno uno", "dos tres"});
  Outcome outcome = run("viz --model " + translation_run() + " --input " + input +
                        " --line 2 --target 'two three' --layer all --average-heads -o " + path("mean.svg") +
                        " --export " + path("mean.safetensors"));
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  const io::SafetensorsData data = io::load_safetensors(path("mean.safetensors"));
  ASSERT_EQ(data.tensors.size(), 2u);
  EXPECT_EQ(data.tensors.at("decoder.layers.0.cross_attention").size(0), 1);  // the mean: one head
  EXPECT_EQ(data.metadata.at("source"), "dos tres");
  EXPECT_EQ(nlohmann::json::parse(data.metadata.at("decoder.layers.1.cross_attention"))["averaged"], true);
  EXPECT_NE(read(path("mean.svg")).find(">layer 1, mean of 2 heads</text>"), std::string::npos);

  outcome = run("viz --model " + translation_run() + " --source 'uno' --target 'one' --kind decoder_self --head 1 "
                "--layer 0 -o " + path("self.svg") + " --export " + path("self.json"));
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  const nlohmann::json map = read_json(path("self.json"))["maps"][0];
  EXPECT_EQ(map["name"], "decoder.layers.0.self_attention");
  EXPECT_EQ(map["heads"], nlohmann::json::array({1}));
  EXPECT_EQ(map["key_tokens"][0], "<s>");
}

TEST_F(VizCommand, BadOptionsAreErrorsNamingWhatIsAvailable) {
  const std::string model = "viz --model " + translation_run() + " --source 'uno' --target 'one' ";
  Outcome outcome = run(model + "--layer 7 -o " + path("x.svg"));
  EXPECT_EQ(outcome.status, 1);
  EXPECT_NE(outcome.err.find("layer 7 is out of range: the cross maps have layers 0 to 1"), std::string::npos)
      << outcome.err;
  outcome = run(model + "--kind pooling -o " + path("x.svg"));
  EXPECT_EQ(outcome.status, 1);
  EXPECT_NE(outcome.err.find("no pooling attention; it has encoder_self, decoder_self, cross"), std::string::npos)
      << outcome.err;
  outcome = run(model + "--kind sideways -o " + path("x.svg"));
  EXPECT_NE(outcome.err.find("expected encoder_self, decoder_self, cross or pooling, got 'sideways'"),
            std::string::npos)
      << outcome.err;
  outcome = run(model + "--head 2 -o " + path("x.svg"));
  EXPECT_NE(outcome.err.find("head 2 is out of range"), std::string::npos) << outcome.err;
  outcome = run(model + "--layer first -o " + path("x.svg"));
  EXPECT_NE(outcome.err.find("--layer expects a layer number, 'last' or 'all', got 'first'"), std::string::npos)
      << outcome.err;
  outcome = run(model + "-o " + path("x.jpg"));
  EXPECT_NE(outcome.err.find("expected a name ending in .svg or .png"), std::string::npos) << outcome.err;
  outcome = run("viz --model " + translation_run() + " -o " + path("x.svg"));
  EXPECT_NE(outcome.err.find("give the input with --text (or --source) or --input FILE"), std::string::npos)
      << outcome.err;
  outcome = run("viz --model " + classifier_run() + " --text 'red' --target 'x' -o " + path("x.svg"));
  EXPECT_NE(outcome.err.find("--target is for translation models"), std::string::npos) << outcome.err;
  EXPECT_FALSE(fs::exists(path("x.svg")));
}

TEST_F(VizCommand, ClassifierPoolingAsShadedWords) {
  const Outcome outcome = run("viz --model " + classifier_run() + " --text 'w1 blue w3' -o " + path("words.svg") +
                              " --export " + path("words.json"));
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_NE(outcome.out.find('\t'), std::string::npos);  // label<TAB>probability
  const std::string svg = read(path("words.svg"));
  const std::size_t group = svg.find("<g class=\"word\">");
  ASSERT_NE(group, std::string::npos);
  EXPECT_EQ(occurrences(svg.substr(group, svg.find("</g>", group) - group), "<rect "), 3u);
  EXPECT_NE(svg.find(">blue</text>"), std::string::npos);
  EXPECT_NE(svg.find("predicted: "), std::string::npos);
  const nlohmann::json map = read_json(path("words.json"))["maps"][0];
  EXPECT_EQ(map["kind"], "pooling");
  EXPECT_EQ(map["key_tokens"], nlohmann::json::array({"w1", "blue", "w3"}));
  double sum = 0;
  for (double weight : map["weights"][0][0]) sum += weight;
  EXPECT_NEAR(sum, 1.0, 1e-4);
}

TEST_F(VizCommand, LanguageModelCausalSelfAttention) {
  const Outcome outcome = run("viz --model " + language_model_run() + " --text 'the cat' -o " + path("lm.png") +
                              " --export " + path("lm.json"));
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  const nlohmann::json map = read_json(path("lm.json"))["maps"][0];
  EXPECT_EQ(map["kind"], "decoder_self");
  ASSERT_EQ(map["query_tokens"].size(), 8u);  // </s> and seven characters
  EXPECT_EQ(map["weights"][0][0][1], 0.0);    // causal: the first token sees only itself
  EXPECT_GT(viz::decode_png(read(path("lm.png"))).width, 0);
}

TEST_F(VizCommand, PlotDrawsTrainingCurvesOfOneOrSeveralRuns) {
  Outcome outcome = run("plot " + translation_run() + " -o " + path("curves.svg"));
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  std::string svg = read(path("curves.svg"));
  EXPECT_NE(svg.find(">train loss</text>"), std::string::npos);
  EXPECT_NE(svg.find(">validation loss</text>"), std::string::npos);
  EXPECT_NE(svg.find("<g class=\"series\">"), std::string::npos);

  outcome = run("plot " + translation_run() + "/metrics.jsonl " + language_model_run() +
                " --metrics loss --x tokens -o " + path("both.png"));
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_EQ(viz::decode_png(read(path("both.png"))).width, 2 * 720);

  outcome = run("plot " + translation_run() + " --metrics loss,valid_bleu -o " + path("bad.svg"));
  EXPECT_EQ(outcome.status, 1);
  EXPECT_NE(outcome.err.find("no metric 'valid_bleu' in the log; it has loss"), std::string::npos) << outcome.err;
  const std::string broken = path("broken.jsonl");
  std::ofstream(broken) << "{\"type\":\"start\",\"step\":0}\n{\"type\":\"train\",\"step\":1,\n";
  outcome = run("plot " + broken + " -o " + path("bad.svg"));
  EXPECT_NE(outcome.err.find("broken.jsonl line 2: not valid JSON"), std::string::npos) << outcome.err;
  EXPECT_FALSE(fs::exists(path("bad.svg")));
}

}  // namespace
}  // namespace attn
