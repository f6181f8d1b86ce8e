// A small OSIS reader: just enough XML to walk one verse entry (tags, attributes in quotes,
// entities), not a general parser. Entries are fragments, not documents: an element may be
// closed in a later verse, and a few KJV entries carry a close tag without its open tag, so
// unmatched tags are tolerated rather than rejected.
#include "attn/data/osis.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <optional>

namespace attn::data {
namespace {

struct Tag {
  std::string_view name;
  std::string_view attributes;
  bool closing = false;
  bool self_closing = false;
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// The position of the '>' that ends the tag opened at `open`, skipping quoted values.
std::size_t find_tag_end(std::string_view markup, std::size_t open) {
  char quote = 0;
  for (std::size_t i = open + 1; i < markup.size(); ++i) {
    char c = markup[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '>') {
      return i;
    }
  }
  return std::string_view::npos;
}

Tag parse_tag(std::string_view inside) {  // the text between '<' and '>'
  Tag tag;
  if (!inside.empty() && inside.front() == '/') {
    tag.closing = true;
    inside.remove_prefix(1);
  }
  if (!inside.empty() && inside.back() == '/') {
    tag.self_closing = true;
    inside.remove_suffix(1);
  }
  std::size_t name_end = 0;
  while (name_end < inside.size() && !is_space(inside[name_end])) ++name_end;
  tag.name = inside.substr(0, name_end);
  tag.attributes = inside.substr(name_end);
  return tag;
}

std::optional<std::string_view> attribute(const Tag& tag, std::string_view name) {
  std::string_view text = tag.attributes;
  for (std::size_t at = text.find(name); at != std::string_view::npos;
       at = text.find(name, at + 1)) {
    bool starts_word = at == 0 || is_space(text[at - 1]);
    std::size_t equals = at + name.size();
    if (!starts_word || equals + 1 >= text.size() || text[equals] != '=') continue;
    char quote = text[equals + 1];
    std::size_t close = text.find(quote, equals + 2);
    if (close == std::string_view::npos) return std::nullopt;
    return text.substr(equals + 2, close - equals - 2);
  }
  return std::nullopt;
}

// "strong:H3117 G0846" -> {"H3117", "G0846"}; other lemma kinds are ignored.
std::vector<std::string> parse_strongs(std::string_view value) {
  std::vector<std::string> numbers;
  std::size_t position = 0;
  while (position < value.size()) {
    while (position < value.size() && is_space(value[position])) ++position;
    std::size_t end = position;
    while (end < value.size() && !is_space(value[end])) ++end;
    std::string_view token = value.substr(position, end - position);
    position = end;
    if (token.starts_with("strong:")) token.remove_prefix(7);
    bool valid = token.size() >= 2 && (token[0] == 'H' || token[0] == 'G') && token[1] >= '0' &&
                 token[1] <= '9';
    if (valid) numbers.emplace_back(token);
  }
  return numbers;
}

// Elements whose content is not verse text.
bool drops_content(const Tag& tag) {
  if (tag.name == "title") return attribute(tag, "canonical") != std::string_view("true");
  return tag.name == "note" || tag.name == "speaker" || tag.name == "rdg" ||
         tag.name == "catchWord";
}

// A milestone that opens matter which is not verse text: the WEB appends its glossary and
// introduction to Revelation 22:21, opened by <div sID="..." type="glossary"/>.
bool starts_front_or_back_matter(const Tag& tag) {
  auto type = attribute(tag, "type");
  return tag.name == "div" && tag.self_closing && attribute(tag, "sID") &&
         (type == std::string_view("glossary") || type == std::string_view("introduction"));
}

// <div eID="..." type="book"/> closes the book: nothing after it belongs to the verse.
bool ends_book(const Tag& tag) {
  return tag.name == "div" && tag.self_closing && attribute(tag, "eID") &&
         attribute(tag, "type") == std::string_view("book");
}

// Elements that separate words (poetry lines, paragraphs, list items, ...), so that text
// on either side never runs together.
bool separates_words(std::string_view name) {
  return name == "l" || name == "lb" || name == "lg" || name == "p" || name == "div" ||
         name == "item" || name == "list" || name == "title" || name == "chapter" ||
         name == "milestone";
}

void append_code_point(char32_t code, std::string& out) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

// `entity` is what stands between '&' and ';'. An unknown one is kept as written.
void append_entity(std::string_view entity, std::string& out) {
  static constexpr std::pair<std::string_view, char> kNamed[] = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
  for (const auto& [name, character] : kNamed) {
    if (entity == name) {
      out += character;
      return;
    }
  }
  if (entity.size() > 1 && entity[0] == '#') {
    bool hex = entity[1] == 'x' || entity[1] == 'X';
    std::string digits(entity.substr(hex ? 2 : 1));
    unsigned long code = std::strtoul(digits.c_str(), nullptr, hex ? 16 : 10);
    if (code > 0 && code <= 0x10FFFF && (code < 0xD800 || code > 0xDFFF)) {
      append_code_point(static_cast<char32_t>(code), out);
      return;
    }
  }
  out += '&';
  out += entity;
  out += ';';
}

bool is_marker_character(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// The end of the USFM marker ("\nd", "\+nd*", "\nd*") that starts at raw[begin] == '\\'.
std::size_t usfm_marker_end(std::string_view raw, std::size_t begin) {
  std::size_t end = begin + 1;
  if (end < raw.size() && raw[end] == '+') ++end;
  while (end < raw.size() && is_marker_character(raw[end])) ++end;
  if (end < raw.size() && raw[end] == '*') ++end;
  return end;
}

// Text between tags: entities decoded, USFM markers and the paragraph sign removed.
std::string clean_text(std::string_view raw) {
  static constexpr std::string_view kPilcrow = "\xC2\xB6";
  std::string out;
  out.reserve(raw.size());
  std::size_t i = 0;
  while (i < raw.size()) {
    std::size_t special = std::min(raw.find_first_of("\\&\xC2", i), raw.size());
    out.append(raw, i, special - i);
    i = special;
    if (i == raw.size()) break;
    if (raw[i] == '\\') {
      i = usfm_marker_end(raw, i);
    } else if (raw.substr(i).starts_with(kPilcrow)) {
      i += kPilcrow.size();
    } else if (std::size_t semicolon = raw.find(';', i);
               raw[i] == '&' && semicolon != std::string_view::npos && semicolon - i <= 10) {
      append_entity(raw.substr(i + 1, semicolon - i - 1), out);
      i = semicolon + 1;
    } else {
      out += raw[i++];  // a lone '&', or another character starting with byte C2
    }
  }
  return out;
}

// The KJV prints the divine name in capitals ("the LORD"); a few entries spell it "Lord"
// inside <divineName>. Capitalizes ASCII letters, keeping the possessive "’s" as it is.
std::string capitalize_divine_name(std::string text) {
  static constexpr std::string_view kApostrophe = "\u2019";
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool after_apostrophe =
        (i > 0 && text[i - 1] == '\'') ||
        (i >= kApostrophe.size() &&
         std::string_view(text).substr(i - kApostrophe.size()).starts_with(kApostrophe));
    if (text[i] >= 'a' && text[i] <= 'z' && !after_apostrophe)
      text[i] = static_cast<char>(text[i] - 'a' + 'A');
  }
  return text;
}

// Punctuation that attaches to the word before it. A footnote dropped between two words
// must leave a space (the WEB writes "God<note>...</note>created"), but one dropped before
// such a mark must not ("gerahs<note>...</note>);").
bool starts_with_closing_punctuation(std::string_view text) {
  static constexpr std::string_view kClosing[] = {",", ".", ";",  ":",      "!",      "?",     ")",
                                                  "]", "'", "\"", "\u2019", "\u201D", "\u2026"};
  for (std::string_view mark : kClosing) {
    if (text.starts_with(mark)) return true;
  }
  return false;
}

// Calls on_text(text, strongs) for every run of verse text, where `strongs` holds the
// numbers of the innermost enclosing <w> (empty outside one); a separator is " ".
using TextSink = std::function<void(std::string_view, const std::vector<std::string>&)>;

// `numbers`, when given, collects the Strong's numbers of every <w> met, even an empty one;
// an empty `on_text` skips the text altogether.
void walk_osis(std::string_view markup, const TextSink& on_text,
               std::vector<std::string>* numbers = nullptr) {
  static const std::vector<std::string> kNone;
  std::vector<std::vector<std::string>> open_words;  // Strong's numbers of each open <w>
  std::string_view skipped_name;                     // the element being dropped, if any
  int skipped_depth = 0;
  bool separate_next_text = false;  // after dropped content, unless punctuation follows
  int divine_name_depth = 0;
  auto current = [&]() -> const std::vector<std::string>& {
    return open_words.empty() ? kNone : open_words.back();
  };
  std::size_t position = 0;
  while (position < markup.size()) {
    if (markup[position] != '<') {
      std::size_t next = std::min(markup.find('<', position), markup.size());
      if (skipped_depth == 0 && on_text) {
        std::string text = clean_text(markup.substr(position, next - position));
        if (divine_name_depth > 0) text = capitalize_divine_name(std::move(text));
        if (separate_next_text && !text.empty() && !starts_with_closing_punctuation(text)) {
          on_text(" ", kNone);
        }
        if (!text.empty()) separate_next_text = false;
        on_text(text, current());
      }
      position = next;
      continue;
    }
    std::size_t end = find_tag_end(markup, position);
    if (end == std::string_view::npos) break;  // a truncated tag ends the entry
    Tag tag = parse_tag(markup.substr(position + 1, end - position - 1));
    position = end + 1;
    if (skipped_depth > 0) {
      if (tag.name == skipped_name && !tag.self_closing) skipped_depth += tag.closing ? -1 : 1;
      separate_next_text = skipped_depth == 0;
      continue;
    }
    if (ends_book(tag) || starts_front_or_back_matter(tag)) break;
    if (!tag.closing && !tag.self_closing && drops_content(tag)) {
      skipped_name = tag.name;
      skipped_depth = 1;
    } else if (tag.name == "w" && !tag.self_closing) {
      if (!tag.closing) {
        auto lemma = attribute(tag, "lemma");
        if (!lemma) lemma = attribute(tag, "savlm");
        open_words.push_back(lemma ? parse_strongs(*lemma) : std::vector<std::string>{});
        if (numbers)
          numbers->insert(numbers->end(), open_words.back().begin(), open_words.back().end());
      } else if (!open_words.empty()) {
        open_words.pop_back();
      }
    } else if (tag.name == "divineName" && !tag.self_closing) {
      divine_name_depth = std::max(0, divine_name_depth + (tag.closing ? -1 : 1));
    } else if (separates_words(tag.name) && on_text) {
      on_text(" ", kNone);
    }
  }
}

}  // namespace

std::string osis_plain_text(std::string_view markup) {
  std::string plain;
  plain.reserve(markup.size() / 2);
  bool pending_space = false;
  walk_osis(markup, [&](std::string_view text, const std::vector<std::string>&) {
    for (char c : text) {
      if (is_space(c)) {
        pending_space = true;
        continue;
      }
      if (pending_space && !plain.empty()) plain += ' ';
      pending_space = false;
      plain += c;
    }
  });
  return plain;
}

std::vector<StrongsWord> osis_strongs_words(std::string_view markup) {
  std::vector<StrongsWord> words;
  bool in_word = false;
  walk_osis(markup, [&](std::string_view text, const std::vector<std::string>& strongs) {
    for (char c : text) {
      if (is_space(c)) {
        in_word = false;
        continue;
      }
      if (!in_word) words.emplace_back();
      in_word = true;
      StrongsWord& word = words.back();
      word.text += c;
      for (const std::string& number : strongs) {
        if (std::find(word.strongs.begin(), word.strongs.end(), number) == word.strongs.end()) {
          word.strongs.push_back(number);
        }
      }
    }
  });
  return words;
}

std::vector<std::string> osis_strongs_numbers(std::string_view markup) {
  std::vector<std::string> numbers;
  walk_osis(markup, nullptr, &numbers);
  std::sort(numbers.begin(), numbers.end());
  numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
  return numbers;
}

}  // namespace attn::data
