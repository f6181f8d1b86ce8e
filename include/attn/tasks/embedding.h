// Sentence embeddings with a pretrained encoder (models/pretrained.h): what `attn embed`,
// `attn similarity` and examples/semantic_search do, as library functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attn/core/tensor.h"
#include "attn/models/pretrained.h"

namespace attn::tasks {

enum class EmbeddingFormat { Npy, Safetensors, JsonLines };

// "npy", "safetensors", "jsonl" (`format`), or, when `format` is empty, from the path's
// extension (.npy, .safetensors, .jsonl or .json); anything else is an error naming both.
EmbeddingFormat embedding_format(const std::string& path, std::string_view format);

// Writes embeddings [N, E] atomically: .npy (float32 [N, E]); safetensors (one tensor,
// "embeddings"); JSON lines (one array of E numbers per text, each the shortest decimal
// that reads back to the same float32). An empty path writes JSON lines to standard output.
void write_embeddings(const std::string& path, const Tensor& embeddings, EmbeddingFormat format);
std::string embeddings_as_json_lines(const Tensor& embeddings);

// [N, E] x [M, E] -> [N, M] cosine similarities, in double precision from float32 rows.
std::vector<std::vector<double>> cosine_similarities(const Tensor& a, const Tensor& b);

struct SearchHit {
  std::int64_t index;  // into the documents
  double score;        // cosine similarity with the query
};

// The top_k documents most similar to the query, best first (ties: earlier document first).
std::vector<SearchHit> semantic_search(const models::PretrainedEncoder& model,
                                       const std::string& query,
                                       const std::vector<std::string>& documents,
                                       std::int64_t top_k, std::int64_t batch_size = 32);

}  // namespace attn::tasks
