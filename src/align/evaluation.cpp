#include "attn/align/evaluation.h"

#include <cstdio>
#include <filesystem>
#include <utility>

#include <nlohmann/json.hpp>

#include "attn/align/attention_alignment.h"
#include "attn/autograd/grad_mode.h"
#include "attn/core/error.h"
#include "attn/data/text_files.h"
#include "attn/inspect/attention_maps.h"
#include "attn/ops/reduce.h"
#include "attn/ops/views.h"

namespace attn::align {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

struct LabeledAlignment {
  std::string layer;
  std::string head;
  Alignment links;
};

std::string join_words(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

std::vector<std::string> pieces_of(const text::Tokenizer& tokenizer,
                                   const std::vector<std::int64_t>& ids) {
  std::vector<std::string> pieces;
  pieces.reserve(ids.size());
  for (std::int64_t id : ids) pieces.push_back(tokenizer.id_to_piece(id));
  return pieces;
}

// Whether the ids, with the </s> (source) or <s> (target) the model adds, fit the model.
bool fits(const tasks::TranslationModel& model, const std::vector<std::int64_t>& ids) {
  return model.max_length() == 0 || static_cast<std::int64_t>(ids.size()) + 1 <= model.max_length();
}

bool splits_into(const text::Tokenizer& tokenizer, const std::vector<std::int64_t>& ids,
                 std::size_t num_words) {
  return count_words(word_of_pieces(pieces_of(tokenizer, ids))) ==
         static_cast<std::int64_t>(num_words);
}

// The alignments of every head of one cross-attention map [H, Nq, Nk], then of their mean.
void add_layer_alignments(const inspect::AttentionMap& map,
                          const std::vector<std::int64_t>& target_words,
                          const std::vector<std::int64_t>& source_words,
                          std::vector<LabeledAlignment>& out) {
  const std::string layer = std::to_string(map.layer);
  for (std::int64_t head = 0; head < map.num_heads(); ++head) {
    out.push_back({layer, std::to_string(head),
                   hard_alignment(ops::select(map.weights, 0, head), target_words, source_words)});
  }
  if (map.num_heads() > 1) {
    Tensor mean = ops::mean(map.weights, {0});  // [Nq, Nk]
    out.push_back({layer, "mean", hard_alignment(mean, target_words, source_words)});
  }
}

// The target word of each decoder row. The rows of the maps are the steps that predict
// y_1 .. y_n, </s>; the step that reads y_t is the one that predicts y_{t+1}, and the first
// step reads <s>.
std::vector<std::int64_t> target_word_of_rows(const std::vector<std::string>& predicted,
                                              TargetRows rows) {
  if (rows == TargetRows::Predicting) return word_of_pieces(predicted);
  std::vector<std::string> read{text::kBosPiece};
  read.insert(read.end(), predicted.begin(), predicted.end() - 1);
  return word_of_pieces(read);
}

// Every head, each layer's mean, and the mean of all heads of all layers.
std::vector<LabeledAlignment> attention_alignments(const inspect::TranslationAttention& attention,
                                                   TargetRows rows) {
  const std::vector<std::int64_t> source_words = word_of_pieces(attention.source_tokens);
  const std::vector<std::int64_t> target_words =
      target_word_of_rows(attention.target_tokens, rows);
  std::vector<const inspect::AttentionMap*> cross =
      inspect::maps_of_kind(attention.maps, inspect::AttentionKind::Cross);
  std::vector<LabeledAlignment> out;
  std::vector<Tensor> all_heads;
  for (const inspect::AttentionMap* map : cross) {
    add_layer_alignments(*map, target_words, source_words, out);
    all_heads.push_back(map->weights);
  }
  if (cross.size() > 1) {
    Tensor mean = ops::mean(ops::cat(all_heads, 0), {0});  // [Nq, Nk]
    out.push_back({"all", "mean", hard_alignment(mean, target_words, source_words)});
  }
  return out;
}

void accumulate(const std::vector<LabeledAlignment>& alignments, const GoldAlignment& gold,
                bool all_words, std::vector<AlignmentRow>& rows) {
  if (rows.empty()) {
    for (const LabeledAlignment& alignment : alignments) {
      rows.push_back({alignment.layer, alignment.head, {}});
    }
  }
  ATTN_ASSERT(rows.size() == alignments.size(), "align-eval: ", alignments.size(),
              " alignments for ", rows.size(), " rows");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Alignment& links = alignments[i].links;
    rows[i].counts.add(all_words ? links : links_between_tagged_words(links, gold), gold.sure,
                       gold.possible);
  }
}

// The model and its tokenizers.
struct ForcedDecoder {
  const tasks::TranslationModel& model;
  const text::Tokenizer& source_tokenizer;
  const text::Tokenizer& target_tokenizer;
};

enum class VerseOutcome { Scored, TooLong, Unmatched };

// Adds the alignments of one verse pair to result.rows and its gold to result.gold, unless
// the verse does not fit the model or its pieces do not split into its words.
VerseOutcome score_verse(const ForcedDecoder& decoder, const VersePair& verse,
                         const AlignmentEvalOptions& options, AlignmentEvaluation& result) {
  const GoldAlignment gold = gold_alignment(verse.source_markup, verse.target_markup);
  const std::vector<std::int64_t> source_ids =
      decoder.source_tokenizer.encode(join_words(gold.source_words));
  const std::vector<std::int64_t> target_ids =
      decoder.target_tokenizer.encode(join_words(gold.target_words));
  if (!fits(decoder.model, source_ids) || !fits(decoder.model, target_ids)) {
    return VerseOutcome::TooLong;
  }
  if (source_ids.empty() || target_ids.empty() ||
      !splits_into(decoder.source_tokenizer, source_ids, gold.source_words.size()) ||
      !splits_into(decoder.target_tokenizer, target_ids, gold.target_words.size())) {
    return VerseOutcome::Unmatched;
  }
  std::vector<LabeledAlignment> alignments = attention_alignments(
      inspect::translation_attention(decoder.model, decoder.source_tokenizer,
                                     decoder.target_tokenizer, source_ids, target_ids),
      options.target_rows);
  alignments.push_back({"diagonal", "-", diagonal_alignment(gold.source_words.size(),
                                                            gold.target_words.size())});
  accumulate(alignments, gold, options.all_words, result.rows);
  result.gold.add(gold);
  return VerseOutcome::Scored;
}

std::string scoring_name(bool all_words) {
  return all_words ? "all links" : "links between tagged words";
}

std::string format_row(const AlignmentRow& row) {
  char line[128];
  std::snprintf(line, sizeof(line), "%-9s %-5s %7.3f %10.3f %7.3f %8lld\n", row.layer.c_str(),
                row.head.c_str(), row.counts.alignment_error_rate(), row.counts.precision(),
                row.counts.recall(), static_cast<long long>(row.counts.hypothesis));
  return line;
}

}  // namespace

std::string_view target_rows_name(TargetRows rows) {
  return rows == TargetRows::Predicting ? "predicting" : "reading";
}

TargetRows parse_target_rows(std::string_view name) {
  for (TargetRows rows : {TargetRows::Predicting, TargetRows::Reading}) {
    if (target_rows_name(rows) == name) return rows;
  }
  ATTN_CHECK(false, "align-eval: rows must be predicting or reading, got '", name, "'");
  return TargetRows::Predicting;
}

void GoldStatistics::add(const GoldAlignment& gold) {
  source_words += static_cast<std::int64_t>(gold.source_words.size());
  target_words += static_cast<std::int64_t>(gold.target_words.size());
  for (bool tagged : gold.source_tagged) tagged_source_words += tagged ? 1 : 0;
  for (bool tagged : gold.target_tagged) tagged_target_words += tagged ? 1 : 0;
  sure += static_cast<std::int64_t>(gold.sure.size());
  possible += static_cast<std::int64_t>(gold.possible.size());
}

std::vector<VersePair> read_verse_pairs(const std::string& directory, const std::string& split,
                                        const std::string& source, const std::string& target) {
  const fs::path base = fs::path(directory) / split;
  const fs::path source_path = base.string() + "." + source + ".markup";
  const fs::path target_path = base.string() + "." + target + ".markup";
  const fs::path reference_path = base.string() + ".ref";
  for (const fs::path& path : {source_path, target_path}) {
    ATTN_CHECK(fs::is_regular_file(path), "align-eval: ", path.string(),
               " not found (attn data fetch bible writes the markup files)");
  }
  std::vector<std::string> sources = data::read_lines(source_path.string());
  std::vector<std::string> targets = data::read_lines(target_path.string());
  std::vector<std::string> references;
  if (fs::exists(reference_path)) references = data::read_lines(reference_path.string());
  ATTN_CHECK(sources.size() == targets.size() &&
                 (references.empty() || references.size() == sources.size()),
             "align-eval: ", source_path.string(), " has ", sources.size(), " lines, ",
             target_path.string(), " ", targets.size(), " and ", reference_path.string(), " ",
             references.size(), "; expected one verse per line in each");
  std::vector<VersePair> verses(sources.size());
  for (std::size_t i = 0; i < verses.size(); ++i) {
    verses[i] = {references.empty() ? "" : references[i], std::move(sources[i]),
                 std::move(targets[i])};
  }
  return verses;
}

AlignmentEvaluation evaluate_alignments(const tasks::TranslationModel& model,
                                        const text::Tokenizer& source_tokenizer,
                                        const text::Tokenizer& target_tokenizer,
                                        const std::vector<VersePair>& verses,
                                        const AlignmentEvalOptions& options) {
  ATTN_CHECK(source_tokenizer.kind() == text::TokenizerKind::kSentencePiece &&
                 target_tokenizer.kind() == text::TokenizerKind::kSentencePiece,
             "align-eval: expected SentencePiece tokenizers (their pieces mark word starts), got ",
             text::to_string(source_tokenizer.kind()), " and ",
             text::to_string(target_tokenizer.kind()));
  const ForcedDecoder decoder{model, source_tokenizer, target_tokenizer};
  AlignmentEvaluation result;
  result.arch = model.arch();
  result.options = options;
  NoGradGuard no_grad;
  for (const VersePair& verse : verses) {
    ++result.verses;
    switch (score_verse(decoder, verse, options, result)) {
      case VerseOutcome::Scored: ++result.scored; break;
      case VerseOutcome::TooLong: ++result.skipped_too_long; break;
      case VerseOutcome::Unmatched: ++result.skipped_unmatched; break;
    }
  }
  return result;
}

AlignmentEvaluation evaluate_alignments(const tasks::Translator& translator,
                                        const std::vector<VersePair>& verses,
                                        const AlignmentEvalOptions& options) {
  return evaluate_alignments(translator.model(), translator.source_tokenizer(),
                             translator.target_tokenizer(), verses, options);
}

std::string AlignmentEvaluation::to_table() const {
  char header[512];
  std::snprintf(header, sizeof(header),
                "model: %s\nverses: %lld given, %lld scored, %lld skipped as too long, %lld "
                "skipped as empty or unmatched pieces\n"
                "gold: %lld sure and %lld possible links; source words %lld (%lld tagged), "
                "target words %lld (%lld tagged)\nscoring: %s; the attention row of y_t: the "
                "step %s it\n",
                arch.c_str(), static_cast<long long>(verses), static_cast<long long>(scored),
                static_cast<long long>(skipped_too_long), static_cast<long long>(skipped_unmatched),
                static_cast<long long>(gold.sure), static_cast<long long>(gold.possible),
                static_cast<long long>(gold.source_words),
                static_cast<long long>(gold.tagged_source_words),
                static_cast<long long>(gold.target_words),
                static_cast<long long>(gold.tagged_target_words),
                scoring_name(options.all_words).c_str(),
                std::string(target_rows_name(options.target_rows)).c_str());
  std::string table = header;
  table += "layer     head      AER  precision  recall    links\n";
  for (const AlignmentRow& row : rows) table += format_row(row);
  return table;
}

std::string AlignmentEvaluation::to_json() const {
  Json json;
  json["arch"] = arch;
  json["target_rows"] = target_rows_name(options.target_rows);
  json["scoring"] = scoring_name(options.all_words);
  json["verses"] = {{"given", verses},
                    {"scored", scored},
                    {"skipped_too_long", skipped_too_long},
                    {"skipped_unmatched", skipped_unmatched}};
  json["gold"] = {{"sure", gold.sure},
                  {"possible", gold.possible},
                  {"source_words", gold.source_words},
                  {"tagged_source_words", gold.tagged_source_words},
                  {"target_words", gold.target_words},
                  {"tagged_target_words", gold.tagged_target_words}};
  json["results"] = Json::array();
  for (const AlignmentRow& row : rows) {
    json["results"].push_back({{"layer", row.layer},
                            {"head", row.head},
                            {"aer", row.counts.alignment_error_rate()},
                            {"precision", row.counts.precision()},
                            {"recall", row.counts.recall()},
                            {"links", row.counts.hypothesis},
                            {"sure", row.counts.sure},
                            {"possible", row.counts.possible},
                            {"links_sure", row.counts.hypothesis_sure},
                            {"links_possible", row.counts.hypothesis_possible}});
  }
  return json.dump(2);
}

}  // namespace attn::align
