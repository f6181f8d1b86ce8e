// What the training tasks (translation, classification, language modelling) share: turning a
// model's options struct into configuration keys and back, finding a trained model's
// checkpoint and the tokenizers saved beside it, and small batch helpers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/core/tensor.h"
#include "attn/io/checkpoint.h"
#include "attn/text/sentencepiece.h"
#include "attn/text/tokenizer.h"
#include "attn/train/config.h"

namespace attn::tasks {

// Adds one key per field of an options struct's JSON (`defaults`, from Options{}.to_json())
// under `section`, except the fields in `excluded` (those the task derives, such as vocabulary
// sizes). Help text points to the options struct's documentation.
void add_options_keys(train::Schema& schema, const std::string& section,
                      const nlohmann::json& defaults, const std::set<std::string>& excluded,
                      const std::string& help);

// The keys under `section` as a JSON object, ready for Options::from_json.
nlohmann::json section_options(const train::Config& config, const std::string& section);

// A trained model on disk: the checkpoint file and the directory its tokenizers are in.
// `path` may be a checkpoint file or a run directory (then checkpoints/best.safetensors,
// or checkpoints/last.safetensors when there is no best).
struct CheckpointLocation {
  std::filesystem::path checkpoint;
  std::filesystem::path directory;  // where NAME.tokenizer.json files are
};
CheckpointLocation locate_checkpoint(const std::filesystem::path& path);

// The checkpoint's config JSON, checked to be a run of `expected_task` ("translation", ...).
nlohmann::json checkpoint_task_config(const io::Checkpoint& checkpoint,
                                      const std::filesystem::path& path,
                                      const std::string& expected_task);

// Tokenizers are saved in the run's checkpoint folder, beside best and last.
std::filesystem::path tokenizer_directory(const std::string& run_dir);

// Token ids of `text`, cut or refused at `max_length` ids (0: no limit): `truncate` keeps
// the first max_length ids, otherwise a longer text is an error naming `what` and both
// lengths.
std::vector<std::int64_t> encode_limited(const text::Tokenizer& tokenizer, const std::string& text,
                                         std::int64_t max_length, bool truncate,
                                         const std::string& what);

// The SentencePiece training options of the tokenizer.* keys (vocab_size, model_type,
// max_sentences), seeded with train.seed: what every task that trains one uses.
text::SentencePieceTrainOptions sentencepiece_options(const train::Config& config);

// A character vocabulary of `texts`, sized by tokenizer.vocab_size and tokenizer.min_count.
std::unique_ptr<text::Tokenizer> build_char_vocabulary(const train::Config& config,
                                                       const std::vector<std::string>& texts);

// Mean of `values` weighted by `weights`; 0 when the weights sum to 0.
double weighted_mean(const std::vector<double>& values, const std::vector<double>& weights);

}  // namespace attn::tasks
