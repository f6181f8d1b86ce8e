// Inputs the fuzz targets (fuzz/) found that broke something, kept as tests once fixed. Each
// test names the target, the input and what went wrong; docs/RELIABILITY.md lists them.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "attn/serve/service.h"

namespace attn {
namespace {

// fuzz_serve_api: a body holding a number too large for a double ("888888E888") made
// nlohmann::json throw out_of_range, which the request parser did not catch: the service
// answered 500 "internal error" instead of 400. Found within seconds of the first run.
TEST(FuzzRegressions, ServeApiAnswersAnOverflowingNumberWith400) {
  serve::Service service(serve::Models{}, serve::Limits{}, [](const std::string&) {});
  for (const char* body : {"888888E888", R"({"text": "uno", "max_length": 1e999})",
                           R"({"text": "uno", "seed": -4e400})"}) {
    for (const char* path : {"/api/translate", "/api/classify", "/api/generate"}) {
      const serve::Response response = service.handle("POST", path, body);
      EXPECT_EQ(response.status, 400) << path << " " << body << ": " << response.body;
      const nlohmann::json error = nlohmann::json::parse(response.body);
      const std::string message = error.at("error").get<std::string>();
      EXPECT_NE(message.find("malformed JSON: number overflow"), std::string::npos) << message;
    }
  }
}

}  // namespace
}  // namespace attn
