// The Spanish -> English Bible: Reina-Valera 1909 aligned verse by verse with the King James
// Version (or the World English Bible), read from the SWORD modules that Debian packages:
//   spaRV1909eb   sword-text-sparv   source (Spanish)
//   engKJV2006eb  sword-text-kjv     target (English, default; tagged with Strong's numbers)
//   engWEB2015eb  sword-text-web     alternative target (modern English)
// All three are in the public domain. docs/DATA.md describes the corpus and its files.
//
// A pair is kept when the verse exists in both modules, both plain texts are non-empty and
// the pair is not misaligned. Verses are matched by reference (book, chapter, verse); the
// WEB follows the NRSVA versification, whose numbering of the 66 books agrees with the
// KJV's. In a few passages the Spanish module numbers verses the Hebrew way, so the same
// reference holds different text; those pairs are found with Strong's numbers and left out
// (data/verse_alignment.h; about 190 verses, 10 of them in Jonah 2).
//
// Splits are by book, so no test verse shares a chapter with training text:
//   test  = Ruth, Jonah, Philippians, 1 John (never in train or valid)
//   valid = Joel, Habakkuk, Colossians, Titus, 2 Peter
//   train = the other 57 books
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attn/data/split.h"

namespace attn::data {

inline constexpr std::string_view kBibleSourceModule = "spaRV1909eb";
inline constexpr std::string_view kKingJamesModule = "engKJV2006eb";
inline constexpr std::string_view kWorldEnglishModule = "engWEB2015eb";

// "kjv" -> engKJV2006eb, "web" -> engWEB2015eb; throws attn::Error for another name.
std::string bible_target_module(std::string_view short_name);

// Book names as references spell them: "Genesis", "1 Samuel", "Song of Solomon",
// "Revelation" (SWORD's "I Samuel" and "Revelation of John" are rewritten).
const std::vector<std::string>& bible_test_books();   // Ruth, Jonah, Philippians, 1 John
const std::vector<std::string>& bible_valid_books();  // Joel, Habakkuk, Colossians, Titus, 2 Peter
Split bible_split_of(std::string_view book);

struct BibleOptions {
  std::string source_module = std::string(kBibleSourceModule);
  std::string target_module = std::string(kKingJamesModule);
  // Only these books (names as above), in canonical order whatever the order here; empty
  // means all 66. An unknown name is an error.
  std::vector<std::string> books;
  // Where the SWORD modules are; empty means SWORD's own search (SWORD_PATH, ~/.sword,
  // /usr/share/sword).
  std::string sword_path;
  // Leave out misaligned pairs, judged against this module's Strong's numbers (the KJV's
  // serve every English target: the English Bibles share their verse numbering).
  bool drop_misaligned = true;
  std::string alignment_module = std::string(kKingJamesModule);
};

struct BibleVerse {
  std::string reference;  // "Ruth 1:1"
  std::string book;       // "Ruth"
  int chapter = 0;
  int verse = 0;
  std::string source;  // plain text (data/osis.h): markup stripped, whitespace normalized
  std::string target;
  std::string source_markup;  // the module's OSIS entry as stored, newlines replaced by spaces
  std::string target_markup;
  Split split = Split::Train;
};

struct BibleCorpus {
  std::string source_module;
  std::string target_module;
  std::vector<BibleVerse> verses;       // canonical order, Genesis 1:1 first
  std::vector<std::string> misaligned;  // references of the pairs left out as misaligned

  std::int64_t count(Split split) const;
  std::vector<const BibleVerse*> in_split(Split split) const;
};

// Reads both modules. Throws attn::Error when a module is not installed, naming the Debian
// package that provides it.
BibleCorpus load_bible(const BibleOptions& options = {});

// Writes, for each split, into `directory` (created if missing):
//   {split}.es, {split}.en              plain text, one verse per line, line i aligned
//   {split}.ref                         the references ("Ruth 1:1")
//   {split}.es.markup, {split}.en.markup  the OSIS entries
//   manifest.json                       modules, splits, books, counts and the references
//                                       left out as misaligned; written last
// Each file is replaced atomically (io/atomic_file.h): a reader never sees a partial file.
// Returns the paths written.
std::vector<std::string> export_bible(const BibleCorpus& corpus, const std::string& directory);

}  // namespace attn::data
