// align-eval's library part on four verses of Ruth (tests/fixtures/align) with tiny untrained
// models: the rows it reports, the counts behind them, the verses it skips, and the two
// conventions for which decoder row stands for a target piece.
#include "attn/align/evaluation.h"

#include <gtest/gtest.h>

#include <memory>

#include "attn/align/attention_alignment.h"
#include "attn/autograd/grad_mode.h"
#include "attn/core/error.h"
#include "attn/data/osis.h"
#include "attn/inspect/attention_maps.h"
#include "attn/ops/views.h"
#include "attn/text/sentencepiece.h"
#include "support/compare.h"

namespace attn::align {
namespace {

const std::vector<VersePair>& ruth() {
  static const std::vector<VersePair> verses =
      read_verse_pairs(attn::testing::fixture_path("align"), "test");
  return verses;
}

// One small joint tokenizer for both sides, trained on the verses' text.
const text::SentencePieceTokenizer& tokenizer() {
  static const text::SentencePieceTokenizer trained = [] {
    std::vector<std::string> sentences;
    for (const VersePair& verse : ruth()) {
      sentences.push_back(data::osis_plain_text(verse.source_markup));
      sentences.push_back(data::osis_plain_text(verse.target_markup));
    }
    text::SentencePieceTrainOptions options;
    options.vocab_size = 150;
    options.model_type = text::SentencePieceModelType::kBpe;
    options.hard_vocab_limit = false;
    return text::train_sentencepiece_on_sentences(sentences, options);
  }();
  return trained;
}

std::unique_ptr<tasks::TranslationModel> tiny_model(const std::string& arch,
                                                    std::int64_t max_length = 256) {
  const std::int64_t vocab = tokenizer().vocab_size();
  nlohmann::json options = {{"source_vocab_size", vocab}, {"target_vocab_size", vocab}};
  if (arch == "transformer") {
    options.update({{"d_model", 16}, {"num_heads", 2}, {"d_ff", 32}, {"encoder_layers", 1},
                    {"decoder_layers", 2}, {"dropout", 0.0}, {"max_length", max_length}});
  } else {
    options.update({{"embedding_size", 8}, {"hidden_size", 8}, {"attention_size", 8},
                    {"dropout", 0.0}});
  }
  auto model = tasks::TranslationModel::create(arch, options);
  model->module().eval();
  return model;
}

AlignmentEvaluation evaluate(const tasks::TranslationModel& model,
                             const std::vector<VersePair>& verses,
                             const AlignmentEvalOptions& options = {}) {
  return evaluate_alignments(model, tokenizer(), tokenizer(), verses, options);
}

std::vector<std::string> labels(const AlignmentEvaluation& evaluation) {
  std::vector<std::string> out;
  for (const AlignmentRow& row : evaluation.rows) out.push_back(row.layer + "/" + row.head);
  return out;
}

TEST(AlignmentEvaluation, ReportsEveryHeadLayerMeanAllLayersAndTheDiagonal) {
  const AlignmentEvaluation evaluation = evaluate(*tiny_model("transformer"), ruth());
  EXPECT_EQ(evaluation.arch, "transformer");
  EXPECT_EQ(evaluation.verses, 4);
  EXPECT_EQ(evaluation.scored, 4);
  EXPECT_EQ(labels(evaluation),
            (std::vector<std::string>{"0/0", "0/1", "0/mean", "1/0", "1/1", "1/mean", "all/mean",
                                      "diagonal/-"}));
  GoldStatistics gold;
  AlignmentCounts diagonal;
  for (const VersePair& verse : ruth()) {
    const GoldAlignment verse_gold = gold_alignment(verse.source_markup, verse.target_markup);
    gold.add(verse_gold);
    const Alignment links = diagonal_alignment(verse_gold.source_words.size(),
                                               verse_gold.target_words.size());
    diagonal += count_links(links_between_tagged_words(links, verse_gold), verse_gold);
  }
  EXPECT_EQ(evaluation.gold.sure, gold.sure);
  EXPECT_EQ(evaluation.gold.possible, gold.possible);
  EXPECT_GT(gold.sure, 20);
  EXPECT_EQ(evaluation.rows.back().counts.hypothesis, diagonal.hypothesis);
  EXPECT_EQ(evaluation.rows.back().counts.hypothesis_sure, diagonal.hypothesis_sure);
  EXPECT_EQ(evaluation.rows.back().counts.hypothesis_possible, diagonal.hypothesis_possible);
  for (const AlignmentRow& row : evaluation.rows) {
    EXPECT_EQ(row.counts.sure, gold.sure);
    EXPECT_GT(row.counts.hypothesis, 0) << row.layer << "/" << row.head;
    const AlignmentCounts& counts = row.counts;
    for (double value : {counts.alignment_error_rate(), counts.precision(), counts.recall()}) {
      EXPECT_GE(value, 0.0);
      EXPECT_LE(value, 1.0);
    }
  }
}

TEST(AlignmentEvaluation, AllWordsScoresOneDiagonalLinkPerTargetWord) {
  const AlignmentEvaluation evaluation =
      evaluate(*tiny_model("rnn"), ruth(), {.all_words = true});
  EXPECT_EQ(labels(evaluation), (std::vector<std::string>{"0/0", "diagonal/-"}));
  EXPECT_EQ(evaluation.rows.back().counts.hypothesis, evaluation.gold.target_words);
  // Every target piece but </s> links one source word, so each target word has a link.
  EXPECT_GE(evaluation.rows.front().counts.hypothesis, evaluation.gold.target_words);
}

TEST(AlignmentEvaluation, SkipsAndCountsTooLongEmptyAndUnmatchedVerses) {
  std::vector<VersePair> verses = ruth();
  verses.push_back({"short", "<w lemma=\"strong:H0559\">Y dijo</w>",
                    "and <w lemma=\"strong:H0559\">said</w>"});
  verses.push_back({"empty", "", "<w lemma=\"strong:H0559\">said</w>"});
  // At most 12 pieces with </s>: only the short verse fits.
  const AlignmentEvaluation evaluation = evaluate(*tiny_model("transformer", 12), verses);
  EXPECT_EQ(evaluation.verses, 6);
  EXPECT_EQ(evaluation.skipped_too_long, 4);
  EXPECT_EQ(evaluation.skipped_unmatched, 1);
  EXPECT_EQ(evaluation.scored, 1);
  EXPECT_EQ(evaluation.gold.sure, 1);  // dijo - said
  EXPECT_EQ(evaluation.gold.source_words, 2);
}

// The row of y_t: the step that predicts it (row t - 1 of the maps, whose rows are labelled
// y_1 .. y_n, </s>) or the step that reads it (row t).
TEST(AlignmentEvaluation, ReadingRowsAreThePredictingRowsShiftedByOne) {
  const auto model = tiny_model("rnn");
  const VersePair& verse = ruth()[2];
  const GoldAlignment gold = gold_alignment(verse.source_markup, verse.target_markup);
  std::string source, target;
  for (const std::string& word : gold.source_words) source += (source.empty() ? "" : " ") + word;
  for (const std::string& word : gold.target_words) target += (target.empty() ? "" : " ") + word;
  NoGradGuard no_grad;
  const inspect::TranslationAttention attention = inspect::translation_attention(
      *model, tokenizer(), tokenizer(), tokenizer().encode(source), tokenizer().encode(target));
  const Tensor weights = ops::select(attention.maps.front().weights, 0, 0);  // [n + 1, S + 1]
  const auto rows = weights.size(0);
  std::vector<std::string> predicted(attention.target_tokens.begin(),
                                     attention.target_tokens.end() - 1);  // y_1 .. y_n
  const std::vector<std::int64_t> source_words = word_of_pieces(attention.source_tokens);
  const Alignment predicting =
      hard_alignment(ops::slice(weights, 0, 0, rows - 1), word_of_pieces(predicted), source_words);
  const Alignment reading =
      hard_alignment(ops::slice(weights, 0, 1, rows), word_of_pieces(predicted), source_words);

  for (TargetRows target_rows : {TargetRows::Predicting, TargetRows::Reading}) {
    const AlignmentEvaluation evaluation =
        evaluate(*model, {verse}, {.target_rows = target_rows, .all_words = true});
    const AlignmentCounts expected =
        count_links(target_rows == TargetRows::Predicting ? predicting : reading, gold);
    const AlignmentCounts& counts = evaluation.rows.front().counts;
    EXPECT_EQ(counts.hypothesis, expected.hypothesis);
    EXPECT_EQ(counts.hypothesis_sure, expected.hypothesis_sure);
    EXPECT_EQ(counts.hypothesis_possible, expected.hypothesis_possible);
  }
  EXPECT_EQ(parse_target_rows("reading"), TargetRows::Reading);
  EXPECT_THROW(parse_target_rows("output"), Error);
}

TEST(AlignmentEvaluation, JsonAndTableCarryTheRows) {
  const AlignmentEvaluation evaluation = evaluate(*tiny_model("rnn"), ruth());
  const nlohmann::json json = nlohmann::json::parse(evaluation.to_json());
  EXPECT_EQ(json["arch"], "rnn");
  EXPECT_EQ(json["target_rows"], "predicting");
  EXPECT_EQ(json["verses"]["scored"], 4);
  ASSERT_EQ(json["results"].size(), 2u);
  EXPECT_EQ(json["results"][1]["layer"], "diagonal");
  EXPECT_DOUBLE_EQ(json["results"][0]["aer"].get<double>(),
                   evaluation.rows[0].counts.alignment_error_rate());
  const std::string table = evaluation.to_table();
  EXPECT_NE(table.find("4 scored"), std::string::npos) << table;
  EXPECT_NE(table.find("diagonal"), std::string::npos) << table;
}

TEST(AlignmentEvaluation, ReadVersePairsNamesAMissingFile) {
  try {
    read_verse_pairs(attn::testing::fixture_path("align"), "valid");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("valid.es.markup"), std::string::npos) << error.what();
  }
  EXPECT_EQ(ruth().size(), 4u);
  EXPECT_EQ(ruth()[0].reference, "Ruth 1:1");
}

}  // namespace
}  // namespace attn::align
