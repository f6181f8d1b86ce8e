// Reading the SWORD modules. Each module is walked through its own versification by
// (testament, book, chapter, verse); the target verse is found by book name, chapter and
// verse, so a target with another versification (the WEB's NRSVA) pairs by reference.
#include "attn/data/bible.h"

#include <markupfiltmgr.h>
#include <swlog.h>
#include <swmgr.h>
#include <swmodule.h>
#include <versekey.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "attn/core/error.h"
#include "attn/data/osis.h"
#include "attn/data/text_files.h"
#include "attn/data/verse_alignment.h"
#include "attn/io/atomic_file.h"

namespace attn::data {
namespace {

std::string debian_package_of(std::string_view module) {
  if (module == kBibleSourceModule) return "sword-text-sparv";
  if (module == kKingJamesModule) return "sword-text-kjv";
  if (module == kWorldEnglishModule) return "sword-text-web";
  return "";
}

// SWORD's "I Samuel", "II Kings", "III John", "Revelation of John" -> "1 Samuel", ...
std::string reference_book_name(std::string_view sword_name) {
  if (sword_name == "Revelation of John") return "Revelation";
  static const std::pair<std::string_view, std::string_view> kNumerals[] = {
      {"III ", "3 "}, {"II ", "2 "}, {"I ", "1 "}};
  for (const auto& [roman, arabic] : kNumerals) {
    if (sword_name.starts_with(roman)) {
      return std::string(arabic) + std::string(sword_name.substr(roman.size()));
    }
  }
  return std::string(sword_name);
}

std::string single_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  return text;
}

class SwordLibrary {
 public:
  explicit SwordLibrary(const std::string& path) {
    // SWORD reports a missing library on stderr; attn reports it as an error instead.
    sword::SWLog::getSystemLog()->setLogLevel(sword::SWLog::LOG_ERROR - 1);
    manager_ = path.empty()
                   ? std::make_unique<sword::SWMgr>()
                   : std::make_unique<sword::SWMgr>(path.c_str(), true, nullptr, false, false);
  }

  sword::SWModule& bible(const std::string& name) {
    sword::SWModule* module = manager_->getModule(name.c_str());
    std::string package = debian_package_of(name);
    ATTN_CHECK(module != nullptr, "load_bible: the SWORD module ", name, " is not installed",
               package.empty() ? std::string(" (install it with SWORD's installmgr)")
                               : " (install the Debian package " + package +
                                     ": sudo apt-get install " + package + ")");
    std::unique_ptr<sword::SWKey> key(module->createKey());
    ATTN_CHECK(dynamic_cast<sword::VerseKey*>(key.get()) != nullptr, "load_bible: module ", name,
               " is not a Bible (", module->getType(), ")");
    return *module;
  }

 private:
  std::unique_ptr<sword::SWMgr> manager_;
};

std::unique_ptr<sword::VerseKey> verse_key(sword::SWModule& module) {
  auto key = std::unique_ptr<sword::VerseKey>(static_cast<sword::VerseKey*>(module.createKey()));
  key->setAutoNormalize(false);
  key->setIntros(false);
  return key;
}

// Positions `module` at (book, chapter, verse) of its own versification and returns the
// entry, or "" when the verse does not exist there.
class VerseReader {
 public:
  explicit VerseReader(sword::SWModule& module) : module_(module), key_(verse_key(module)) {}

  bool select_book(const std::string& sword_name) {
    key_->setBookName(sword_name.c_str());
    bool found = key_->popError() == 0 && sword_name == key_->getBookName();
    book_ = found ? sword_name : "";
    return found;
  }

  std::string entry(int chapter, int verse) {
    if (book_.empty() || chapter < 1 || chapter > chapter_count()) return "";
    key_->setChapter(chapter);
    if (verse < 1 || verse > key_->getVerseMax()) return "";
    key_->setVerse(verse);
    module_.setKey(*key_);
    return module_.getRawEntry();
  }

  int chapter_count() const { return key_->getChapterMax(); }
  int verse_count(int chapter) {
    key_->setChapter(chapter);
    return key_->getVerseMax();
  }

 private:
  sword::SWModule& module_;
  std::unique_ptr<sword::VerseKey> key_;
  std::string book_;
};

// The SWORD names of the books of `module`, in canonical order.
std::vector<std::string> sword_book_names(sword::SWModule& module) {
  std::vector<std::string> names;
  auto key = verse_key(module);
  for (char testament = 1; testament <= 2; ++testament) {
    key->setTestament(testament);
    for (int book = 1; book <= key->getBookMax(); ++book) {
      key->setBook(static_cast<char>(book));
      names.emplace_back(key->getBookName());
    }
  }
  return names;
}

// The SWORD names of the requested books (all when none are named).
std::vector<std::string> select_books(const std::vector<std::string>& sword_names,
                                      const std::vector<std::string>& requested) {
  std::set<std::string> wanted(requested.begin(), requested.end());
  std::vector<std::string> selected;
  for (const std::string& name : sword_names) {
    if (requested.empty() || wanted.erase(reference_book_name(name)) > 0) selected.push_back(name);
  }
  ATTN_CHECK(wanted.empty(), "load_bible: unknown book '", *wanted.begin(),
             "' (expected a name such as Genesis, 1 Samuel, Song of Solomon, Revelation)");
  return selected;
}

// The raw entries of one book, verse by verse, with where each verse is.
struct BookEntries {
  std::vector<std::pair<int, int>> positions;  // (chapter, verse)
  std::vector<std::string> source, target, alignment;
};

BookEntries read_book(const std::string& sword_name, VerseReader& source, VerseReader& target,
                      VerseReader* alignment) {
  BookEntries book;
  bool present = source.select_book(sword_name) && target.select_book(sword_name) &&
                 (alignment == nullptr || alignment->select_book(sword_name));
  if (!present) return book;
  for (int chapter = 1; chapter <= source.chapter_count(); ++chapter) {
    int verses = source.verse_count(chapter);
    for (int verse = 1; verse <= verses; ++verse) {
      book.positions.emplace_back(chapter, verse);
      book.source.push_back(single_line(source.entry(chapter, verse)));
      book.target.push_back(single_line(target.entry(chapter, verse)));
      if (alignment) book.alignment.push_back(alignment->entry(chapter, verse));
    }
  }
  return book;
}

std::vector<bool> find_misaligned(const BookEntries& book, bool alignment_is_target) {
  const std::vector<std::string>& reference = alignment_is_target ? book.target : book.alignment;
  std::vector<std::vector<std::string>> source_numbers, reference_numbers;
  for (std::size_t i = 0; i < book.source.size(); ++i) {
    source_numbers.push_back(osis_strongs_numbers(book.source[i]));
    reference_numbers.push_back(osis_strongs_numbers(reference[i]));
  }
  return misaligned_verses(source_numbers, reference_numbers);
}

void add_book(const std::string& sword_name, const BookEntries& entries,
              const std::vector<bool>& misaligned, BibleCorpus& corpus) {
  std::string book = reference_book_name(sword_name);
  Split split = bible_split_of(book);
  for (std::size_t i = 0; i < entries.positions.size(); ++i) {
    auto [chapter, verse] = entries.positions[i];
    std::string reference = book + " " + std::to_string(chapter) + ":" + std::to_string(verse);
    BibleVerse pair{reference,
                    book,
                    chapter,
                    verse,
                    osis_plain_text(entries.source[i]),
                    osis_plain_text(entries.target[i]),
                    entries.source[i],
                    entries.target[i],
                    split};
    if (pair.source.empty() || pair.target.empty()) continue;
    if (!misaligned.empty() && misaligned[i]) {
      corpus.misaligned.push_back(std::move(reference));
      continue;
    }
    corpus.verses.push_back(std::move(pair));
  }
}

std::string manifest_json(const BibleCorpus& corpus) {
  nlohmann::ordered_json manifest;
  manifest["corpus"] = "bible";
  manifest["source_module"] = corpus.source_module;
  manifest["target_module"] = corpus.target_module;
  manifest["source_language"] = "es";
  manifest["target_language"] = "en";
  manifest["test_books"] = bible_test_books();
  manifest["valid_books"] = bible_valid_books();
  for (Split split : kAllSplits) {
    manifest["verses"][std::string(split_name(split))] = corpus.count(split);
  }
  manifest["misaligned_left_out"] = corpus.misaligned;
  return manifest.dump(2) + "\n";
}

}  // namespace

std::string bible_target_module(std::string_view short_name) {
  if (short_name == "kjv") return std::string(kKingJamesModule);
  if (short_name == "web") return std::string(kWorldEnglishModule);
  throw Error(detail::concat("bible: expected target kjv or web, got '", short_name, "'"));
}

const std::vector<std::string>& bible_test_books() {
  static const std::vector<std::string> books = {"Ruth", "Jonah", "Philippians", "1 John"};
  return books;
}

const std::vector<std::string>& bible_valid_books() {
  static const std::vector<std::string> books = {"Joel", "Habakkuk", "Colossians", "Titus",
                                                 "2 Peter"};
  return books;
}

Split bible_split_of(std::string_view book) {
  auto contains = [&](const std::vector<std::string>& books) {
    return std::find(books.begin(), books.end(), book) != books.end();
  };
  if (contains(bible_test_books())) return Split::Test;
  if (contains(bible_valid_books())) return Split::Valid;
  return Split::Train;
}

std::int64_t BibleCorpus::count(Split split) const {
  return std::count_if(verses.begin(), verses.end(),
                       [&](const BibleVerse& verse) { return verse.split == split; });
}

std::vector<const BibleVerse*> BibleCorpus::in_split(Split split) const {
  std::vector<const BibleVerse*> selected;
  for (const BibleVerse& verse : verses) {
    if (verse.split == split) selected.push_back(&verse);
  }
  return selected;
}

BibleCorpus load_bible(const BibleOptions& options) {
  SwordLibrary library(options.sword_path);
  sword::SWModule& source_module = library.bible(options.source_module);
  sword::SWModule& target_module = library.bible(options.target_module);
  BibleCorpus corpus;
  corpus.source_module = options.source_module;
  corpus.target_module = options.target_module;
  VerseReader source(source_module), target(target_module);
  bool alignment_is_target = options.alignment_module == options.target_module;
  std::unique_ptr<VerseReader> alignment;
  if (options.drop_misaligned && !alignment_is_target) {
    alignment = std::make_unique<VerseReader>(library.bible(options.alignment_module));
  }
  for (const std::string& book : select_books(sword_book_names(source_module), options.books)) {
    BookEntries entries = read_book(book, source, target, alignment.get());
    std::vector<bool> misaligned;
    if (options.drop_misaligned) misaligned = find_misaligned(entries, alignment_is_target);
    add_book(book, entries, misaligned, corpus);
  }
  return corpus;
}

std::vector<std::string> export_bible(const BibleCorpus& corpus, const std::string& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  ATTN_CHECK(!error, "export_bible: cannot create directory ", directory, ": ", error.message());
  std::vector<std::string> written;
  auto write = [&](const std::string& name, const std::vector<std::string>& lines) {
    std::string path = (std::filesystem::path(directory) / name).string();
    write_lines(path, lines);
    written.push_back(path);
  };
  for (Split split : kAllSplits) {
    std::vector<std::string> source, target, references, source_markup, target_markup;
    for (const BibleVerse* verse : corpus.in_split(split)) {
      source.push_back(verse->source);
      target.push_back(verse->target);
      references.push_back(verse->reference);
      source_markup.push_back(verse->source_markup);
      target_markup.push_back(verse->target_markup);
    }
    std::string name(split_name(split));
    write(name + ".es", source);
    write(name + ".en", target);
    write(name + ".ref", references);
    write(name + ".es.markup", source_markup);
    write(name + ".en.markup", target_markup);
  }
  // Last, so that a manifest means the files beside it are complete.
  std::string manifest = (std::filesystem::path(directory) / "manifest.json").string();
  io::write_file_atomic(manifest, manifest_json(corpus));
  written.push_back(manifest);
  return written;
}

}  // namespace attn::data
