// Semantic search with a pretrained sentence-embedding model: ranks the lines of a file by
// their cosine similarity with a query.
//
//   example_semantic_search MODEL_DIR FILE "query" [TOP_K]
//
// With the model scripts/setup.sh installs (all-MiniLM-L6-v2) and the lines of
// examples/semantic_search/documents.txt, "How do I train a model?" ranks the lines about
// training first. ctest runs it so and checks that the best line is one of those.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

#include "attn/models/pretrained.h"
#include "attn/tasks/embedding.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODEL_DIR FILE \"query\" [TOP_K]\n", argv[0]);
    return 2;
  }
  try {
    std::ifstream file(argv[2]);
    if (!file) throw std::runtime_error(std::string("cannot open ") + argv[2]);
    std::vector<std::string> documents;
    for (std::string line; std::getline(file, line);) {
      if (!line.empty()) documents.push_back(line);
    }
    const long top_k = argc > 4 ? std::strtol(argv[4], nullptr, 10) : 3;
    auto model = attn::models::load_pretrained(argv[1]);
    for (const attn::tasks::SearchHit& hit :
         attn::tasks::semantic_search(*model, argv[3], documents, top_k)) {
      std::printf("%.4f  %s\n", hit.score, documents[std::size_t(hit.index)].c_str());
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "semantic_search: %s\n", error.what());
    return 1;
  }
  return 0;
}
