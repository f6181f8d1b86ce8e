// `attn data fetch bible|austen [--out DIR]`: exports a corpus from the installed Debian
// packages into plain files (docs/DATA.md has the formats) and prints what it wrote.
//   attn data fetch bible  [--out data/bible]  [--target kjv|web] [--books "Ruth,Jonah"]
//   attn data fetch austen [--out data/austen] [--passage-words 64]
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>

#include "attn/data/austen.h"
#include "attn/data/bible.h"
#include "commands.h"

namespace attn::cli {
namespace {

struct FetchOptions {
  std::string corpus;
  std::string out;
  std::string target = "kjv";
  std::string books;  // comma-separated; empty = all
  std::int64_t passage_words = 64;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) {
    std::size_t begin = item.find_first_not_of(' '), end = item.find_last_not_of(' ');
    if (begin != std::string::npos) items.push_back(item.substr(begin, end - begin + 1));
  }
  return items;
}

void print_written(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    std::error_code error;
    auto size = std::filesystem::file_size(path, error);
    std::printf("  wrote %s (%llu bytes)\n", path.c_str(),
                static_cast<unsigned long long>(error ? 0 : size));
  }
}

void fetch_bible(const FetchOptions& options) {
  data::BibleOptions bible;
  bible.target_module = data::bible_target_module(options.target);
  bible.books = split_list(options.books);
  std::string out = options.out.empty() ? "data/bible" : options.out;
  data::BibleCorpus corpus = data::load_bible(bible);
  std::printf("bible: %s -> %s, %zu verse pairs\n", corpus.source_module.c_str(),
              corpus.target_module.c_str(), corpus.verses.size());
  for (data::Split split : data::kAllSplits) {
    std::printf("  %-5s %6lld verses\n", std::string(data::split_name(split)).c_str(),
                static_cast<long long>(corpus.count(split)));
  }
  print_written(data::export_bible(corpus, out));
}

void fetch_austen(const FetchOptions& options) {
  std::string out = options.out.empty() ? "data/austen" : options.out;
  std::vector<data::AustenNovel> novels = data::load_austen();
  std::printf("austen: %zu novels\n", novels.size());
  for (const data::AustenNovel& novel : novels) {
    std::printf("  %-22s %6zu lines\n", novel.title.slug.c_str(), novel.lines.size());
  }
  for (data::Split split : data::kAllSplits) {
    std::printf("  %-5s %6zu lm paragraphs, %6zu passages of %lld words\n",
                std::string(data::split_name(split)).c_str(),
                data::austen_lm_paragraphs(novels, split).size(),
                data::austen_passages(novels, split, options.passage_words).size(),
                static_cast<long long>(options.passage_words));
  }
  print_written(data::export_austen(novels, out, options.passage_words));
}

}  // namespace

void add_data_command(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "corpora: export the Bible and Austen texts");
  data->require_subcommand(1);
  auto options = std::make_shared<FetchOptions>();
  CLI::App* fetch =
      data->add_subcommand("fetch",
                           "export a corpus from its installed Debian package into plain files "
                           "(formats: docs/DATA.md)");
  fetch->add_option("corpus", options->corpus, "bible or austen")
      ->required()
      ->check(CLI::IsMember({"bible", "austen"}));
  fetch->add_option("--out", options->out, "output directory (default data/bible or data/austen)");
  fetch->add_option("--target", options->target, "bible: English target, kjv or web")
      ->check(CLI::IsMember({"kjv", "web"}));
  fetch->add_option("--books", options->books,
                    "bible: only these books, comma-separated (e.g. \"Ruth,Jonah,1 John\")");
  fetch
      ->add_option("--passage-words", options->passage_words,
                   "austen: words per classification passage")
      ->check(CLI::PositiveNumber);
  fetch->callback([options] {
    int status = run_guarded([&] {
      if (options->corpus == "bible") {
        fetch_bible(*options);
      } else {
        fetch_austen(*options);
      }
    });
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
