// The JSON API of `attn serve` (serve/service.h): Service::handle, the pure function from
// (method, path, body) to a response that the HTTP server calls, on arbitrary request bodies.
// Three tiny models (translation, classification, language model; one training step each)
// are trained into a scratch folder when the target starts, and the server's limits are
// small so that every model run is quick.
//
// Input: the first byte picks the route (and method), the rest is the body. Properties:
// handle returns (it never throws); the status is one the API documents and never 500 (an
// unexpected exception inside); every JSON body parses, and an error body is
// {"error": "..."}.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/core/random.h"
#include "attn/data/text_files.h"
#include "attn/serve/service.h"
#include "attn/tasks/registry.h"
#include "attn/train/trainer.h"
#include "fuzz_support.h"

namespace {

namespace fs = std::filesystem;

struct Route {
  const char* method;
  const char* path;
};

constexpr Route kRoutes[] = {
    {"POST", "/api/translate"}, {"POST", "/api/classify"}, {"POST", "/api/generate"},
    {"GET", "/api/models"},     {"GET", "/api/health"},    {"GET", "/api/translate"},
    {"POST", "/api/unknown"},   {"DELETE", "/api/classify"},
};

void write_data(const fs::path& root) {
  const std::vector<std::string> spanish = {"uno dos", "tres", "cuatro cinco uno", "dos tres"};
  const std::vector<std::string> english = {"one two", "three", "four five one", "two three"};
  fs::create_directories(root / "parallel");
  fs::create_directories(root / "labelled");
  fs::create_directories(root / "text");
  for (const char* split : {"train", "valid"}) {
    const std::string name(split);
    attn::data::write_lines((root / "parallel" / (name + ".es")).string(), spanish);
    attn::data::write_lines((root / "parallel" / (name + ".en")).string(), english);
    attn::data::write_labeled_tsv((root / "labelled" / (name + ".tsv")).string(),
                                  {{0, "one two"}, {1, "three four"}, {0, "five"}, {1, "two"}});
    attn::data::write_lines((root / "text" / (name + ".txt")).string(), english);
  }
}

void train_run(const std::string& toml, const std::string& kind, const fs::path& run_dir) {
  attn::train::Config config = attn::train::Config::parse(toml, attn::tasks::task_schema(kind));
  config.apply_overrides({"train.run_dir=" + run_dir.string(), "train.progress=none",
                          "train.max_steps=1"});
  attn::manual_seed(1);
  std::ostringstream log;
  std::unique_ptr<attn::train::Task> task = attn::tasks::make_task(kind, config, false, log);
  attn::train::Trainer(*task, attn::train::trainer_options(config)).fit();
}

std::unique_ptr<attn::serve::Service> make_service() {
  static const attn::fuzz::ScratchDirectory scratch;
  const fs::path root = scratch.path();
  write_data(root);
  train_run("[task]\nkind = \"translation\"\n[data]\ndir = \"" + (root / "parallel").string() +
                "\"\nmax_tokens = 64\nmax_length = 16\n[tokenizer]\nvocab_size = 24\n"
                "model_type = \"bpe\"\n[model.transformer]\nd_model = 8\nnum_heads = 2\n"
                "d_ff = 16\nencoder_layers = 1\ndecoder_layers = 1\nmax_length = 16\n"
                "[eval]\nbleu_sentences = 0\n",
            "translation", root / "translation");
  train_run("[task]\nkind = \"classification\"\n[data]\nsource = \"tsv\"\ndir = \"" +
                (root / "labelled").string() + "\"\nmax_length = 8\nbatch_size = 4\n"
                "[tokenizer]\nkind = \"word\"\nvocab_size = 0\n[model.bigru]\n"
                "embedding_size = 4\nhidden_size = 4\nattention_size = 4\n",
            "classification", root / "classification");
  train_run("[task]\nkind = \"language_model\"\n[data]\nsource = \"text\"\ndir = \"" +
                (root / "text").string() + "\"\ncontext_length = 16\nbatch_size = 2\n"
                "[tokenizer]\nkind = \"char\"\nvocab_size = 0\n[model.transformer]\n"
                "d_model = 8\nnum_heads = 2\nd_ff = 16\nnum_layers = 1\n",
            "language_model", root / "language_model");
  attn::serve::Models models;
  for (const char* name : {"translation", "classification", "language_model"})
    models.load({name, root / name});
  attn::serve::Limits limits;
  limits.max_body_bytes = 2048;  // reachable by the fuzzer's inputs: 413 is exercised too
  limits.max_input_tokens = 32;
  limits.max_output_tokens = 4;
  limits.max_beam_size = 2;
  return std::make_unique<attn::serve::Service>(std::move(models), limits,
                                                [](const std::string& line) {
                                                  std::fprintf(stderr, "serve: %s\n", line.c_str());
                                                });
}

const attn::serve::Service& service() {
  static const std::unique_ptr<attn::serve::Service> built = make_service();
  return *built;
}

void check_response(const attn::serve::Response& response) {
  static const std::set<int> kDocumented = {200, 400, 404, 405, 413, 503};
  if (response.status == 500) {
    std::fprintf(stderr, "500: %s\n", response.body.c_str());
    attn::fuzz::property_failed("the service answered 500 (an unexpected exception)");
  }
  if (!kDocumented.count(response.status)) attn::fuzz::property_failed("undocumented status");
  if (response.content_type.rfind("application/json", 0) != 0) return;
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) attn::fuzz::property_failed("the response body is not JSON");
  if (response.status != 200 && !(body.is_object() && body.contains("error") &&
                                  body["error"].is_string())) {
    attn::fuzz::property_failed("an error response without {\"error\": \"...\"}");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  service();  // train and load the models before the first input
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Route& route = kRoutes[data[0] % std::size(kRoutes)];
  std::string_view body = attn::fuzz::as_text(data + 1, size - 1);
  check_response(service().handle(route.method, route.path, body));
  return 0;
}
