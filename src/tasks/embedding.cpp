#include "attn/tasks/embedding.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "attn/core/error.h"
#include "attn/io/atomic_file.h"
#include "attn/io/npy.h"
#include "attn/io/safetensors.h"

namespace attn::tasks {
namespace {

void check_embeddings(const Tensor& embeddings, const char* what) {
  ATTN_CHECK(embeddings.defined() && embeddings.dim() == 2 && embeddings.dtype() == DType::Float32,
             what, ": expected embeddings float32 [N, E], got ",
             embeddings.defined() ? embeddings.describe() : "undefined");
}

double norm_of(const float* row, std::int64_t width) {
  double sum = 0;
  for (std::int64_t j = 0; j < width; ++j) sum += double(row[j]) * row[j];
  return std::sqrt(sum);
}

}  // namespace

EmbeddingFormat embedding_format(const std::string& path, std::string_view format) {
  if (format == "npy") return EmbeddingFormat::Npy;
  if (format == "safetensors") return EmbeddingFormat::Safetensors;
  if (format == "jsonl") return EmbeddingFormat::JsonLines;
  ATTN_CHECK(format.empty(), "embed: unknown format '", format,
             "', expected npy, safetensors or jsonl");
  const std::string extension = std::filesystem::path(path).extension().string();
  if (path.empty() || extension == ".jsonl" || extension == ".json") return EmbeddingFormat::JsonLines;
  if (extension == ".npy") return EmbeddingFormat::Npy;
  if (extension == ".safetensors") return EmbeddingFormat::Safetensors;
  throw Error(detail::concat("embed: cannot tell the format of '", path,
                             "' from its extension; use .npy, .safetensors or .jsonl, or --format"));
}

std::string embeddings_as_json_lines(const Tensor& embeddings) {
  check_embeddings(embeddings, "embeddings_as_json_lines");
  Tensor rows = embeddings.contiguous();
  const std::int64_t width = rows.size(1);
  std::string text;
  char number[32];
  for (std::int64_t i = 0; i < rows.size(0); ++i) {
    text += '[';
    for (std::int64_t j = 0; j < width; ++j) {
      const float value = rows.data<float>()[i * width + j];
      ATTN_CHECK(std::isfinite(value), "embeddings_as_json_lines: embedding ", i,
                 " holds a non-finite value, which JSON cannot represent");
      auto result = std::to_chars(number, number + sizeof number, value);
      if (j > 0) text += ',';
      text.append(number, result.ptr);
    }
    text += "]\n";
  }
  return text;
}

void write_embeddings(const std::string& path, const Tensor& embeddings, EmbeddingFormat format) {
  check_embeddings(embeddings, "write_embeddings");
  switch (format) {
    case EmbeddingFormat::Npy:
      io::save_npy(path, embeddings);
      return;
    case EmbeddingFormat::Safetensors:
      io::save_safetensors(path, {{"embeddings", embeddings.contiguous()}});
      return;
    case EmbeddingFormat::JsonLines: {
      const std::string text = embeddings_as_json_lines(embeddings);
      if (path.empty() || path == "-") {
        std::fwrite(text.data(), 1, text.size(), stdout);
        return;
      }
      io::AtomicFileWriter writer(path);
      writer.write(text);
      writer.commit();
      return;
    }
  }
}

std::vector<std::vector<double>> cosine_similarities(const Tensor& a, const Tensor& b) {
  check_embeddings(a, "cosine_similarities");
  check_embeddings(b, "cosine_similarities");
  ATTN_CHECK(a.size(1) == b.size(1), "cosine_similarities: widths differ, ", a.size(1), " and ",
             b.size(1));
  Tensor left = a.contiguous(), right = b.contiguous();
  const std::int64_t width = a.size(1);
  std::vector<std::vector<double>> result(std::size_t(a.size(0)), std::vector<double>(std::size_t(b.size(0))));
  for (std::int64_t i = 0; i < a.size(0); ++i) {
    const float* x = left.data<float>() + i * width;
    for (std::int64_t j = 0; j < b.size(0); ++j) {
      const float* y = right.data<float>() + j * width;
      double dot = 0;
      for (std::int64_t e = 0; e < width; ++e) dot += double(x[e]) * y[e];
      const double norms = norm_of(x, width) * norm_of(y, width);
      result[std::size_t(i)][std::size_t(j)] = norms > 0 ? dot / norms : 0.0;
    }
  }
  return result;
}

std::vector<SearchHit> semantic_search(const models::PretrainedEncoder& model,
                                       const std::string& query,
                                       const std::vector<std::string>& documents,
                                       std::int64_t top_k, std::int64_t batch_size) {
  ATTN_CHECK(top_k > 0, "semantic_search: top_k must be positive, got ", top_k);
  if (documents.empty()) return {};
  const std::vector<double> scores =
      cosine_similarities(model.embed({query}), model.embed(documents, batch_size)).front();
  std::vector<SearchHit> hits;
  for (std::size_t i = 0; i < scores.size(); ++i) hits.push_back({std::int64_t(i), scores[i]});
  std::stable_sort(hits.begin(), hits.end(),
                   [](const SearchHit& a, const SearchHit& b) { return a.score > b.score; });
  hits.resize(std::min<std::size_t>(hits.size(), std::size_t(top_k)));
  return hits;
}

}  // namespace attn::tasks
