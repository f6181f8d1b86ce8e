// Training curves from a hand-written metrics log: every metric read with its step, tokens
// and time; validation tokens interpolated; nulls kept as gaps; malformed lines reported with
// their line number; default metrics; one panel per quantity; unknown metrics named.
#include "attn/viz/training_curves.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "support/temporary_directory.h"

namespace attn::viz {
namespace {

constexpr const char* kLog =
    "{\"type\":\"start\",\"step\":0,\"elapsed_seconds\":0.0,\"resumed\":false,\"seed\":\"1\"}\n"
    "{\"type\":\"train\",\"step\":50,\"epoch\":0,\"loss\":8.0,\"learning_rate\":0.001,"
    "\"tokens_per_second\":3000.0,\"tokens\":20000,\"grad_norm\":2.0,\"elapsed_seconds\":60.0}\n"
    "\n"
    "{\"type\":\"train\",\"step\":100,\"epoch\":0,\"loss\":null,\"learning_rate\":0.002,"
    "\"tokens_per_second\":3000.0,\"tokens\":40000,\"grad_norm\":1.0,\"elapsed_seconds\":120.0}\n"
    "{\"type\":\"validation\",\"step\":75,\"epoch\":0,\"elapsed_seconds\":100.0,"
    "\"validation\":{\"loss\":5.5,\"bleu\":1.5,\"perplexity\":244.7},\"score\":5.5,\"is_best\":true}\n"
    "{\"type\":\"train\",\"step\":150,\"epoch\":1,\"loss\":4.0,\"learning_rate\":0.002,"
    "\"tokens_per_second\":3000.0,\"tokens\":60000,\"grad_norm\":1.0,\"elapsed_seconds\":180.0}\n"
    "{\"type\":\"validation\",\"step\":200,\"epoch\":1,\"elapsed_seconds\":250.0,"
    "\"validation\":{\"loss\":4.5,\"bleu\":9.0,\"perplexity\":90.0},\"score\":4.5,\"is_best\":true}\n"
    "{\"type\":\"end\",\"step\":200,\"elapsed_seconds\":251.0,\"reason\":\"max_steps\"}\n";

std::string error_of(const std::string& text) {
  try {
    parse_metrics_log(text, "metrics.jsonl");
  } catch (const Error& error) {
    return error.what();
  }
  return "no error";
}

TEST(VizTrainingCurves, ReadsEveryMetricWithItsCoordinates) {
  const MetricsHistory history = parse_metrics_log(kLog, "metrics.jsonl");
  EXPECT_EQ(history.names, (std::vector<std::string>{"loss", "learning_rate", "tokens_per_second", "grad_norm",
                                                     "valid_loss", "valid_bleu", "valid_perplexity"}));
  const std::vector<MetricSample>& loss = history.samples.at("loss");
  ASSERT_EQ(loss.size(), 3u);
  EXPECT_EQ(loss[0].step, 50);
  EXPECT_EQ(loss[0].tokens, 20000);
  EXPECT_EQ(loss[0].seconds, 60);
  EXPECT_EQ(loss[0].value, 8.0);
  EXPECT_TRUE(std::isnan(loss[1].value));  // null: a non-finite loss
  const std::vector<MetricSample>& bleu = history.samples.at("valid_bleu");
  ASSERT_EQ(bleu.size(), 2u);
  EXPECT_EQ(bleu[1].value, 9.0);
  EXPECT_EQ(bleu[1].seconds, 250);
}

TEST(VizTrainingCurves, ValidationTokensAreInterpolatedFromTheTrainRecords) {
  const MetricsHistory history = parse_metrics_log(kLog, "metrics.jsonl");
  const std::vector<MetricSample>& valid = history.samples.at("valid_loss");
  EXPECT_DOUBLE_EQ(valid[0].tokens, 30000);  // step 75: halfway between 50 and 100
  EXPECT_DOUBLE_EQ(valid[1].tokens, 80000);  // step 200: past the last record, at its rate
}

TEST(VizTrainingCurves, MalformedLinesAreErrorsWithTheirLineNumber) {
  EXPECT_NE(error_of("{\"type\":\"start\",\"step\":0}\n{\"type\":\"train\",\"step\":5,\"loss\":1.0\n")
                .find("metrics.jsonl line 2: not valid JSON"),
            std::string::npos);
  EXPECT_NE(error_of("\n\n[1, 2]\n").find("metrics.jsonl line 3: expected a JSON object with a string \"type\""),
            std::string::npos);
  EXPECT_NE(error_of("{\"type\":\"train\",\"loss\":1.0}\n").find("line 1: a train record without a numeric \"step\""),
            std::string::npos);
  EXPECT_NE(error_of("{\"type\":\"validation\",\"step\":3}\n").find("line 1: a validation record without"),
            std::string::npos);
  EXPECT_EQ(error_of("{\"type\":\"something_new\"}\n"), "no error");  // other types are skipped
}

TEST(VizTrainingCurves, DefaultMetricsAreTheLossesAndValidationResultsButPerplexity) {
  const MetricsHistory history = parse_metrics_log(kLog, "metrics.jsonl");
  EXPECT_EQ(default_curve_metrics(history), (std::vector<std::string>{"loss", "valid_loss", "valid_bleu"}));
}

template <typename ShapeType>
std::vector<ShapeType> shapes_with_role(const Drawing& drawing, const std::string& role) {
  std::vector<ShapeType> found;
  for (const Element& element : drawing.elements()) {
    if (const auto* typed = std::get_if<ShapeType>(&element); typed != nullptr && typed->css_class == role) {
      found.push_back(*typed);
    }
  }
  return found;
}

std::vector<std::string> texts_with_role(const Drawing& drawing, const std::string& role) {
  std::vector<std::string> out;
  for (const TextShape& text : shapes_with_role<TextShape>(drawing, role)) out.push_back(text.text);
  return out;
}

TEST(VizTrainingCurves, LossesShareAPanelAndOtherQuantitiesGetTheirOwn) {
  const MetricsHistory history = parse_metrics_log(kLog, "metrics.jsonl");
  const Drawing drawing = draw_training_curves({{"run", history}}, {});
  EXPECT_EQ(texts_with_role(drawing, "legend-text"),
            (std::vector<std::string>{"train loss", "validation loss", "validation BLEU"}));
  const std::vector<std::string> labels = texts_with_role(drawing, "axis-label");
  EXPECT_EQ(labels, (std::vector<std::string>{"loss", "BLEU", "step"}));
  // The training loss breaks at its null into two single points, drawn as dots; the
  // validation series are lines with a dot at each point.
  EXPECT_EQ(shapes_with_role<LineShape>(drawing, "series").size(), 2u);
  EXPECT_EQ(shapes_with_role<CircleShape>(drawing, "marker").size(), 2u + 2 + 2);
}

TEST(VizTrainingCurves, SeveralRunsNameTheirSeriesAndTimeIsInSensibleUnits) {
  const MetricsHistory history = parse_metrics_log(kLog, "metrics.jsonl");
  TrainingCurveOptions options;
  options.metrics = {"loss", "valid_loss"};
  options.x = CurveAxis::Time;
  const Drawing drawing = draw_training_curves({{"attn", history}, {"torch", history}}, options);
  EXPECT_EQ(texts_with_role(drawing, "legend-text"),
            (std::vector<std::string>{"attn: train loss", "torch: train loss", "attn: validation loss",
                                      "torch: validation loss"}));
  EXPECT_EQ(texts_with_role(drawing, "axis-label").back(), "time (seconds)");
  // One colour per run; validation dashed.
  std::vector<LineShape> legend;
  for (const LineShape& line : shapes_with_role<LineShape>(drawing, "legend")) legend.push_back(line);
  ASSERT_EQ(legend.size(), 4u);
  EXPECT_EQ(legend[0].color, legend[2].color);
  EXPECT_EQ(legend[1].color, legend[3].color);
  EXPECT_NE(legend[0].color, legend[1].color);
  EXPECT_FALSE(legend[0].dashed);
  EXPECT_TRUE(legend[2].dashed);
}

TEST(VizTrainingCurves, UnknownMetricsAndAxesAreErrorsListingTheChoices) {
  const MetricsHistory history = parse_metrics_log(kLog, "metrics.jsonl");
  TrainingCurveOptions options;
  options.metrics = {"loss", "valid_accuracy"};
  try {
    draw_training_curves({{"run", history}}, options);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("no metric 'valid_accuracy' in the log; it has loss, learning_rate"),
              std::string::npos)
        << error.what();
  }
  EXPECT_EQ(parse_curve_axis("tokens"), CurveAxis::Tokens);
  EXPECT_THROW(parse_curve_axis("epochs"), Error);
  EXPECT_THROW(draw_training_curves({{"run", parse_metrics_log("", "empty")}}, {}), Error);
}

TEST(VizTrainingCurves, ReadsARunDirectoryOrItsLogFile) {
  testing::TemporaryDirectory directory("attn_viz_curves");
  std::ofstream(directory.file("metrics.jsonl")) << kLog;
  EXPECT_EQ(read_metrics_log(directory.path().string()).names.size(), 7u);
  EXPECT_EQ(read_metrics_log(directory.file("metrics.jsonl")).names.size(), 7u);
  EXPECT_THROW(read_metrics_log(directory.file("missing")), Error);
}

}  // namespace
}  // namespace attn::viz
