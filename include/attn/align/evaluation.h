// `attn align-eval`: word alignments read off a translation model's attention, scored against
// the Strong's-number gold alignments (align/gold.h) with AER, precision and recall.
//
// For each verse pair the model is force-decoded on the reference (inspect/attention_maps.h);
// every cross-attention map gives hard alignments (align/attention_alignment.h) for each head,
// for the mean over the heads of each layer, and for the mean over all heads of all layers.
// The diagonal alignment is scored beside them as a baseline that reads no attention.
// Verses longer than the model takes, and verses whose pieces do not split into the verse's
// words, are skipped and counted. docs/ALIGNMENT.md has the method and results.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attn/align/aer.h"
#include "attn/align/gold.h"
#include "attn/tasks/translation.h"
#include "attn/text/tokenizer.h"

namespace attn::align {

struct VersePair {
  std::string reference;  // "Ruth 1:1"; empty when the corpus has no .ref file
  std::string source_markup;
  std::string target_markup;
};

// {directory}/{split}.{source}.markup and {split}.{target}.markup, line by line, with the
// references of {split}.ref when that file exists (`attn data fetch bible` writes all three).
// Throws naming a missing file or files of different lengths.
std::vector<VersePair> read_verse_pairs(const std::string& directory, const std::string& split,
                                        const std::string& source = "es",
                                        const std::string& target = "en");

// Which decoder step's attention row stands for target piece y_t in forced decoding.
enum class TargetRows {
  Predicting,  // the step that predicts y_t (reads y_{t-1}): Bahdanau et al.'s figures
  Reading,     // the step that reads y_t as its input: "Shift-Att" (Chen et al. 2020)
};

std::string_view target_rows_name(TargetRows rows);  // "predicting", "reading"
TargetRows parse_target_rows(std::string_view name);  // throws naming the choices

struct AlignmentEvalOptions {
  TargetRows target_rows = TargetRows::Predicting;
  // Score every hypothesis link, not only those between words that carry a Strong's number.
  bool all_words = false;
};

// One line of the results: the alignments of one head, one layer's head mean, the mean of all
// layers, or the baseline.
struct AlignmentRow {
  std::string layer;  // "0", "1", ... (the decoder layer), "all", or "diagonal"
  std::string head;   // "0", "1", ..., "mean", or "-" for the baseline
  AlignmentCounts counts;
};

// The gold standard of the scored verses.
struct GoldStatistics {
  std::int64_t source_words = 0, target_words = 0;
  std::int64_t tagged_source_words = 0, tagged_target_words = 0;
  std::int64_t sure = 0, possible = 0;

  void add(const GoldAlignment& gold);
};

struct AlignmentEvaluation {
  std::string arch;  // "transformer" or "rnn"
  AlignmentEvalOptions options;
  std::int64_t verses = 0;             // given
  std::int64_t scored = 0;
  std::int64_t skipped_too_long = 0;   // either side longer than the model's max_length()
  std::int64_t skipped_unmatched = 0;  // empty, or pieces that do not split into the words
  GoldStatistics gold;
  std::vector<AlignmentRow> rows;

  // A table: a header of counts, then one line per row (AER, precision, recall, links).
  std::string to_table() const;
  // {"arch", "target_rows", "scoring", "verses": {...}, "gold": {...}, "results": [{"layer",
  //  "head", "aer", "precision", "recall", "links", "sure", "possible", "links_sure",
  //  "links_possible"}, ...]}
  std::string to_json() const;
};

// The model must be in eval() mode and read SentencePiece pieces on both sides.
AlignmentEvaluation evaluate_alignments(const tasks::TranslationModel& model,
                                        const text::Tokenizer& source_tokenizer,
                                        const text::Tokenizer& target_tokenizer,
                                        const std::vector<VersePair>& verses,
                                        const AlignmentEvalOptions& options = {});

AlignmentEvaluation evaluate_alignments(const tasks::Translator& translator,
                                        const std::vector<VersePair>& verses,
                                        const AlignmentEvalOptions& options = {});

}  // namespace attn::align
