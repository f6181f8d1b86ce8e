// Hierarchical names, state dicts and train/eval through nested modules.
#include <gtest/gtest.h>

#include <memory>

#include "attn/nn/nn.h"
#include "nn/nn_test_support.h"

namespace attn::nn {
namespace {

class EncoderLayer : public Module {
 public:
  EncoderLayer() {
    norm = register_module("norm", std::make_shared<LayerNorm>(4));
    ffn = register_module("ffn", std::make_shared<FeedForward>(4, 8, 0.5));
  }
  std::shared_ptr<LayerNorm> norm;
  std::shared_ptr<FeedForward> ffn;
};

// Children named "0", "1", ..., as a PyTorch ModuleList.
class LayerStack : public Module {
 public:
  explicit LayerStack(int count) {
    for (int i = 0; i < count; ++i) {
      layers.push_back(register_module(std::to_string(i), std::make_shared<EncoderLayer>()));
    }
  }
  std::vector<std::shared_ptr<EncoderLayer>> layers;
};

class Encoder : public Module {
 public:
  Encoder() {
    embedding = register_module("embedding", std::make_shared<Embedding>(10, 4));
    layers = register_module("layers", std::make_shared<LayerStack>(2));
    rnn = register_module("rnn",
                          std::make_shared<GRU>(RNNOptions{.input_size = 4, .hidden_size = 4}));
  }
  std::shared_ptr<Embedding> embedding;
  std::shared_ptr<LayerStack> layers;
  std::shared_ptr<GRU> rnn;
};

class Model : public Module {
 public:
  Model() { encoder = register_module("encoder", std::make_shared<Encoder>()); }
  std::shared_ptr<Encoder> encoder;
};

TEST(ModuleNaming, NestedModulesComposeDottedNames) {
  Model model;
  std::vector<std::string> names;
  for (const auto& [name, tensor] : model.named_parameters()) names.push_back(name);
  std::vector<std::string> expected{"encoder.embedding.weight"};
  for (std::string layer : {"0", "1"}) {
    std::string prefix = "encoder.layers." + layer + ".";
    for (std::string leaf : {"norm.weight", "norm.bias", "ffn.w1.weight", "ffn.w1.bias",
                             "ffn.w2.weight", "ffn.w2.bias"}) {
      expected.push_back(prefix + leaf);
    }
  }
  for (std::string leaf : {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}) {
    expected.push_back("encoder.rnn." + leaf);
  }
  EXPECT_EQ(names, expected);
  EXPECT_TRUE(model.state_dict().count("encoder.layers.0.ffn.w1.weight"));
}

TEST(ModuleNaming, StateDictRoundTripsBetweenInstances) {
  manual_seed(100);
  Model source;
  Model target;  // different initial values: the generator advanced
  ASSERT_NE(source.encoder->layers->layers[1]->ffn->w2().weight().to_vector<float>(),
            target.encoder->layers->layers[1]->ffn->w2().weight().to_vector<float>());
  target.load_state_dict(source.state_dict());
  for (const auto& [name, tensor] : source.state_dict()) {
    EXPECT_EQ(tensor.to_vector<float>(), target.state_dict().at(name).to_vector<float>()) << name;
  }
  // Loading copies values; the modules keep their own storage.
  EXPECT_FALSE(source.encoder->embedding->weight().storage() ==
               target.encoder->embedding->weight().storage());
}

TEST(ModuleNaming, LoadStateDictNamesTheMismatch) {
  Model model;
  std::map<std::string, Tensor> state = model.state_dict();
  state["encoder.layers.1.ffn.w1.weight"] = Tensor::zeros({8, 5});
  EXPECT_TRUE(
      attn::testing::throws_error_with([&] { model.load_state_dict(state); },
                                       {"encoder.layers.1.ffn.w1.weight", "[8, 5]", "[8, 4]"}));
}

TEST(ModuleNaming, TrainAndEvalReachEveryDescendant) {
  Model model;
  model.eval();
  EXPECT_FALSE(model.encoder->layers->layers[1]->ffn->is_training());
  model.train();
  EXPECT_TRUE(model.encoder->layers->layers[0]->ffn->is_training());
}

}  // namespace
}  // namespace attn::nn
