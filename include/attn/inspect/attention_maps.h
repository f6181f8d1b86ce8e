// The attention maps of a trained model on one input, named and labelled, for `attn viz`,
// `attn align-eval` and `attn serve`.
//
// Every map is weights [H, Nq, Nk]: row i is how query i distributed its attention over the
// keys (each row sums to 1; a row that no key may be attended by is all zeros). Transformer
// maps are captured during an ordinary forward pass (nn::AttentionCapture) and recomputed
// from the fused kernel's log-sum-exp, so they are exactly the distributions the model used.
//
// Translation maps come from forced decoding: the model reads the source (its pieces, then
// </s>) and is fed the given target as in training (<s> y_1 ... y_n); position t predicts
// y_{t+1} (and the last one </s>). Decoder rows are labelled with the token they predict,
// the convention of Bahdanau et al.'s alignment figures: a cross-attention row says which
// source pieces the model looked at while producing that output piece. The keys of decoder
// self-attention are the decoder's inputs (<s> y_1 ... y_n).
//
//   kind          name (module path)                      Nq x Nk
//   encoder_self  encoder.layers.{i}.self_attention        source x source
//   decoder_self  decoder.layers.{i}.self_attention        target x target (causal)
//   cross         decoder.layers.{i}.cross_attention       target x source
//   cross         attention          (RNN seq2seq, H = 1)  target x source
//   pooling       attention          (BiGRU classifier)    1 x tokens
//   decoder_self  decoder.layers.{i}.self_attention        (language model) tokens x tokens
//   encoder_self  encoder.layers.{i}.self_attention        (Transformer classifier)
//   encoder_self  encoder.layers.{i}.self_attention        (pretrained encoder, such as
//                                                           BERT: [CLS] A [SEP] (B [SEP]))
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attn/core/tensor.h"
#include "attn/models/pretrained.h"
#include "attn/tasks/classification.h"
#include "attn/tasks/language_modeling.h"
#include "attn/tasks/translation.h"

namespace attn::inspect {

enum class AttentionKind { EncoderSelf, DecoderSelf, Cross, Pooling };

// "encoder_self", "decoder_self", "cross", "pooling"
std::string_view attention_kind_name(AttentionKind kind);
AttentionKind parse_attention_kind(std::string_view name);  // throws naming the choices

struct AttentionMap {
  std::string name;  // the attention module's path in the model, e.g. "decoder.layers.1.cross_attention"
  AttentionKind kind = AttentionKind::Cross;
  std::int64_t layer = 0;                 // index in its stack (0 for an RNN's attention)
  Tensor weights;                         // float32 [H, Nq, Nk], contiguous
  std::vector<std::string> query_tokens;  // Nq labels
  std::vector<std::string> key_tokens;    // Nk labels

  std::int64_t num_heads() const { return weights.size(0); }
};

// The mean over heads, as one head: [1, Nq, Nk], same name, kind, layer and labels.
AttentionMap average_heads(const AttentionMap& map);

// The maps of one kind, in layer order.
std::vector<const AttentionMap*> maps_of_kind(const std::vector<AttentionMap>& maps,
                                              AttentionKind kind);

struct TranslationAttention {
  std::vector<std::string> source_tokens;  // source pieces, then "</s>"
  std::vector<std::string> target_tokens;  // the predicted pieces y_1 .. y_n, then "</s>"
  std::vector<AttentionMap> maps;          // encoder, then per decoder layer self and cross
};

// Forced decoding of token ids (without <s> and </s>; the function adds them). The model runs
// in its current mode, without gradients; call it on a model in eval() mode. Throws when
// either side, with </s>, is longer than the model's max_length().
TranslationAttention translation_attention(const tasks::TranslationModel& model,
                                           const text::Tokenizer& source_tokenizer,
                                           const text::Tokenizer& target_tokenizer,
                                           const std::vector<std::int64_t>& source_ids,
                                           const std::vector<std::int64_t>& target_ids);

// From text: both sides encoded by the translator's tokenizers, as `attn translate` does. An
// empty source is an error.
TranslationAttention translation_attention(const tasks::Translator& translator,
                                           const std::string& source, const std::string& target);

// The same for several pairs in one padded forward pass (a server's batch): results[i] is
// what pair i gives alone, its weights up to float32 rounding (other shapes round sums
// differently). `targets` has one entry per source.
std::vector<TranslationAttention> translation_attention(
    const tasks::TranslationModel& model, const text::Tokenizer& source_tokenizer,
    const text::Tokenizer& target_tokenizer, const std::vector<std::vector<std::int64_t>>& source_ids,
    const std::vector<std::vector<std::int64_t>>& target_ids);
std::vector<TranslationAttention> translation_attention(const tasks::Translator& translator,
                                                        const std::vector<std::string>& sources,
                                                        const std::vector<std::string>& targets);

struct ClassificationAttention {
  tasks::Classification result;    // label, probabilities and the tokens read
  std::vector<AttentionMap> maps;  // BiGRU: one pooling map [1, 1, T]; Transformer: encoder
                                   // self-attention per layer
};

ClassificationAttention classification_attention(const tasks::Classifier& classifier,
                                                 const std::string& text);

struct LanguageModelAttention {
  std::vector<std::string> tokens;  // "</s>" (the paragraph start), then the text's pieces
  std::vector<AttentionMap> maps;   // causal self-attention per layer
};

// The text read as the start of a paragraph, as TextGenerator reads a prompt.
LanguageModelAttention language_model_attention(const tasks::TextGenerator& generator,
                                                const std::string& text);
// A prompt and the ids generated after it (Generation::tokens): exactly the tokens the
// generator read, whatever a new segmentation of the whole text would give.
LanguageModelAttention language_model_attention(const tasks::TextGenerator& generator,
                                                const std::string& prompt,
                                                const std::vector<std::int64_t>& generated);

struct PretrainedAttention {
  std::vector<std::string> tokens;  // [CLS] A [SEP] (B [SEP]): the tokenizer's pieces
  std::vector<std::int64_t> type_ids;  // 0 for sentence A, 1 for sentence B
  std::vector<AttentionMap> maps;   // self-attention per layer, [H, N, N] each
};

// A pretrained encoder's self-attention on one text, or on a pair of texts (sentence A and
// B, as BERT reads them) when `pair` is not empty; cut at the model's max_length().
PretrainedAttention pretrained_attention(const models::PretrainedEncoder& model,
                                         const std::string& text, const std::string& pair = "");

}  // namespace attn::inspect
