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
Tensor captured_batch_weights(const nn::AttentionCapture& capture, const void* attention,
                              const std::string& name) {
  std::vector<const nn::CapturedAttention*> entries = capture.entries_of(attention);
  ATTN_ASSERT(entries.size() == 1, "inspect: ", name, " ran ", entries.size(), " times");
  return entries.front()->weights();
}

Tensor captured_weights(const nn::AttentionCapture& capture, const void* attention,
                        const std::string& name) {
  return one_sentence(captured_batch_weights(capture, attention, name));
}

// Row `row` of batch weights [B, H, Nq', Nk'] without its padding: float32 [H, queries, keys].
Tensor sentence_of_batch(const Tensor& weights, std::int64_t row, std::int64_t queries, std::int64_t keys) {
  const Tensor sentence = ops::select(weights, 0, row);
  return ops::slice(ops::slice(sentence, 1, 0, queries), 2, 0, keys).to(DType::Float32).contiguous();
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

// One forced-decoding pass over the pairs of a batch; results[i] holds pair i's tokens and
// receives its maps.
void transformer_maps(const models::Transformer& transformer, const data::PaddedBatch& source,
                      const Tensor& target_in, std::vector<TranslationAttention>& results,
                      const std::vector<std::vector<std::string>>& decoder_inputs) {
  nn::AttentionCapture capture;
  transformer.forward(source.tokens, target_in, source.padding_mask);
  struct Captured {
    std::string name;
    AttentionKind kind;
    std::int64_t layer;
    Tensor weights;  // [B, H, Nq', Nk']
  };
  std::vector<Captured> captured;
  const models::TransformerEncoder& encoder = transformer.encoder();
  for (std::size_t i = 0; i < encoder.num_layers(); ++i) {
    const std::string name = "encoder.layers." + std::to_string(i) + ".self_attention";
    captured.push_back({name, AttentionKind::EncoderSelf, static_cast<std::int64_t>(i),
                        captured_batch_weights(capture, &encoder.layer(i).self_attention(), name)});
  }
  const models::TransformerDecoder& decoder = transformer.decoder();
  for (std::size_t i = 0; i < decoder.num_layers(); ++i) {
    const std::string prefix = "decoder.layers." + std::to_string(i);
    captured.push_back({prefix + ".self_attention", AttentionKind::DecoderSelf, static_cast<std::int64_t>(i),
                        captured_batch_weights(capture, &decoder.layer(i).self_attention(), prefix)});
    captured.push_back({prefix + ".cross_attention", AttentionKind::Cross, static_cast<std::int64_t>(i),
                        captured_batch_weights(capture, &decoder.layer(i).cross_attention(), prefix)});
  }
  for (std::size_t row = 0; row < results.size(); ++row) {
    TranslationAttention& result = results[row];
    const auto source_length = static_cast<std::int64_t>(result.source_tokens.size());
    const auto target_length = static_cast<std::int64_t>(result.target_tokens.size());
    for (const Captured& map : captured) {
      const bool encoder_map = map.kind == AttentionKind::EncoderSelf;
      const std::int64_t queries = encoder_map ? source_length : target_length;
      const std::int64_t keys = map.kind == AttentionKind::DecoderSelf ? target_length : source_length;
      add_map(result.maps, map.name, map.kind, map.layer,
              sentence_of_batch(map.weights, static_cast<std::int64_t>(row), queries, keys),
              encoder_map ? result.source_tokens : result.target_tokens,
              map.kind == AttentionKind::DecoderSelf ? decoder_inputs[row] : result.source_tokens);
    }
  }
}

void rnn_maps(const models::RnnSeq2Seq& rnn, const data::PaddedBatch& source, const Tensor& target_in,
              std::vector<TranslationAttention>& results) {
  // attention_weights [B, T', S'] -> [B, 1 head, T', S'] -> per pair [1 head, T, S]
  const Tensor weights = ops::unsqueeze(
      rnn.forward(source.tokens, source.lengths, target_in, /*need_weights=*/true).attention_weights, 1);
  for (std::size_t row = 0; row < results.size(); ++row) {
    TranslationAttention& result = results[row];
    add_map(result.maps, "attention", AttentionKind::Cross, 0,
            sentence_of_batch(weights, static_cast<std::int64_t>(row),
                              static_cast<std::int64_t>(result.target_tokens.size()),
                              static_cast<std::int64_t>(result.source_tokens.size())),
            result.target_tokens, result.source_tokens);
  }
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

std::vector<TranslationAttention> translation_attention(
    const tasks::TranslationModel& model, const text::Tokenizer& source_tokenizer,
    const text::Tokenizer& target_tokenizer, const std::vector<std::vector<std::int64_t>>& source_ids,
    const std::vector<std::vector<std::int64_t>>& target_ids) {
  ATTN_CHECK(!source_ids.empty() && source_ids.size() == target_ids.size(),
             "attention maps: expected as many targets as sources (at least one), got ",
             source_ids.size(), " sources and ", target_ids.size(), " targets");
  std::vector<std::vector<std::int64_t>> sources, targets_in;
  std::vector<std::vector<std::string>> decoder_inputs;
  std::vector<TranslationAttention> results(source_ids.size());
  for (std::size_t i = 0; i < source_ids.size(); ++i) {
    std::vector<std::int64_t> source = source_ids[i];
    source.push_back(kEndId);
    std::vector<std::int64_t> target_in{kBeginId};
    target_in.insert(target_in.end(), target_ids[i].begin(), target_ids[i].end());
    std::vector<std::int64_t> target_out = target_ids[i];
    target_out.push_back(kEndId);
    check_length(model, source.size(), "source");
    check_length(model, target_in.size(), "target");
    results[i].source_tokens = pieces(source_tokenizer, source);
    results[i].target_tokens = pieces(target_tokenizer, target_out);
    decoder_inputs.push_back(pieces(target_tokenizer, target_in));
    sources.push_back(std::move(source));
    targets_in.push_back(std::move(target_in));
  }
  NoGradGuard no_grad;
  // Padding at the end: a target position never sees a later one, and the source padding
  // is masked, so each pair's rows are what they would be alone (up to float32 rounding).
  const data::PaddedBatch source_batch = data::pad_sequences(sources);
  const Tensor target_batch = data::pad_sequences(targets_in).tokens;
  if (const auto* transformer = dynamic_cast<const models::Transformer*>(&model.module())) {
    transformer_maps(*transformer, source_batch, target_batch, results, decoder_inputs);
    return results;
  }
  if (const auto* rnn = dynamic_cast<const models::RnnSeq2Seq*>(&model.module())) {
    rnn_maps(*rnn, source_batch, target_batch, results);
    return results;
  }
  ATTN_CHECK(false, "attention maps: no attention to show for a '", model.arch(), "' model");
  return results;
}

TranslationAttention translation_attention(const tasks::TranslationModel& model,
                                           const text::Tokenizer& source_tokenizer,
                                           const text::Tokenizer& target_tokenizer,
                                           const std::vector<std::int64_t>& source_ids,
                                           const std::vector<std::int64_t>& target_ids) {
  const std::vector<std::vector<std::int64_t>> sources{source_ids}, targets{target_ids};
  return std::move(translation_attention(model, source_tokenizer, target_tokenizer, sources, targets).front());
}

std::vector<TranslationAttention> translation_attention(const tasks::Translator& translator,
                                                        const std::vector<std::string>& sources,
                                                        const std::vector<std::string>& targets) {
  std::vector<std::vector<std::int64_t>> source_ids, target_ids;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    source_ids.push_back(translator.source_tokenizer().encode(sources[i]));
    ATTN_CHECK(!source_ids.back().empty(), "attention maps: source sentence ", i + 1, " is empty");
    target_ids.push_back(translator.target_tokenizer().encode(i < targets.size() ? targets[i] : ""));
  }
  return translation_attention(translator.model(), translator.source_tokenizer(),
                               translator.target_tokenizer(), source_ids, target_ids);
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
