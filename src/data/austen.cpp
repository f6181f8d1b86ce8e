// The novels come out of R through a pipe: one Rscript run prints, for each novel, a header
// line "\x01novel NAME COUNT" followed by its COUNT lines. attn, not R, writes the files, so
// they are written atomically and checked (all six novels, every line count).
#include "attn/data/austen.h"

#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attn/core/error.h"
#include "attn/io/atomic_file.h"

extern char** environ;

namespace attn::data {
namespace {

constexpr int kMissingPackageStatus = 3;
constexpr std::string_view kNovelHeader = "\x01novel ";

struct ProcessResult {
  int exit_status = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

// Reads both pipes until they close, so a child that fills one never blocks on it.
void drain(int out_descriptor, int err_descriptor, ProcessResult& result) {
  pollfd descriptors[2] = {{out_descriptor, POLLIN, 0}, {err_descriptor, POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  char buffer[65536];
  while (open_count > 0) {
    if (::poll(descriptors, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw Error(detail::concat("load_austen: poll failed: ", std::strerror(errno)));
    }
    for (int i = 0; i < 2; ++i) {
      if (descriptors[i].fd < 0 || descriptors[i].revents == 0) continue;
      ssize_t count = ::read(descriptors[i].fd, buffer, sizeof(buffer));
      if (count > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(count));
      } else if (count == 0 || errno != EINTR) {
        ::close(descriptors[i].fd);
        descriptors[i].fd = -1;
        --open_count;
      }
    }
  }
}

// Runs `arguments` (arguments[0] searched on PATH) and collects its output. Throws when the
// program cannot be started; the caller judges the exit status.
ProcessResult run_program(const std::vector<std::string>& arguments) {
  int out_pipe[2], err_pipe[2];
  ATTN_CHECK(::pipe(out_pipe) == 0 && ::pipe(err_pipe) == 0,
             "load_austen: pipe failed: ", std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  for (int descriptor : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
    posix_spawn_file_actions_addclose(&actions, descriptor);
  }
  std::vector<char*> argv;
  for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  pid_t child = 0;
  int spawn_error = ::posix_spawnp(&child, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (spawn_error != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    throw Error(detail::concat("load_austen: cannot run ", arguments[0], ": ",
                               std::strerror(spawn_error),
                               " (Rscript comes with the Debian package r-base-core: sudo "
                               "apt-get install r-base-core r-cran-janeaustenr)"));
  }
  ProcessResult result;
  drain(out_pipe[0], err_pipe[0], result);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string export_script() {
  std::string names;
  for (const AustenTitle& title : austen_titles()) {
    names += (names.empty() ? "\"" : ", \"") + title.r_object + "\"";
  }
  return "if (!requireNamespace(\"janeaustenr\", quietly = TRUE)) quit(status = " +
         std::to_string(kMissingPackageStatus) + ")\n" + "for (name in c(" + names +
         ")) {\n"
         "  text <- getExportedValue(\"janeaustenr\", name)\n"
         "  cat(\"\\001novel \", name, \" \", length(text), \"\\n\", sep = \"\")\n"
         "  writeLines(text, useBytes = TRUE)\n"
         "}\n";
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(std::move(line));
  return lines;
}

// "\x01novel emma 16235" -> the count, after checking the name.
std::int64_t parse_header(const std::string& line, const AustenTitle& title) {
  std::string expected = std::string(kNovelHeader) + title.r_object + " ";
  ATTN_CHECK(line.starts_with(expected), "load_austen: unexpected output from Rscript: expected ",
             title.r_object, ", got '", line.substr(0, 60), "'");
  std::int64_t count = -1;
  auto [end, error] =
      std::from_chars(line.data() + expected.size(), line.data() + line.size(), count);
  ATTN_CHECK(error == std::errc() && end == line.data() + line.size() && count >= 0,
             "load_austen: unexpected header from Rscript: '", line.substr(1), "'");
  return count;
}

std::vector<AustenNovel> parse_novels(const std::string& output) {
  std::vector<std::string> lines = split_lines(output);
  std::vector<AustenNovel> novels;
  std::size_t position = 0;
  for (const AustenTitle& title : austen_titles()) {
    ATTN_CHECK(position < lines.size(), "load_austen: Rscript's output ends before ",
               title.r_object);
    std::int64_t count = parse_header(lines[position++], title);
    ATTN_CHECK(position + count <= lines.size(), "load_austen: Rscript's output ends inside ",
               title.r_object);
    AustenNovel novel{title, {lines.begin() + position, lines.begin() + position + count}};
    position += count;
    novels.push_back(std::move(novel));
  }
  ATTN_CHECK(position == lines.size(),
             "load_austen: unexpected output from Rscript after the novels");
  return novels;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t position = 0;
  while (position < line.size()) {
    while (position < line.size() && is_space(line[position])) ++position;
    std::size_t end = position;
    while (end < line.size() && !is_space(line[end])) ++end;
    if (end > position) words.push_back(line.substr(position, end - position));
    position = end;
  }
  return words;
}

bool is_numeral(std::string_view word) {
  if (word.ends_with(".")) word.remove_suffix(1);
  if (word.empty()) return false;
  bool digits = word.find_first_not_of("0123456789") == std::string_view::npos;
  bool roman = word.find_first_not_of("IVXLC") == std::string_view::npos;
  return digits || roman;
}

// "CHAPTER 1", "Chapter IV", "VOLUME I", "THE END", "FINIS": structure, not prose.
bool is_heading(std::string_view line) {
  std::vector<std::string_view> words = words_of(line);
  if (words.size() == 2 && is_numeral(words[1])) {
    return words[0] == "CHAPTER" || words[0] == "Chapter" || words[0] == "VOLUME" ||
           words[0] == "Volume";
  }
  if (words.size() == 1) return words[0] == "FINIS" || words[0] == "Finis";
  return words.size() == 2 && (words[0] == "THE" || words[0] == "The") &&
         (words[1] == "END" || words[1] == "End");
}

// The class of a novel: its place in austen_titles().
std::int64_t label_of(const AustenTitle& title) {
  const std::vector<AustenTitle>& titles = austen_titles();
  for (std::size_t i = 0; i < titles.size(); ++i) {
    if (titles[i].slug == title.slug) return static_cast<std::int64_t>(i);
  }
  throw Error(detail::concat("austen_passages: unknown novel '", title.slug, "'"));
}

std::int64_t first_heading(const std::vector<std::string>& lines) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (is_heading(lines[i])) return static_cast<std::int64_t>(i);
  }
  return 0;
}

std::string join(const std::vector<std::string_view>& words, std::size_t begin, std::size_t end) {
  std::string text;
  for (std::size_t i = begin; i < end; ++i) {
    if (i > begin) text += ' ';
    text += words[i];
  }
  return text;
}

struct ExportCounts {
  std::size_t paragraphs[3] = {};  // by split
  std::size_t passages[3] = {};
};

std::string manifest_json(const std::vector<AustenNovel>& novels, std::int64_t passage_words,
                          const ExportCounts& counts) {
  nlohmann::ordered_json manifest;
  manifest["corpus"] = "austen";
  manifest["source"] = "R package janeaustenr";
  manifest["passage_words"] = passage_words;
  for (const AustenNovel& novel : novels) {
    manifest["novels"].push_back(
        {{"slug", novel.title.slug}, {"title", novel.title.title}, {"lines", novel.lines.size()}});
  }
  for (Split split : kAllSplits) {
    std::string name(split_name(split));
    manifest["lm_paragraphs"][name] = counts.paragraphs[static_cast<int>(split)];
    manifest["classify_passages"][name] = counts.passages[static_cast<int>(split)];
  }
  return manifest.dump(2) + "\n";
}

}  // namespace

const std::vector<AustenTitle>& austen_titles() {
  static const std::vector<AustenTitle> titles = {
      {"sense-and-sensibility", "Sense & Sensibility", "sensesensibility"},
      {"pride-and-prejudice", "Pride & Prejudice", "prideprejudice"},
      {"mansfield-park", "Mansfield Park", "mansfieldpark"},
      {"emma", "Emma", "emma"},
      {"northanger-abbey", "Northanger Abbey", "northangerabbey"},
      {"persuasion", "Persuasion", "persuasion"},
  };
  return titles;
}

std::vector<AustenNovel> load_austen(const AustenOptions& options) {
  ProcessResult result = run_program({options.rscript, "--vanilla", "-e", export_script()});
  ATTN_CHECK(result.exit_status != kMissingPackageStatus,
             "load_austen: the R package janeaustenr is not installed (install the Debian "
             "package r-cran-janeaustenr: sudo apt-get install r-cran-janeaustenr)");
  ATTN_CHECK(result.exit_status == 0, "load_austen: ", options.rscript, " failed (",
             result.exit_status < 0 ? std::string("killed by a signal")
                                    : "exit status " + std::to_string(result.exit_status),
             "): ", result.err.substr(0, 2000));
  return parse_novels(result.out);
}

std::vector<AustenNovel> read_austen(const std::string& directory) {
  std::vector<AustenNovel> novels;
  for (const AustenTitle& title : austen_titles()) {
    std::string path = (std::filesystem::path(directory) / (title.slug + ".txt")).string();
    novels.push_back({title, read_lines(path)});
  }
  return novels;
}

LineRange austen_split_lines(std::int64_t line_count, Split split) {
  ATTN_CHECK(line_count >= 0, "austen_split_lines: expected a line count >= 0, got ", line_count);
  std::int64_t valid_begin = line_count * 85 / 100, test_begin = line_count * 9 / 10;
  switch (split) {
    case Split::Train:
      return {0, valid_begin};
    case Split::Valid:
      return {valid_begin, test_begin};
    case Split::Test:
      return {test_begin, line_count};
  }
  ATTN_ASSERT(false, "unknown split");
  return {};
}

std::vector<std::string> austen_lm_paragraphs(const std::vector<AustenNovel>& novels, Split split) {
  std::vector<std::string> paragraphs;
  for (const AustenNovel& novel : novels) {
    LineRange range = austen_split_lines(static_cast<std::int64_t>(novel.lines.size()), split);
    std::string paragraph;
    for (std::int64_t i = range.begin; i <= range.end; ++i) {
      std::vector<std::string_view> words =
          i < range.end ? words_of(novel.lines[i]) : std::vector<std::string_view>{};
      if (words.empty()) {
        if (!paragraph.empty()) paragraphs.push_back(std::move(paragraph));
        paragraph.clear();
        continue;
      }
      if (!paragraph.empty()) paragraph += ' ';
      paragraph += join(words, 0, words.size());
    }
  }
  return paragraphs;
}

std::vector<LabeledText> austen_passages(const std::vector<AustenNovel>& novels, Split split,
                                         std::int64_t passage_words) {
  ATTN_CHECK(passage_words >= 1, "austen_passages: expected passage_words >= 1, got ",
             passage_words);
  std::vector<LabeledText> passages;
  for (const AustenNovel& novel : novels) {
    std::int64_t label = label_of(novel.title);
    const std::vector<std::string>& lines = novel.lines;
    LineRange range = austen_split_lines(static_cast<std::int64_t>(lines.size()), split);
    std::vector<std::string_view> words;
    for (std::int64_t i = std::max(range.begin, first_heading(lines)); i < range.end; ++i) {
      if (is_heading(lines[i])) continue;
      for (std::string_view word : words_of(lines[i])) words.push_back(word);
    }
    std::size_t size = static_cast<std::size_t>(passage_words);
    for (std::size_t begin = 0; begin < words.size(); begin += size) {
      std::size_t end = std::min(words.size(), begin + size);
      if (2 * (end - begin) < size) break;
      passages.push_back({label, join(words, begin, end)});
    }
  }
  return passages;
}

std::vector<std::string> export_austen(const std::vector<AustenNovel>& novels,
                                       const std::string& directory, std::int64_t passage_words) {
  namespace fs = std::filesystem;
  fs::path root(directory);
  for (const char* folder : {"novels", "lm", "classify"}) {
    std::error_code error;
    fs::create_directories(root / folder, error);
    ATTN_CHECK(!error, "export_austen: cannot create directory ", (root / folder).string(), ": ",
               error.message());
  }
  std::vector<std::string> written;
  auto record = [&](const fs::path& path) { written.push_back(path.string()); };
  std::vector<std::string> labels;
  for (const AustenNovel& novel : novels) {
    write_lines((root / "novels" / (novel.title.slug + ".txt")).string(), novel.lines);
    record(root / "novels" / (novel.title.slug + ".txt"));
    labels.push_back(novel.title.slug);
  }
  ExportCounts counts;
  for (Split split : kAllSplits) {
    std::string name(split_name(split));
    std::vector<std::string> paragraphs = austen_lm_paragraphs(novels, split);
    std::vector<LabeledText> passages = austen_passages(novels, split, passage_words);
    write_lines((root / "lm" / (name + ".txt")).string(), paragraphs);
    write_labeled_tsv((root / "classify" / (name + ".tsv")).string(), passages);
    record(root / "lm" / (name + ".txt"));
    record(root / "classify" / (name + ".tsv"));
    counts.paragraphs[static_cast<int>(split)] = paragraphs.size();
    counts.passages[static_cast<int>(split)] = passages.size();
  }
  write_lines((root / "classify" / "labels.txt").string(), labels);
  record(root / "classify" / "labels.txt");
  // Last, so that a manifest means the files beside it are complete.
  io::write_file_atomic((root / "manifest.json").string(),
                        manifest_json(novels, passage_words, counts));
  record(root / "manifest.json");
  return written;
}

}  // namespace attn::data
