// POST /api/embed with the real all-MiniLM-L6-v2 loaded from its folder: the embedding and
// the attention maps in the JSON are the library's exactly (once read back as float32), a
// pair embeds as one input, and bad requests get their status.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/inspect/attention_maps.h"
#include "attn/serve/service.h"
#include "support/pretrained_model.h"

namespace attn::serve {
namespace {

using nlohmann::json;

using attn::testing::minilm_directory;

class EmbedApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Models models;
    models.load({"minilm", minilm_directory()});
    service_ = new Service(std::move(models), Limits{});
  }
  static void TearDownTestSuite() {
    delete service_;
    service_ = nullptr;
  }
  static Response post(const json& body) { return service_->handle("POST", "/api/embed", body.dump()); }
  static const models::PretrainedEncoder& encoder() {
    return *service_->models().find("minilm")->encoder();
  }
  static Service* service_;
};
Service* EmbedApi::service_ = nullptr;

// The numbers of nested JSON arrays in row-major order.
void flatten(const json& value, std::vector<double>& out) {
  if (!value.is_array()) {
    out.push_back(value.get<double>());
    return;
  }
  for (const json& item : value) flatten(item, out);
}

// Every number, read back as float32, equals the tensor's element exactly.
void expect_same_floats(const json& got, const Tensor& want) {
  std::vector<double> numbers;
  flatten(got, numbers);
  const Tensor values = want.contiguous();
  ASSERT_EQ(numbers.size(), std::size_t(values.numel()));
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    ASSERT_EQ(static_cast<float>(numbers[i]), values.data<float>()[i]) << "element " << i;
  }
}

TEST_F(EmbedApi, ListsTheFolderAsAnEmbeddingModel) {
  const json listing = json::parse(service_->handle("GET", "/api/models", "").body);
  ASSERT_EQ(listing["models"].size(), 1u);
  const json& model = listing["models"][0];
  EXPECT_EQ(model["name"], "minilm");
  EXPECT_EQ(model["kind"], "embedding");
  EXPECT_EQ(model["arch"], "bert");
  EXPECT_EQ(model["dimensions"], 384);
  EXPECT_EQ(model["pooling"], "mean");
  EXPECT_EQ(model["normalize"], true);
  EXPECT_EQ(model["max_input_tokens"], 254);  // 256 with [CLS] and [SEP]
}

TEST_F(EmbedApi, TheEmbeddingAndItsAttentionAreTheLibrarysExactly) {
  const std::string text = "A man is eating food.";
  const Response response = post({{"text", text}, {"attention", true}});
  ASSERT_EQ(response.status, 200) << response.body.substr(0, 300);
  const json body = json::parse(response.body);
  EXPECT_EQ(body["dimensions"], 384);
  expect_same_floats(body["embedding"], encoder().embed({text}));
  const inspect::PretrainedAttention expected = inspect::pretrained_attention(encoder(), text);
  EXPECT_EQ(body["attention"]["tokens"].get<std::vector<std::string>>(), expected.tokens);
  ASSERT_EQ(body["attention"]["maps"].size(), 6u);
  for (std::size_t layer = 0; layer < 6; ++layer) {
    expect_same_floats(body["attention"]["maps"][layer]["weights"], expected.maps[layer].weights);
  }
}

TEST_F(EmbedApi, APairIsOneInputWithTypeIds) {
  const Response response =
      post({{"text", "Who was the heroine?"}, {"pair", "Anne Elliot."}, {"attention", true}});
  ASSERT_EQ(response.status, 200) << response.body.substr(0, 300);
  const json body = json::parse(response.body);
  const std::vector<std::int64_t> type_ids = body["attention"]["type_ids"];
  EXPECT_EQ(type_ids.front(), 0);
  EXPECT_EQ(type_ids.back(), 1);
  const json alone = json::parse(post({{"text", "Who was the heroine?"}}).body);
  EXPECT_NE(body["embedding"], alone["embedding"]);
}

TEST_F(EmbedApi, BadRequestsGetAClientError) {
  EXPECT_EQ(post({{"attention", true}}).status, 400);                        // no text
  EXPECT_EQ(post({{"text", "   "}}).status, 400);                            // blank
  EXPECT_EQ(post({{"text", "hi"}, {"pair", ""}}).status, 400);               // blank pair
  EXPECT_EQ(post({{"text", "hi"}, {"colour", "red"}}).status, 400);          // unknown field
  EXPECT_EQ(post({{"text", "hi"}, {"model", "other"}}).status, 404);         // unknown model
  std::string long_text;
  for (int i = 0; i < 300; ++i) long_text += "word ";
  const Response too_long = post({{"text", long_text}});
  EXPECT_EQ(too_long.status, 400);
  EXPECT_NE(too_long.body.find("takes at most 254"), std::string::npos) << too_long.body;
  EXPECT_EQ(service_->handle("POST", "/api/translate", R"({"text": "hi"})").status, 404);
}

}  // namespace
}  // namespace attn::serve
