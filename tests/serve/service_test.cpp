// The serve API as a function (serve::Service::handle), without sockets: the models it loads,
// every error class and its status, the limits, and parity: the attention weights in the
// JSON are exactly the library's (inspect::*_attention) for the same input.
#include "attn/serve/service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "attn/inspect/attention_maps.h"
#include "attn/io/safetensors.h"
#include "attn/nn/module.h"
#include "serve/serve_test_support.h"
#include "support/temporary_directory.h"

namespace attn::serve {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The three tiny runs, written once for the whole suite.
class ServeRuns : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = new testing::TemporaryDirectory("attn_serve");
    testing::write_translation_run(directory_->path() / "numbers");
    testing::write_classifier_run(directory_->path() / "colours");
    testing::write_language_model_run(directory_->path() / "lm");
  }
  static void TearDownTestSuite() {
    delete directory_;
    directory_ = nullptr;
  }
  static fs::path run(const std::string& name) { return directory_->path() / name; }

  static Models all_models() {
    Models models;
    for (const char* name : {"numbers", "colours", "lm"}) models.load({name, run(name)});
    return models;
  }

  static testing::TemporaryDirectory* directory_;
};
testing::TemporaryDirectory* ServeRuns::directory_ = nullptr;

// The service over the three runs, with the errors it logs kept for inspection.
class ServeApi : public ServeRuns {
 protected:
  void SetUp() override { make_service(Limits{}); }

  void make_service(const Limits& limits) {
    service_ = std::make_unique<Service>(all_models(), limits,
                                         [this](const std::string& line) { logged_ += line + "\n"; });
  }

  Response post(const std::string& path, const json& body) const {
    return service_->handle("POST", path, body.dump());
  }
  static json body_of(const Response& response) { return json::parse(response.body); }

  // The status, and the error message (when there is one), for a failed expectation's output.
  static std::string describe(const Response& response) {
    return std::to_string(response.status) + " " + response.body.substr(0, 300);
  }

  std::unique_ptr<Service> service_;
  std::string logged_;
};

// Every weight of the JSON maps equals the library's float once read back as float32.
void expect_same_maps(const json& maps, const std::vector<inspect::AttentionMap>& expected) {
  ASSERT_EQ(maps.size(), expected.size());
  for (std::size_t m = 0; m < expected.size(); ++m) {
    const inspect::AttentionMap& map = expected[m];
    const json& got = maps[m];
    EXPECT_EQ(got["name"], map.name);
    EXPECT_EQ(got["kind"], std::string(inspect::attention_kind_name(map.kind)));
    EXPECT_EQ(got["layer"], map.layer);
    EXPECT_EQ(got["heads"], map.num_heads());
    EXPECT_EQ(got["query_tokens"].get<std::vector<std::string>>(), map.query_tokens);
    EXPECT_EQ(got["key_tokens"].get<std::vector<std::string>>(), map.key_tokens);
    const Tensor weights = map.weights.contiguous();
    const float* data = weights.data<float>();
    ASSERT_EQ(got["weights"].size(), static_cast<std::size_t>(weights.size(0)));
    std::int64_t mismatches = 0, index = 0;
    for (const json& head : got["weights"]) {
      ASSERT_EQ(head.size(), static_cast<std::size_t>(weights.size(1)));
      for (const json& row : head) {
        ASSERT_EQ(row.size(), static_cast<std::size_t>(weights.size(2)));
        for (const json& value : row) mismatches += static_cast<float>(value.get<double>()) != data[index++];
      }
    }
    EXPECT_EQ(mismatches, 0) << map.name;
  }
}

// ---- models ------------------------------------------------------------------------------------

TEST(ServeModelArgument, NamesARunAfterItsDirectoryOrAsGiven) {
  EXPECT_EQ(parse_model_argument("runs/bible_transformer").name, "bible_transformer");
  EXPECT_EQ(parse_model_argument("runs/bible_transformer/").name, "bible_transformer");
  EXPECT_EQ(parse_model_argument("runs/bible/checkpoints/best.safetensors").name, "bible");
  EXPECT_EQ(parse_model_argument("models/austen.safetensors").name, "austen");
  const ModelSpec named = parse_model_argument("es-en=runs/bible_transformer");
  EXPECT_EQ(named.name, "es-en");
  EXPECT_EQ(named.path, fs::path("runs/bible_transformer"));
  EXPECT_THROW(parse_model_argument(""), Error);
  EXPECT_THROW(parse_model_argument("=runs/x"), Error);
  EXPECT_THROW(parse_model_argument("two words=runs/x"), Error);
  EXPECT_THROW(parse_model_argument("name="), Error);
  EXPECT_FALSE(is_valid_model_name(std::string(65, 'a')));
  EXPECT_TRUE(is_valid_model_name("bible_transformer-2.1"));
}

TEST_F(ServeRuns, ReadsEachKindFromTheCheckpointAndLoadsIt) {
  EXPECT_EQ(checkpoint_model_kind(run("numbers")), ModelKind::Translation);
  EXPECT_EQ(checkpoint_model_kind(run("colours")), ModelKind::Classification);
  EXPECT_EQ(checkpoint_model_kind(run("lm") / "checkpoints" / "best.safetensors"), ModelKind::LanguageModel);
  const Models models = all_models();
  ASSERT_EQ(models.all().size(), 3u);
  EXPECT_NE(models.find("numbers")->translator(), nullptr);
  EXPECT_EQ(models.find("numbers")->max_input_tokens(), 31);  // 32 positions, one for </s>
  EXPECT_EQ(models.find("colours")->arch(), "bigru");
  EXPECT_EQ(models.find("colours")->max_input_tokens(), 0);  // cut, not refused
  EXPECT_EQ(models.of_kind(ModelKind::LanguageModel).front()->name(), "lm");
  EXPECT_EQ(models.find("absent"), nullptr);
}

TEST_F(ServeRuns, RefusesDuplicateNamesAndFilesThatAreNotCheckpoints) {
  Models models;
  models.load({"numbers", run("numbers")});
  EXPECT_THROW(models.load({"numbers", run("colours")}), Error);
  EXPECT_THROW(models.load({"missing", run("missing")}), Error);
  testing::TemporaryDirectory directory("attn_serve_bad");
  const std::string plain = directory.file("plain.safetensors");
  io::save_safetensors(plain, {{"x", Tensor::zeros({2})}});
  EXPECT_THROW(checkpoint_model_kind(plain), Error);
  const std::string garbage = directory.file("garbage.safetensors");
  std::ofstream(garbage) << "\xff\xff\xff\xff\xff\xff\xff\x7f not a header";
  EXPECT_THROW(checkpoint_model_kind(garbage), Error);
}

// ---- routes and errors -------------------------------------------------------------------------

TEST_F(ServeApi, ListsTheModelsAndTheirLimits) {
  const Response health = service_->handle("GET", "/api/health", "");
  ASSERT_EQ(health.status, 200) << describe(health);
  EXPECT_EQ(body_of(health)["models"], 3);
  const Response listing = service_->handle("GET", "/api/models", "");
  ASSERT_EQ(listing.status, 200);
  EXPECT_EQ(listing.content_type, "application/json");
  const json models = body_of(listing)["models"];
  ASSERT_EQ(models.size(), 3u);
  EXPECT_EQ(models[0]["name"], "numbers");
  EXPECT_EQ(models[0]["kind"], "translation");
  EXPECT_EQ(models[0]["max_input_tokens"], 31);
  EXPECT_EQ(models[0]["max_output_tokens"], 31);
  EXPECT_EQ(models[0]["decoding"]["method"], "beam");
  EXPECT_EQ(models[1]["labels"], json({"red", "green", "blue"}));
  EXPECT_FALSE(models[1].contains("decoding"));
  EXPECT_EQ(models[2]["kind"], "language_model");
  EXPECT_EQ(body_of(listing)["limits"]["max_concurrent"], Limits{}.max_concurrent);
}

TEST_F(ServeApi, AnswersEachErrorClassWithItsStatusAndAMessage) {
  struct Case {
    std::string method, path, body;
    int status;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"POST", "/api/translate", "{\"text\": ", 400, "malformed JSON"},
      {"POST", "/api/translate", "", 400, "malformed JSON"},
      {"POST", "/api/translate", "[\"text\"]", 400, "must be a JSON object"},
      {"POST", "/api/translate", "{}", 400, "missing field \"text\""},
      {"POST", "/api/translate", "{\"text\": \"  \\n\"}", 400, "empty"},
      {"POST", "/api/translate", "{\"text\": 3}", 400, "\"text\": expected a string"},
      {"POST", "/api/translate", "{\"text\": \"el\", \"attention\": 1}", 400, "\"attention\""},
      {"POST", "/api/translate", "{\"text\": \"el\", \"beam_size\": 17}", 400, "from 1 to 16"},
      {"POST", "/api/translate", "{\"text\": \"el\", \"beam_size\": 2.5}", 400, "beam_size"},
      {"POST", "/api/translate", "{\"text\": \"el\", \"max_length\": 32}", 400, "from 1 to 31"},
      {"POST", "/api/translate", "{\"text\": \"el\", \"method\": \"best\"}", 400, "\"method\""},
      {"POST", "/api/translate", "{\"text\": \"el\", \"top_p\": 0}", 400, "top_p"},
      {"POST", "/api/translate", "{\"text\": \"el\", \"temperature\": -1}", 400, "temperature"},
      {"POST", "/api/translate", "{\"text\": \"el\", \"seed\": -3}", 400, "seed"},
      {"POST", "/api/translate", "{\"text\": \"el\", \"beams\": 2}", 400, "unknown field \"beams\""},
      {"POST", "/api/translate", "{\"text\": \"\xc3\x28\"}", 400, "UTF-8"},
      {"POST", "/api/translate", "{\"text\": \"" + std::string(40, 'a') + "\"}", 400,
       "40 tokens long; model \"numbers\" takes at most 31"},
      {"POST", "/api/translate", "{\"text\": \"el\", \"model\": \"colours\"}", 400,
       "a classification model, not a translation model"},
      {"POST", "/api/translate", "{\"text\": \"el\", \"model\": \"nope\"}", 404, "unknown model \"nope\""},
      {"POST", "/api/translate", "{\"text\": \"el\", \"model\": 7}", 400, "\"model\""},
      {"POST", "/api/nothing", "{}", 404, "no such route"},
      {"GET", "/", "", 404, "no such route"},
      {"GET", "/api/translate", "", 405, "use POST"},
      {"DELETE", "/api/models", "", 405, "use GET"},
      {"POST", "/api/health", "{}", 405, "use GET"},
      {"POST", "/api/classify", std::string(Limits{}.max_body_bytes + 1, ' '), 413, "at most 65536"},
  };
  for (const Case& test : cases) {
    const Response response = service_->handle(test.method, test.path, test.body);
    EXPECT_EQ(response.status, test.status) << test.method << " " << test.path << " " << test.body.substr(0, 80)
                                            << " -> " << describe(response);
    const json body = json::parse(response.body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body.contains("error")) << response.body;
    EXPECT_NE(body["error"].get<std::string>().find(test.message_part), std::string::npos)
        << test.body.substr(0, 80) << " -> " << body["error"];
  }
  const Response not_allowed = service_->handle("PUT", "/api/classify", "{}");
  ASSERT_EQ(not_allowed.headers.size(), 1u);
  EXPECT_EQ(not_allowed.headers[0], (std::pair<std::string, std::string>{"Allow", "POST"}));
  EXPECT_TRUE(logged_.empty()) << logged_;  // none of these is the server's fault
}

TEST_F(ServeApi, HostileRequestsGetAClientErrorAndNothingElse) {
  const std::string deep = std::string(30000, '[') + std::string(30000, ']');
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"/api/translate", "{\"text\": " + deep + "}"},
      {"/api/classify", "{\"text\": \"x\", \"attention\": " + deep + "}"},
      {"/api/translate", deep},
      {"/api/generate", R"({"text": "a\u0000b", "max_length": 1e300})"},
      {"/api/generate", R"({"text": "the", "seed": 1e300})"},
      {"/api/generate", R"({"text": "the", "top_k": 99999999999999999999})"},
      {"/api/translate", std::string("{\"text\": \"el\", \"\xff\": 1}")},
      {std::string("/api/\xff\xfe"), "{}"},
  };
  for (const auto& [path, body] : requests) {
    const Response response = service_->handle("POST", path, body);
    EXPECT_TRUE(response.status == 400 || response.status == 404) << describe(response);
    EXPECT_TRUE(json::parse(response.body, nullptr, false).is_object()) << response.body.substr(0, 200);
  }
  // Text with a NUL character is text: the tokenizer reads it like any other.
  EXPECT_EQ(post("/api/classify", {{"text", std::string("red\0blue", 8)}}).status, 200);
  EXPECT_EQ(service_->handle(std::string("G\xffT"), "/api/models", "").status, 405);
  EXPECT_TRUE(logged_.empty()) << logged_;
}

TEST_F(ServeApi, TheServerLimitOnInputTokensAppliesBelowTheModels) {
  Limits limits;
  limits.max_input_tokens = 5;
  make_service(limits);
  const Response too_long = post("/api/classify", {{"text", "the cat"}});
  EXPECT_EQ(too_long.status, 400) << describe(too_long);
  EXPECT_NE(too_long.body.find("7 tokens long; this server takes at most 5"), std::string::npos) << too_long.body;
  EXPECT_EQ(post("/api/classify", {{"text", "a cat"}}).status, 200);
}

TEST_F(ServeApi, NamesTheModelWhenSeveralOfAKindAreLoaded) {
  Models models = all_models();
  models.load({"numbers2", run("numbers")});
  Service service(std::move(models), Limits{});
  const Response ambiguous = service.handle("POST", "/api/translate", R"({"text": "el"})");
  EXPECT_EQ(ambiguous.status, 400);
  EXPECT_NE(ambiguous.body.find("numbers, numbers2"), std::string::npos) << ambiguous.body;
  EXPECT_EQ(service.handle("POST", "/api/translate", R"({"text": "el", "model": "numbers2"})").status, 200);
  Service empty(Models{}, Limits{});
  EXPECT_EQ(empty.handle("POST", "/api/generate", R"({"text": "el"})").status, 404);
}

TEST_F(ServeApi, ServesTheFilesItIsGivenForGetAndHead) {
  service_->add_file("/", {"text/html; charset=utf-8", "<p>page</p>"});
  const Response page = service_->handle("GET", "/", "");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(page.body, "<p>page</p>");
  // The page may load nothing from other sites.
  ASSERT_FALSE(page.headers.empty());
  EXPECT_EQ(page.headers[0].first, "Content-Security-Policy");
  EXPECT_NE(page.headers[0].second.find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(service_->handle("HEAD", "/", "").status, 200);
  EXPECT_EQ(service_->handle("POST", "/", "").status, 405);
  const std::vector<std::string> paths = service_->paths();
  EXPECT_NE(std::find(paths.begin(), paths.end(), "/"), paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "/api/generate"), paths.end());
  EXPECT_THROW(service_->add_file("relative", {}), Error);
}

// ---- results and parity ----------------------------------------------------------------------

TEST_F(ServeApi, TranslationEqualsTheLibrarysAndItsAttentionIsTheLibrarysExactly) {
  const std::string text = "el perro come pan.";
  const Response response = post("/api/translate", {{"text", text}, {"attention", true}, {"method", "greedy"},
                                                    {"max_length", 12}});
  ASSERT_EQ(response.status, 200) << describe(response);
  const json body = body_of(response);
  const tasks::Translator& translator = *service_->models().find("numbers")->translator();
  tasks::SearchSettings greedy;
  greedy.method = "greedy";
  greedy.max_length = 12;
  const std::string expected = translator.translate_best({text}, greedy).front();
  EXPECT_EQ(body["model"], "numbers");
  EXPECT_EQ(body["translation"], expected);
  const inspect::TranslationAttention maps = inspect::translation_attention(translator, text, expected);
  EXPECT_EQ(body["attention"]["source_tokens"].get<std::vector<std::string>>(), maps.source_tokens);
  EXPECT_EQ(body["attention"]["target_tokens"].get<std::vector<std::string>>(), maps.target_tokens);
  ASSERT_EQ(maps.maps.size(), 6u);  // 2 encoder + 2 x (self, cross)
  expect_same_maps(body["attention"]["maps"], maps.maps);
  // Without "attention" the response has none.
  EXPECT_FALSE(body_of(post("/api/translate", {{"text", text}})).contains("attention"));
}

TEST_F(ServeApi, ClassificationEqualsTheLibrarysAndItsAttentionIsTheLibrarysExactly) {
  const std::string text = "the cat drinks water";
  const Response response = post("/api/classify", {{"text", text}, {"attention", true}});
  ASSERT_EQ(response.status, 200) << describe(response);
  const json body = body_of(response);
  const tasks::Classifier& classifier = *service_->models().find("colours")->classifier();
  const inspect::ClassificationAttention expected = inspect::classification_attention(classifier, text);
  EXPECT_EQ(body["label"], expected.result.label_name);
  EXPECT_EQ(body["label_index"], expected.result.label);
  ASSERT_EQ(body["probabilities"].size(), 3u);
  EXPECT_EQ(body["probabilities"][2]["label"], "blue");
  EXPECT_EQ(body["probabilities"][2]["probability"].get<double>(), expected.result.probabilities[2]);
  EXPECT_EQ(body["tokens"].get<std::vector<std::string>>(), expected.result.tokens);
  ASSERT_EQ(expected.maps.size(), 1u);  // the pooling: one query over the characters
  expect_same_maps(body["attention"]["maps"], expected.maps);
  EXPECT_EQ(body["attention"]["maps"][0]["weights"][0].size(), 1u);
  EXPECT_EQ(body["attention"]["maps"][0]["weights"][0][0].size(), text.size());
}

TEST_F(ServeApi, GenerationIsRepeatableForASeedAndItsAttentionIsTheLibrarysExactly) {
  const json request = {{"text", "the dog"}, {"attention", true}, {"method", "sample"},
                        {"seed", 5}, {"max_length", 10}, {"top_k", 5}};
  const Response first = post("/api/generate", request);
  ASSERT_EQ(first.status, 200) << describe(first);
  EXPECT_EQ(first.body, post("/api/generate", request).body);
  const json body = body_of(first);
  const tasks::TextGenerator& generator = *service_->models().find("lm")->generator();
  tasks::GenerationSettings settings;
  settings.method = "sample";
  settings.seed = 5;
  settings.max_length = 10;
  settings.top_k = 5;
  const tasks::Generation expected = generator.generate({"the dog"}, settings).front();
  EXPECT_EQ(body["continuation"], expected.continuation);
  EXPECT_EQ(body["full_text"], expected.text);
  const inspect::LanguageModelAttention maps =
      inspect::language_model_attention(generator, "the dog", expected.tokens);
  EXPECT_EQ(body["attention"]["tokens"].get<std::vector<std::string>>(), maps.tokens);
  expect_same_maps(body["attention"]["maps"], maps.maps);
}

// ---- concurrency and failures -------------------------------------------------------------------

// Waits (up to ten seconds) until `condition` holds.
template <typename Condition>
bool eventually(Condition condition) {
  for (int i = 0; i < 10000 && !condition(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return condition();
}

TEST_F(ServeApi, AnswersBusyWhenTheQueueIsFullAndGatewayTimeoutAfterALongWait) {
  Limits limits;
  limits.queue_size = 1;
  limits.queue_wait_ms = 300;
  make_service(limits);
  const ServedModel& colours = *service_->models().find("colours");
  Response running, queued;
  std::thread first, second;
  {
    // Holding the model's lock keeps the first request inside its run.
    const auto lock = colours.lock();
    first = std::thread([&] { running = post("/api/classify", {{"text", "red"}}); });
    ASSERT_TRUE(eventually([&] { return service_->runs_in_progress() == 1; }));
    second = std::thread([&] { queued = post("/api/classify", {{"text", "blue"}}); });
    ASSERT_TRUE(eventually([&] { return service_->requests_waiting() == 1; }));
    const Response busy = post("/api/classify", {{"text", "green"}});
    EXPECT_EQ(busy.status, 503) << describe(busy);
    ASSERT_EQ(busy.headers.size(), 1u);
    EXPECT_EQ(busy.headers[0].first, "Retry-After");
    // Requests that fail their checks never queue; other models have queues of their own.
    EXPECT_EQ(post("/api/classify", {{"text", ""}}).status, 400);
    EXPECT_EQ(post("/api/generate", {{"text", "the"}}).status, 200);
    EXPECT_EQ(service_->handle("GET", "/api/health", "").status, 200);
    second.join();  // its wait ends while the first still runs
  }
  first.join();
  EXPECT_EQ(running.status, 200) << describe(running);
  EXPECT_EQ(queued.status, 504) << describe(queued);
  EXPECT_NE(queued.body.find("waited 300 ms"), std::string::npos) << queued.body;
  EXPECT_EQ(service_->runs_in_progress(), 0);
  EXPECT_EQ(service_->requests_waiting(), 0);
  EXPECT_EQ(post("/api/classify", {{"text", "green"}}).status, 200);
}

// Requests that arrive while the model runs wait, and the next run takes them together:
// those with the same decoding settings in one batch, the others in a batch of their own.
// Each gets the answer it gets alone (scores to float32 rounding: answer_difference).
TEST_F(ServeApi, WaitingRequestsRunInBatchesAndGetWhatTheyGetAlone) {
  const std::vector<json> requests = {
      {{"text", "el perro come pan."}, {"method", "greedy"}, {"max_length", 12}},
      {{"text", "la gata"}, {"method", "greedy"}, {"max_length", 12}, {"attention", true}},
      {{"text", "y la gata bebe agua."}, {"method", "greedy"}, {"max_length", 12}},
      {{"text", "el pan"}, {"method", "greedy"}, {"max_length", 12}},
      {{"text", "la gata bebe"}, {"beam_size", 3}, {"max_length", 12}},
      {{"text", "agua"}, {"beam_size", 3}, {"max_length", 12}}};
  std::vector<std::string> alone;
  for (const json& request : requests) alone.push_back(post("/api/translate", request).body);
  const std::int64_t batches_before = service_->batches_run();
  ASSERT_EQ(batches_before, static_cast<std::int64_t>(requests.size()));

  std::vector<Response> together(requests.size());
  std::vector<std::thread> threads;
  Response blocker;
  std::thread blocking;
  {
    const auto lock = service_->models().find("numbers")->lock();
    blocking = std::thread([&] { blocker = post("/api/translate", requests[0]); });
    ASSERT_TRUE(eventually([&] { return service_->runs_in_progress() == 1; }));
    for (std::size_t i = 0; i < requests.size(); ++i) {
      threads.emplace_back([&, i] { together[i] = post("/api/translate", requests[i]); });
    }
    ASSERT_TRUE(eventually([&] { return service_->requests_waiting() == static_cast<std::int64_t>(requests.size()); }));
  }
  blocking.join();
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(testing::answer_difference(body_of(blocker), json::parse(alone[0])), "");
  for (std::size_t i = 0; i < requests.size(); ++i) {
    ASSERT_EQ(together[i].status, 200) << describe(together[i]);
    EXPECT_EQ(testing::answer_difference(body_of(together[i]), json::parse(alone[i])), "") << "request " << i;
  }
  // The blocker's batch, then one batch per decoding setting (greedy, beam 3).
  EXPECT_EQ(service_->batches_run() - batches_before, 3);
  const json health = body_of(service_->handle("GET", "/api/health", ""));
  EXPECT_EQ(health["requests_run"], 2 * requests.size() + 1);
}

// Requests from several threads at once (batched as they happen to meet) get what one thread
// gets, scores to float32 rounding.
TEST_F(ServeApi, RequestsFromManyThreadsGetWhatOneThreadGets) {
  Limits limits;
  limits.max_concurrent = 8;
  make_service(limits);
  const json request = {{"text", "la gata bebe"}, {"attention", true}};
  const std::string expected = post("/api/translate", request).body;
  std::vector<std::string> bodies(6);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    threads.emplace_back([&, i] {
      bodies[i] = post(i % 2 == 0 ? "/api/translate" : "/api/classify", request).body;
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::string classified = post("/api/classify", request).body;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    EXPECT_EQ(testing::answer_difference(json::parse(bodies[i]), json::parse(i % 2 == 0 ? expected : classified)), "")
        << "request " << i;
  }
}

// A classifier whose forward pass fails in a way the library never does on purpose.
class FailingClassifier : public tasks::ClassificationModel {
 public:
  nn::Module& module() override { return module_; }
  const nn::Module& module() const override { return module_; }
  std::string arch() const override { return "failing"; }
  nlohmann::json options_json() const override { return {{"vocab_size", 100}}; }
  std::int64_t vocab_size() const override { return 100; }
  std::int64_t num_classes() const override { return 2; }
  std::int64_t max_length() const override { return 0; }
  tasks::ClassifierForward forward(const data::PaddedBatch&) const override {
    throw std::logic_error("something broke");
  }

 private:
  nn::Module module_;
};

TEST_F(ServeApi, AnUnexpectedExceptionIsA500ThatIsLoggedAndTheServiceGoesOn) {
  Models models;
  auto tokenizer = std::make_shared<text::CharVocabulary>(testing::tiny_vocabulary());
  models.add("broken", tasks::Classifier(std::make_shared<FailingClassifier>(), tokenizer,
                                         {"no", "yes"}, 0, data::Truncation::KeepStart));
  std::string log;
  Service service(std::move(models), Limits{}, [&log](const std::string& line) { log += line; });
  const Response failed = service.handle("POST", "/api/classify", R"({"text": "the cat"})");
  EXPECT_EQ(failed.status, 500);
  EXPECT_NE(failed.body.find("internal error"), std::string::npos) << failed.body;
  EXPECT_NE(log.find("something broke"), std::string::npos) << log;
  EXPECT_EQ(service.runs_in_progress(), 0);  // the slot came back
  EXPECT_EQ(service.handle("GET", "/api/health", "").status, 200);
}

TEST(ServeLimits, RefusesLimitsThatAreNotPositive) {
  Limits limits;
  limits.max_concurrent = 0;
  EXPECT_THROW(check_limits(limits), Error);
  for (std::int64_t Limits::*field : {&Limits::max_batch, &Limits::queue_size, &Limits::queue_wait_ms}) {
    Limits other;
    other.*field = 0;
    EXPECT_THROW(check_limits(other), Error);
  }
  EXPECT_THROW(Service(Models{}, limits), Error);
  ConcurrencyLimit slots(2);
  {
    ConcurrencyLimit::Slot a = slots.try_acquire(), b = slots.try_acquire();
    EXPECT_TRUE(a && b);
    EXPECT_FALSE(slots.try_acquire());
    EXPECT_EQ(slots.in_use(), 2);
  }
  EXPECT_EQ(slots.in_use(), 0);
}

}  // namespace
}  // namespace attn::serve
