// `attn viz --model RUN_OR_FILE (--source|--text TEXT | --input FILE [--line N]) [--target TEXT]
// -o OUT.svg|OUT.png [--kind K] [--layer N|last|all] [--head N|all] [--average-heads]
// [--export WEIGHTS.json|WEIGHTS.safetensors]`: draws the attention of a trained model on one
// input (attn/inspect/attention_maps.h, attn/viz/attention_figures.h).
//
// The checkpoint's task picks what is shown by default:
//   translation     cross-attention of the last decoder layer, every head, from forced
//                   decoding of --target, or of the model's own translation (beam search, or
//                   --method greedy) when no target is given;
//   classification  the BiGRU's attention pooling as shaded words; a Transformer's encoder
//                   self-attention of the last layer;
//   language_model  causal self-attention of the last layer.
// A Hugging Face model folder (config.json; docs/PRETRAINED.md) shows its encoder's
// self-attention: the last layer's heads in a grid (the head view), or with --layer all every
// layer and head (the model view); --pair TEXT adds sentence B.
// docs/VISUALIZATION.md has examples and the conventions.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "attn/core/parallel.h"
#include "attn/inspect/attention_maps.h"
#include "attn/io/checkpoint.h"
#include "attn/models/pretrained.h"
#include "attn/tasks/classification.h"
#include "attn/tasks/language_modeling.h"
#include "attn/tasks/task_common.h"
#include "attn/tasks/translation.h"
#include "attn/viz/attention_figures.h"
#include "attn/viz/image_file.h"
#include "attn/viz/weighted_text.h"
#include "commands.h"
#include "text_input.h"

namespace attn::cli {
namespace {

using inspect::AttentionKind;

struct VizOptions {
  std::string model;
  std::string text;
  std::string input_path;
  std::int64_t line = 1;
  std::string target;
  bool has_target = false;  // an empty --target is a target too
  std::string pair;         // pretrained encoders: sentence B
  std::string output_path;
  std::string export_path;
  std::string kind;  // empty: the task's default
  std::string layer = "last";
  std::string head = "all";
  bool average_heads = false;
  std::string values = "auto";
  bool normalize = false;
  std::int64_t columns = 0;
  double width = 720;
  double png_scale = 2;
  tasks::SearchSettings search;
  int threads = 2;
};

// What one model made of the input: its maps and how to label the figure.
struct Inspection {
  std::vector<inspect::AttentionMap> maps;
  AttentionKind default_kind = AttentionKind::Cross;
  std::map<std::string, std::string> context;  // for the export
  std::string caption;                         // classification: the prediction
  viz::PieceJoin join = viz::PieceJoin::Words;
  bool translation = false;
};

// The task a checkpoint was trained for, from its config. (The loader reads the checkpoint
// again; reading the config alone would need a header-only reader in io/checkpoint.h.)
std::string task_of(const std::string& path) {
  const tasks::CheckpointLocation location = tasks::locate_checkpoint(path);
  const io::Checkpoint checkpoint = io::load_checkpoint(location.checkpoint.string());
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(checkpoint.config_json);
  } catch (const nlohmann::json::exception&) {
    ATTN_CHECK(false, path, ": the checkpoint's config is not valid JSON");
  }
  ATTN_CHECK(config.is_object() && config.contains("task") && config["task"].is_string(), path,
             ": not a checkpoint of an attn training run (its config has no \"task\")");
  return config["task"].get<std::string>();
}

std::string input_text(const VizOptions& options) {
  ATTN_CHECK(options.text.empty() || options.input_path.empty(),
             "viz: give the input with --text (or --source) or with --input, not both");
  if (!options.text.empty()) return options.text;
  ATTN_CHECK(!options.input_path.empty(), "viz: give the input with --text (or --source) or --input FILE");
  const std::vector<std::string> lines = read_inputs({}, options.input_path);
  ATTN_CHECK(options.line >= 1 && options.line <= static_cast<std::int64_t>(lines.size()), "viz: --line ",
             options.line, " is out of range: ", options.input_path, " has ", lines.size(), " lines");
  return lines[static_cast<std::size_t>(options.line - 1)];
}

std::string probability_text(double probability) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", probability);
  return text;
}

Inspection inspect_translation(const VizOptions& options, const std::string& source) {
  const tasks::Translator translator = tasks::Translator::load(options.model);
  std::string target;
  if (options.has_target) {
    target = options.target;
  } else {
    target = translator.translate_best({source}, options.search).front();
    std::cout << target << "\n";  // the translation the maps are of
  }
  inspect::TranslationAttention attention = inspect::translation_attention(translator, source, target);
  Inspection result;
  result.maps = std::move(attention.maps);
  result.context = {{"source", source}, {"target", target}, {"model", options.model}};
  result.translation = true;
  return result;
}

Inspection inspect_classification(const VizOptions& options, const std::string& text) {
  const tasks::Classifier classifier = tasks::Classifier::load(options.model);
  inspect::ClassificationAttention attention = inspect::classification_attention(classifier, text);
  const tasks::Classification& prediction = attention.result;
  const std::string probability =
      probability_text(prediction.probabilities[static_cast<std::size_t>(prediction.label)]);
  std::cout << prediction.label_name << "\t" << probability << "\n";
  Inspection result;
  result.maps = std::move(attention.maps);
  result.default_kind = result.maps.front().kind;  // pooling (BiGRU) or encoder_self
  result.caption = "predicted: " + prediction.label_name + " (p = " + probability + ")";
  result.context = {{"text", text}, {"label", prediction.label_name}, {"model", options.model}};
  result.join = viz::piece_join_for(classifier.tokenizer().kind());
  return result;
}

Inspection inspect_language_model(const VizOptions& options, const std::string& text) {
  const tasks::TextGenerator generator = tasks::TextGenerator::load(options.model);
  inspect::LanguageModelAttention attention = inspect::language_model_attention(generator, text);
  Inspection result;
  result.maps = std::move(attention.maps);
  result.default_kind = AttentionKind::DecoderSelf;
  result.context = {{"text", text}, {"model", options.model}};
  return result;
}

bool is_pretrained_folder(const std::string& path) {
  return std::filesystem::is_directory(path) && std::filesystem::exists(std::filesystem::path(path) / "config.json");
}

Inspection inspect_pretrained(const VizOptions& options, const std::string& text) {
  const auto model = models::load_pretrained(options.model);
  inspect::PretrainedAttention attention = inspect::pretrained_attention(*model, text, options.pair);
  Inspection result;
  result.maps = std::move(attention.maps);
  result.default_kind = AttentionKind::EncoderSelf;
  result.context = {{"text", text}, {"model", options.model}};
  if (!options.pair.empty()) result.context["pair"] = options.pair;
  return result;
}

Inspection inspect_model(const VizOptions& options) {
  if (is_pretrained_folder(options.model)) {
    ATTN_CHECK(!options.has_target, "viz: --target is for translation models; ", options.model,
               " is a pretrained encoder (use --pair for sentence B)");
    return inspect_pretrained(options, input_text(options));
  }
  ATTN_CHECK(options.pair.empty(), "viz: --pair is for pretrained encoders (a Hugging Face folder)");
  const std::string task = task_of(options.model);
  ATTN_CHECK(task == "translation" || !options.has_target, "viz: --target is for translation models; ",
             options.model, " is a ", task, " model");
  const std::string text = input_text(options);
  if (task == "translation") return inspect_translation(options, text);
  if (task == "classification") return inspect_classification(options, text);
  ATTN_CHECK(task == "language_model", "viz: ", options.model, " is a '", task,
             "' model; viz knows translation, classification and language_model");
  return inspect_language_model(options, text);
}

// "N", "last" or "all".
void parse_layer(const std::string& text, viz::AttentionSelection& selection) {
  if (text == "last") return;
  if (text == "all") {
    selection.layers = viz::LayerPick::All;
    return;
  }
  std::size_t used = 0;
  try {
    selection.layer = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  ATTN_CHECK(used == text.size() && used > 0, "viz: --layer expects a layer number, 'last' or 'all', got '",
             text, "'");
  selection.layers = viz::LayerPick::One;
}

void parse_head(const std::string& text, viz::AttentionSelection& selection) {
  if (text == "all") return;
  std::size_t used = 0;
  try {
    selection.head = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  ATTN_CHECK(used == text.size() && used > 0, "viz: --head expects a head number or 'all', got '", text, "'");
}

viz::AttentionSelection selection_of(const VizOptions& options, const Inspection& inspection) {
  viz::AttentionSelection selection;
  selection.kind = inspection.default_kind;
  if (!options.kind.empty()) selection.kind = inspect::parse_attention_kind(options.kind);
  parse_layer(options.layer, selection);
  parse_head(options.head, selection);
  selection.average_heads = options.average_heads;
  return selection;
}

// What the rows and columns are, for the kind of map shown.
std::string subtitle_of(AttentionKind kind, bool translation) {
  switch (kind) {
    case AttentionKind::Cross:
      return "rows: target pieces, each row while predicting it \u00b7 columns: source pieces";
    case AttentionKind::EncoderSelf: return "rows and columns: input pieces \u00b7 row i attends over columns";
    case AttentionKind::DecoderSelf:
      return translation ? "rows: target pieces being predicted \u00b7 columns: decoder inputs (<s> first)"
                         : "rows: tokens, each predicting the next \u00b7 columns: the tokens up to it";
    case AttentionKind::Pooling: return "rows: the pooled summary \u00b7 columns: input pieces";
  }
  return "";
}

viz::CellValues cell_values(const std::string& text) {
  if (text == "on") return viz::CellValues::Show;
  if (text == "off") return viz::CellValues::Hide;
  return viz::CellValues::Auto;
}

viz::Drawing words_figure(const viz::SelectedMap& selected, const Inspection& inspection,
                          const VizOptions& options) {
  viz::WeightedTextOptions words;
  words.title = "Attention over the input";
  words.caption = inspection.caption;
  words.width = options.width;
  words.join = inspection.join;
  const float* weights = selected.map.weights.contiguous().data<float>();
  return viz::draw_weighted_text(selected.map.key_tokens,
                                 std::vector<double>(weights, weights + selected.map.key_tokens.size()), words);
}

viz::Drawing figure_of(const std::vector<viz::SelectedMap>& selected, const Inspection& inspection,
                       const VizOptions& options) {
  if (selected.front().map.kind == AttentionKind::Pooling) return words_figure(selected.front(), inspection, options);
  viz::AttentionFigureOptions figure;
  figure.subtitle = subtitle_of(selected.front().map.kind, inspection.translation);
  figure.heatmap.values = cell_values(options.values);
  figure.heatmap.color_max = options.normalize ? 0.0 : 1.0;
  figure.heatmap.grid_columns = options.columns;
  return viz::draw_attention(selected, figure);
}

void run_viz(const VizOptions& options) {
  set_num_threads(options.threads);
  viz::image_format_of(options.output_path);  // a wrong extension fails before the model loads
  const Inspection inspection = inspect_model(options);
  const std::vector<viz::SelectedMap> selected =
      viz::select_attention(inspection.maps, selection_of(options, inspection));
  viz::save_image(figure_of(selected, inspection, options), options.output_path, options.png_scale);
  if (!options.export_path.empty()) viz::save_attention_maps(selected, options.export_path, inspection.context);
}

}  // namespace

void add_viz_command(CLI::App& app) {
  auto options = std::make_shared<VizOptions>();
  CLI::App* viz = app.add_subcommand("viz", "draw a trained model's attention on one input (SVG or PNG)");
  viz->add_option("--model,--checkpoint", options->model,
                  "a run directory of `attn train`, a checkpoint file or a Hugging Face model folder")
      ->required();
  viz->add_option("--text,--source", options->text, "the input: a source sentence, a text to classify, a prompt");
  viz->add_option("--input,-i", options->input_path, "read the input from a file ('-': stdin), one per line");
  viz->add_option("--line", options->line, "which line of --input (1-based; default 1)")->check(CLI::PositiveNumber);
  viz->add_option("--pair", options->pair, "pretrained encoders: sentence B of a pair");
  CLI::Option* target = viz->add_option("--target", options->target,
                  "translation: the target to force-decode (default: the model's own translation)");
  viz->add_option("--output,-o", options->output_path, "the image: a .svg or .png file")->required();
  viz->add_option("--export", options->export_path, "also write the weights shown: a .json or .safetensors file");
  viz->add_option("--kind", options->kind, "cross, encoder_self, decoder_self or pooling (default: by task)");
  viz->add_option("--layer", options->layer, "a layer number, 'last' or 'all' (default: last)");
  viz->add_option("--head", options->head, "a head number or 'all' (default: all, in a grid)");
  viz->add_flag("--average-heads", options->average_heads, "show the mean over the heads");
  viz->add_option("--values", options->values, "write the weights in the cells: auto, on or off")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  viz->add_flag("--normalize", options->normalize, "darkest colour at the largest weight shown instead of 1");
  viz->add_option("--columns", options->columns, "panels per row of the grid (default: by layout)")
      ->check(CLI::PositiveNumber);
  viz->add_option("--width", options->width, "width in pixels of the shaded-words figure")->check(CLI::Range(200.0, 4000.0));
  viz->add_option("--png-scale", options->png_scale, "PNG pixels per figure pixel (default 2)")->check(CLI::Range(0.25, 8.0));
  viz->add_option("--method", options->search.method, "translation without --target: greedy or beam")
      ->check(CLI::IsMember({"greedy", "beam"}));
  viz->add_option("--beam-size", options->search.beam_size, "beam size")->check(CLI::PositiveNumber);
  viz->add_option("--threads", options->threads, "CPU threads")->check(CLI::PositiveNumber);
  viz->callback([options, target] {
    options->has_target = target->count() > 0;
    int status = run_guarded([&] { run_viz(*options); });
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
