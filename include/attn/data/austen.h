// Jane Austen's six novels, from the R package janeaustenr (Debian: r-cran-janeaustenr;
// the texts are Project Gutenberg's, in the public domain), for language modelling and for a
// 6-way "which novel is this passage from?" classifier. docs/DATA.md describes the files.
//
// Splits, the same for both tasks, by lines of each novel (n lines, integer division):
//   train = lines [0, 85n/100), valid = [85n/100, 9n/10), test = [9n/10, n)
// so the test set is the last 10% of every novel and validation the 5% before it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attn/data/split.h"
#include "attn/data/text_files.h"

namespace attn::data {

// The novels in label order: label i of the classifier is novel i.
struct AustenTitle {
  std::string slug;      // "sense-and-sensibility": file names
  std::string title;     // "Sense & Sensibility": as janeaustenr names it
  std::string r_object;  // "sensesensibility": the package's character vector
};
const std::vector<AustenTitle>& austen_titles();  // S&S, P&P, Mansfield Park, Emma,
                                                  // Northanger Abbey, Persuasion

struct AustenNovel {
  AustenTitle title;
  std::vector<std::string> lines;  // as the package has them: hard-wrapped, "" between paragraphs
};

struct AustenOptions {
  std::string rscript = "Rscript";  // program name (searched on PATH) or path
};

// Runs Rscript once to read all six novels. Throws attn::Error when Rscript is missing
// (Debian: r-base-core), janeaustenr is missing (r-cran-janeaustenr) or Rscript fails.
std::vector<AustenNovel> load_austen(const AustenOptions& options = {});

// Reads the novels back from {directory}/{slug}.txt without R: pass the novels/ folder of
// an export_austen directory.
std::vector<AustenNovel> read_austen(const std::string& directory);

// The first and one-past-last line of `split` in a novel of `line_count` lines.
struct LineRange {
  std::int64_t begin = 0;
  std::int64_t end = 0;
};
LineRange austen_split_lines(std::int64_t line_count, Split split);

// Language modelling text of a split: one paragraph per line (the consecutive non-empty
// lines of a paragraph joined by single spaces), novels in label order. A paragraph that
// crosses a split boundary is cut there, so no line of text is in two splits.
std::vector<std::string> austen_lm_paragraphs(const std::vector<AustenNovel>& novels, Split split);

// Classification passages of a split: the running text of each novel's part (front matter
// before the first chapter heading, chapter and volume headings and "THE END"/"FINIS"
// lines removed) cut into passages of `passage_words` whitespace-separated words; a last
// shorter piece is kept when it has at least half that many. The label is the novel's
// place in austen_titles().
std::vector<LabeledText> austen_passages(const std::vector<AustenNovel>& novels, Split split,
                                         std::int64_t passage_words = 64);

// Writes into `directory` (created if missing), each file atomically:
//   novels/{slug}.txt             the text as the package has it, one line per line
//   lm/{train,valid,test}.txt     austen_lm_paragraphs
//   classify/{train,valid,test}.tsv  austen_passages as "label<TAB>text"
//   classify/labels.txt           the slugs, line i = label i
//   manifest.json                 counts; written last
// Returns the paths written.
std::vector<std::string> export_austen(const std::vector<AustenNovel>& novels,
                                       const std::string& directory,
                                       std::int64_t passage_words = 64);

}  // namespace attn::data
