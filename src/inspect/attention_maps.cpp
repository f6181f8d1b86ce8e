#include "attn/inspect/attention_maps.h"

#include <utility>

#include "attn/autograd/grad_mode.h"
#include "attn/core/error.h"
#include "attn/data/batching.h"
#include "attn/models/language_model.h"
#include "attn/models/rnn_seq2seq.h"
#include "attn/models/transformer.h"
#include "attn/models/transformer_classifier.h"
#include "attn/nn/attention_capture.h"
#include "attn/ops/reduce.h"
#include "attn/ops/views.h"
#include "attn/text/tokenizer.h"

namespace attn::inspect {
namespace {

constexpr std::int64_t kBeginId = 2;  // <s>
constexpr std::int64_t kEndId = 3;    // </s>

// weights [1, H, Nq, Nk] of a one-sentence batch -> float32 [H, Nq, Nk], contiguous.
Tensor one_sentence(const Tensor& weights) {
  return ops::squeeze(weights, 0).to(DType::Float32).contiguous();
}

std::vector<std::string> pieces(const text::Tokenizer& tokenizer,
                                const std::vector<std::int64_t>& ids) {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (std::int64_t id : ids) out.push_back(tokenizer.id_to_piece(id));
  return out;
}

// The weights module `attention` computed under `capture` (its one call; a forward pass
// runs each attention sublayer once).
Tensor captured_weights(const nn::AttentionCapture& capture, const void* attention,
                        const std::string& name) {
  std::vector<const nn::CapturedAttention*> entries = capture.entries_of(attention);
  ATTN_ASSERT(entries.size() == 1, "inspect: ", name, " ran ", entries.size(), " times");
  return one_sentence(entries.front()->weights());
}

void add_map(std::vector<AttentionMap>& maps, std::string name, AttentionKind kind,
             std::int64_t layer, Tensor weights, std::vector<std::string> query_tokens,
             std::vector<std::string> key_tokens) {
  ATTN_ASSERT(weights.dim() == 3 &&
              weights.size(1) == static_cast<std::int64_t>(query_tokens.size()) &&
              weights.size(2) == static_cast<std::int64_t>(key_tokens.size()));
  maps.push_back({std::move(name), kind, layer, std::move(weights), std::move(query_tokens),
                  std::move(key_tokens)});
}

// Encoder self-attention maps of a stack that ran under `capture`.
void add_encoder_maps(std::vector<AttentionMap>& maps, const nn::AttentionCapture& capture,
                      const models::TransformerEncoder& encoder, const std::string& prefix,
                      AttentionKind kind, const std::vector<std::string>& tokens) {
  for (std::size_t i = 0; i < encoder.num_layers(); ++i) {
    std::string name = prefix + ".layers." + std::to_string(i) + ".self_attention";
    Tensor weights = captured_weights(capture, &encoder.layer(i).self_attention(), name);
    add_map(maps, std::move(name), kind, static_cast<std::int64_t>(i), weights, tokens, tokens);
  }
}

void check_length(const tasks::TranslationModel& model, std::size_t length, const char* side) {
  ATTN_CHECK(model.max_length() == 0 || static_cast<std::int64_t>(length) <= model.max_length(),
             "attention maps: the ", side, " is ", length,
             " tokens long with </s>; the model takes at most ", model.max_length());
}

TranslationAttention transformer_maps(const models::Transformer& transformer,
                                      const data::PaddedBatch& source, const Tensor& target_in,
                                      TranslationAttention result,
                                      const std::vector<std::string>& decoder_inputs) {
  nn::AttentionCapture capture;
  transformer.forward(source.tokens, target_in, source.padding_mask);
  add_encoder_maps(result.maps, capture, transformer.encoder(), "encoder",
                   AttentionKind::EncoderSelf, result.source_tokens);
  const models::TransformerDecoder& decoder = transformer.decoder();
  for (std::size_t i = 0; i < decoder.num_layers(); ++i) {
    const auto layer = static_cast<std::int64_t>(i);
    const std::string prefix = "decoder.layers." + std::to_string(i);
    add_map(result.maps, prefix + ".self_attention", AttentionKind::DecoderSelf, layer,
            captured_weights(capture, &decoder.layer(i).self_attention(), prefix),
            result.target_tokens, decoder_inputs);
    add_map(result.maps, prefix + ".cross_attention", AttentionKind::Cross, layer,
            captured_weights(capture, &decoder.layer(i).cross_attention(), prefix),
            result.target_tokens, result.source_tokens);
  }
  return result;
}

TranslationAttention rnn_maps(const models::RnnSeq2Seq& rnn, const data::PaddedBatch& source,
                              const Tensor& target_in, TranslationAttention result) {
  // attention_weights [1, T, S] -> [1 head, T, S]
  Tensor weights =
      rnn.forward(source.tokens, source.lengths, target_in, /*need_weights=*/true)
          .attention_weights.to(DType::Float32)
          .contiguous();
  add_map(result.maps, "attention", AttentionKind::Cross, 0, weights, result.target_tokens,
          result.source_tokens);
  return result;
}

}  // namespace

std::string_view attention_kind_name(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::EncoderSelf: return "encoder_self";
    case AttentionKind::DecoderSelf: return "decoder_self";
    case AttentionKind::Cross: return "cross";
    case AttentionKind::Pooling: return "pooling";
  }
  return "?";
}

AttentionKind parse_attention_kind(std::string_view name) {
  for (AttentionKind kind : {AttentionKind::EncoderSelf, AttentionKind::DecoderSelf,
                             AttentionKind::Cross, AttentionKind::Pooling}) {
    if (attention_kind_name(kind) == name) return kind;
  }
  ATTN_CHECK(false, "attention kind: expected encoder_self, decoder_self, cross or pooling, got '",
             name, "'");
  return AttentionKind::Cross;
}

AttentionMap average_heads(const AttentionMap& map) {
  AttentionMap averaged = map;
  averaged.weights = ops::mean(map.weights, {0}, /*keepdim=*/true).contiguous();
  return averaged;
}

std::vector<const AttentionMap*> maps_of_kind(const std::vector<AttentionMap>& maps,
                                              AttentionKind kind) {
  std::vector<const AttentionMap*> found;
  for (const AttentionMap& map : maps) {
    if (map.kind == kind) found.push_back(&map);
  }
  return found;
}

TranslationAttention translation_attention(const tasks::TranslationModel& model,
                                           const text::Tokenizer& source_tokenizer,
                                           const text::Tokenizer& target_tokenizer,
                                           const std::vector<std::int64_t>& source_ids,
                                           const std::vector<std::int64_t>& target_ids) {
  std::vector<std::int64_t> source = source_ids;
  source.push_back(kEndId);
  std::vector<std::int64_t> target_in{kBeginId};
  target_in.insert(target_in.end(), target_ids.begin(), target_ids.end());
  std::vector<std::int64_t> target_out = target_ids;
  target_out.push_back(kEndId);
  check_length(model, source.size(), "source");
  check_length(model, target_in.size(), "target");

  TranslationAttention result;
  result.source_tokens = pieces(source_tokenizer, source);
  result.target_tokens = pieces(target_tokenizer, target_out);
  NoGradGuard no_grad;
  data::PaddedBatch source_batch = data::pad_sequences({source});
  // target_in [1, T]
  Tensor target_tensor = Tensor::from_vector<std::int64_t>(
      {1, static_cast<std::int64_t>(target_in.size())}, target_in);
  if (const auto* transformer = dynamic_cast<const models::Transformer*>(&model.module())) {
    return transformer_maps(*transformer, source_batch, target_tensor, std::move(result),
                            pieces(target_tokenizer, target_in));
  }
  if (const auto* rnn = dynamic_cast<const models::RnnSeq2Seq*>(&model.module())) {
    return rnn_maps(*rnn, source_batch, target_tensor, std::move(result));
  }
  ATTN_CHECK(false, "attention maps: no attention to show for a '", model.arch(), "' model");
  return result;
}

TranslationAttention translation_attention(const tasks::Translator& translator,
                                           const std::string& source, const std::string& target) {
  std::vector<std::int64_t> source_ids = translator.source_tokenizer().encode(source);
  ATTN_CHECK(!source_ids.empty(), "attention maps: the source sentence is empty");
  return translation_attention(translator.model(), translator.source_tokenizer(),
                               translator.target_tokenizer(), source_ids,
                               translator.target_tokenizer().encode(target));
}

ClassificationAttention classification_attention(const tasks::Classifier& classifier,
                                                  const std::string& text) {
  ClassificationAttention result;
  nn::AttentionCapture capture;
  result.result = classifier.classify({text}).front();
  const std::vector<std::string>& tokens = result.result.tokens;
  const auto length = static_cast<std::int64_t>(tokens.size());
  if (!result.result.attention.empty()) {
    // The BiGRU's pooling: one query (the learned context) over the words.
    std::vector<float> weights(result.result.attention.begin(), result.result.attention.end());
    add_map(result.maps, "attention", AttentionKind::Pooling, 0,
            Tensor::from_vector<float>({1, 1, length}, weights), {"<pooled>"}, tokens);
    return result;
  }
  const auto* transformer =
      dynamic_cast<const models::TransformerClassifier*>(&classifier.model().module());
  ATTN_CHECK(transformer != nullptr, "attention maps: no attention to show for a '",
             classifier.model().arch(), "' classifier");
  add_encoder_maps(result.maps, capture, transformer->encoder(), "encoder",
                   AttentionKind::EncoderSelf, tokens);
  return result;
}

LanguageModelAttention language_model_attention(const tasks::TextGenerator& generator,
                                                const std::string& text) {
  return language_model_attention(generator, text, {});
}

LanguageModelAttention language_model_attention(const tasks::TextGenerator& generator,
                                                const std::string& prompt,
                                                const std::vector<std::int64_t>& generated) {
  std::vector<std::int64_t> ids{kEndId};
  std::vector<std::int64_t> prompt_ids = generator.tokenizer().encode(prompt);
  ids.insert(ids.end(), prompt_ids.begin(), prompt_ids.end());
  ids.insert(ids.end(), generated.begin(), generated.end());
  ATTN_CHECK(static_cast<std::int64_t>(ids.size()) <= generator.max_length(),
             "attention maps: the text is ", ids.size(),
             " tokens long with the leading </s>; the model takes at most ",
             generator.max_length());
  for (std::int64_t id : generated) {
    ATTN_CHECK(id >= 0 && id < generator.tokenizer().vocab_size(),
               "attention maps: generated id ", id, " is outside the vocabulary [0, ",
               generator.tokenizer().vocab_size(), ")");
  }
  LanguageModelAttention result;
  result.tokens = pieces(generator.tokenizer(), ids);
  NoGradGuard no_grad;
  nn::AttentionCapture capture;
  generator.model().forward(
      Tensor::from_vector<std::int64_t>({1, static_cast<std::int64_t>(ids.size())}, ids));
  add_encoder_maps(result.maps, capture, generator.model().decoder(), "decoder",
                   AttentionKind::DecoderSelf, result.tokens);
  return result;
}

PretrainedAttention pretrained_attention(const models::PretrainedEncoder& model,
                                         const std::string& text, const std::string& pair) {
  ATTN_CHECK(!text.empty(), "attention maps: the text is empty");
  const models::TokenBatch batch =
      pair.empty() ? model.tokenize({text}) : model.tokenize_pairs({{text, pair}});
  PretrainedAttention result;
  result.tokens = batch.tokens.front();
  const std::int64_t* type_ids = batch.type_ids.data<std::int64_t>();
  result.type_ids.assign(type_ids, type_ids + batch.type_ids.numel());
  NoGradGuard no_grad;
  nn::AttentionCapture capture;
  model.hidden_states(batch);
  add_encoder_maps(result.maps, capture, model.model().encoder(), "encoder",
                   AttentionKind::EncoderSelf, result.tokens);
  return result;
}

}  // namespace attn::inspect
