// `attn serve`'s HTTP server over a real socket: started on a free port in a thread, asked a
// few things with httplib's client, stopped. The server is part of the command-line program
// (apps/attn/http_server.h); a build without it has nothing to test here.
#ifdef ATTN_HAVE_HTTP_SERVER

#include "http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "serve/serve_test_support.h"
#include "support/temporary_directory.h"

namespace attn::cli {
namespace {

using nlohmann::json;

// A Service over `models`, behind an HttpServer on a free loopback port, running in a thread
// until destroyed.
class RunningServer {
 public:
  RunningServer(serve::Models models, const serve::Limits& limits, int worker_threads = 6)
      : service_(std::move(models), limits) {
    add_web_page(service_);
    HttpServerOptions options;
    options.port = 0;
    options.max_body_bytes = limits.max_body_bytes;
    options.worker_threads = worker_threads;
    options.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> guard(log_mutex_);
      log_ += line + "\n";
    };
    server_ = std::make_unique<HttpServer>(service_, options);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~RunningServer() {
    server_->stop();
    thread_.join();
  }

  serve::Service& service() { return service_; }
  int port() const { return port_; }
  std::unique_ptr<httplib::Client> client() const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client->set_read_timeout(30, 0);
    return client;
  }
  std::string log() {
    std::lock_guard<std::mutex> guard(log_mutex_);
    return log_;
  }

 private:
  serve::Service service_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex log_mutex_;
  std::string log_;
};

class ServeHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    serve::Models models;
    models.load({"colours", testing::write_classifier_run(directory_.path() / "colours")});
    serve::Limits limits;
    limits.max_body_bytes = 2000;
    server_ = std::make_unique<RunningServer>(std::move(models), limits);
    service_ = &server_->service();
    port_ = server_->port();
    client_ = server_->client();
  }

  static json body_of(const httplib::Result& result) { return json::parse(result->body); }

  testing::TemporaryDirectory directory_{"attn_serve_http"};
  std::unique_ptr<RunningServer> server_;
  serve::Service* service_ = nullptr;
  std::unique_ptr<httplib::Client> client_;
  int port_ = 0;
};

TEST_F(ServeHttp, ServesThePageAndTheApi) {
  ASSERT_GT(port_, 0);
  const httplib::Result page = client_->Get("/");
  ASSERT_TRUE(page) << httplib::to_string(page.error());
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("id=\"heatmap\""), std::string::npos);
  const httplib::Result script = client_->Get("/app.js");
  ASSERT_TRUE(script);
  EXPECT_EQ(script->status, 200);
  EXPECT_NE(script->body.find("td.cell"), std::string::npos);

  const std::string request = R"({"text": "the cat", "attention": true})";
  const httplib::Result classified = client_->Post("/api/classify", request, "application/json");
  ASSERT_TRUE(classified);
  EXPECT_EQ(classified->status, 200) << classified->body;
  // The socket adds nothing: the body is the service's.
  EXPECT_EQ(classified->body, service_->handle("POST", "/api/classify", request).body);
  EXPECT_TRUE(classified->has_header("Server-Timing"));
  EXPECT_EQ(body_of(classified)["attention"]["maps"][0]["weights"][0][0].size(), 7u);
}

TEST_F(ServeHttp, AnswersTransportErrorsInJson) {
  const httplib::Result plain_text = client_->Post("/api/classify", R"({"text": "a"})", "text/plain");
  ASSERT_TRUE(plain_text);
  EXPECT_EQ(plain_text->status, 415);

  const httplib::Result too_large = client_->Post("/api/classify", std::string(3000, ' '), "application/json");
  ASSERT_TRUE(too_large);
  EXPECT_EQ(too_large->status, 413);
  EXPECT_NE(body_of(too_large)["error"].get<std::string>().find("2000 bytes"), std::string::npos);

  const httplib::Result unknown = client_->Get("/api/unknown");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_TRUE(body_of(unknown).contains("error"));

  const httplib::Result long_path = client_->Get("/" + std::string(6000, 'a'));
  ASSERT_TRUE(long_path);
  EXPECT_EQ(long_path->status, 404);

  const httplib::Result wrong_method = client_->Delete("/api/classify");
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_EQ(wrong_method->get_header_value("Allow"), "POST");

  const httplib::Result malformed = client_->Post("/api/classify", "{", "application/json");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);

  // A page on another site whose name resolves to 127.0.0.1 (DNS rebinding) is refused.
  const httplib::Result rebound = client_->Get("/api/health", {{"Host", "attacker.example"}});
  ASSERT_TRUE(rebound);
  EXPECT_EQ(rebound->status, 403);
  const httplib::Result local = client_->Get("/api/health", {{"Host", "localhost:" + std::to_string(port_)}});
  ASSERT_TRUE(local);
  EXPECT_EQ(local->status, 200);

  // Still serving after all of that.
  const httplib::Result health = client_->Get("/api/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_NE(server_->log().find("POST /api/classify 415"), std::string::npos) << server_->log();
}

// A load test: 16 clients at once, each posting 12 requests over its own connection, against
// the translation and classification models. Nothing is lost, refused or failed, and every
// answer is the one the request gets alone, however it was batched (scores to float32
// rounding: answer_difference).
TEST(ServeHttpLoad, ConcurrentClientsGetWhatEachRequestGetsAlone) {
  testing::TemporaryDirectory directory("attn_serve_load");

  serve::Models models;
  models.load({"numbers", testing::write_translation_run(directory.path() / "numbers")});
  models.load({"colours", testing::write_classifier_run(directory.path() / "colours")});
  RunningServer server(std::move(models), serve::Limits{}, 40);
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"/api/translate", R"({"text": "el perro come pan.", "method": "greedy", "max_length": 12})"},
      {"/api/translate", R"({"text": "la gata bebe agua", "method": "greedy", "max_length": 12})"},
      {"/api/translate", R"({"text": "el pan", "max_length": 12, "beam_size": 2})"},
      {"/api/translate", R"({"text": "la gata", "max_length": 12, "attention": true, "method": "greedy"})"},
      {"/api/classify", R"({"text": "the red cat"})"},
      {"/api/classify", R"({"text": "blue water", "attention": true})"}};
  std::vector<std::string> alone;
  for (const auto& [path, body] : requests) alone.push_back(server.service().handle("POST", path, body).body);

  constexpr int kClients = 16, kRequestsEach = 12;
  std::vector<std::vector<std::string>> failures(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      const auto client = server.client();
      for (int r = 0; r < kRequestsEach; ++r) {
        const std::size_t which = static_cast<std::size_t>(c + r) % requests.size();
        const httplib::Result result = client->Post(requests[which].first, requests[which].second, "application/json");
        if (!result) {
          failures[c].push_back("no answer: " + httplib::to_string(result.error()));
        } else if (result->status != 200) {
          failures[c].push_back(std::to_string(result->status) + " for request " + std::to_string(which) +
                                ": " + result->body.substr(0, 200));
        } else if (const std::string difference = testing::answer_difference(
                       json::parse(result->body), json::parse(alone[which]));
                   !difference.empty()) {
          failures[c].push_back("request " + std::to_string(which) + " differs from its answer alone at " +
                                difference);
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  for (int c = 0; c < kClients; ++c) EXPECT_TRUE(failures[c].empty()) << "client " << c << ": " << failures[c].front();
  if (HasFailure()) std::cerr << "the server's log:\n" << server.log();
  const serve::Service& service = server.service();
  EXPECT_EQ(service.requests_run(), static_cast<std::int64_t>(requests.size()) + kClients * kRequestsEach);
  EXPECT_LT(service.batches_run(), service.requests_run()) << "some requests shared a batch";
  EXPECT_EQ(service.requests_waiting(), 0);
  EXPECT_EQ(service.runs_in_progress(), 0);
}

TEST(ServeHttpServer, RefusesABusyPortAndStopsWhenAskedBeforeItRuns) {
  serve::Service service(serve::Models{}, serve::Limits{});
  HttpServerOptions options;
  options.port = 0;
  HttpServer first(service, options);
  options.port = first.bind();
  HttpServer second(service, options);
  EXPECT_THROW(second.bind(), Error);
  first.stop();
  first.run();  // returns at once: the stop came first
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("LOCALHOST"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("192.168.1.2"));
}

}  // namespace
}  // namespace attn::cli

#endif  // ATTN_HAVE_HTTP_SERVER
