#!/usr/bin/env python3
"""Writes src/text/bert_unicode_tables.inc, the character tables behind
attn::text::WordPieceTokenizer, by probing Hugging Face's `tokenizers` package itself.

The fast BERT tokenizer (the Rust crate inside `tokenizers`) reads three Unicode sources of
different ages: Rust's standard library (char::is_whitespace, char::to_lowercase), the
`unicode_categories` crate (control and punctuation categories, nonspacing marks) and the
`unicode-normalization-alignments` crate (NFD). They disagree with Python's unicodedata and
with each other: unicode_categories has the tables of an older Unicode, so clean_text keeps
a newer format character (U+0890, U+110CD), a newer punctuation mark (U+2E43, a dash of
Unicode 9; U+061D) is not split off, and its "other" category leaves out unassigned code
points (Cn), which clean_text therefore keeps. So nothing here comes from a Unicode database; every table is
what the package does to each code point U+0000..U+10FFFF (surrogates excepted):

  clean_text        removed (the crate's Cc, Cf and Co, U+0000, U+FFFD) or turned into a
                    space (whitespace, \\t \\n \\r)
  chinese chars     padded with spaces (fixed ranges in the crate; checked here)
  strip_accents     NFD, then nonspacing marks (Mn) dropped. NFD reorders combining marks
                    across code point boundaries (a mark of class 226 before one of class 216
                    swaps with it), and some marks that survive (Mc, or Mn too new for
                    unicode_categories) have a combining class, so a per-code-point table
                    would not be exact. The tables hold what the step needs instead: the
                    canonical decompositions (Hangul syllables excepted: the C++ decomposes
                    them arithmetically, checked here), the canonical combining classes the
                    NFD reorders by, and the set of dropped marks.
  lowercase         char::to_lowercase, one code point at a time (no Final_Sigma rule)
  BertPreTokenizer  whitespace (split and dropped) and punctuation (isolated)

BertNormalizer runs clean_text, then chinese chars, then strip_accents (which defaults to
`lowercase` when null), then lowercase; lowercasing after stripping is per code point, so the
two tables compose. The script checks all of this: at the end it replays the tables in Python
on thousands of random strings for every combination of the four flags and compares with
the package.

Usage, from the repository root:
  python3 tools/make_bert_unicode_tables.py [--out src/text/bert_unicode_tables.inc]
"""

import argparse
import pathlib
import random
import sys
import unicodedata

import tokenizers
from tokenizers import normalizers, pre_tokenizers

EXPECTED_VERSION = "0.23.3"
BATCH = 4096
# A separator no step changes and that splits nothing: CJK U+4E00 for the normalizer steps
# (a starter, so NFD never reorders across it), 'a' where the CJK padding must not fire.
CJK_SEPARATOR = "\u4e00"
LETTER_SEPARATOR = "a"
HANGUL_FIRST, HANGUL_COUNT = 0xAC00, 11172

# The crate's is_chinese_char: the CJK Unified Ideographs blocks BERT's original code named
# (not kana, not Hangul), fixed in its source rather than read from a Unicode table.
CHINESE_RANGES = [(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF),
                  (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0x2F800, 0x2FA1F)]


def all_code_points():
    return [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]


def batches(items):
    for start in range(0, len(items), BATCH):
        yield items[start:start + BATCH]


def bert_normalizer(clean_text=False, chinese=False, strip_accents=False, lowercase=False):
    return normalizers.BertNormalizer(clean_text=clean_text, handle_chinese_chars=chinese,
                                      strip_accents=strip_accents, lowercase=lowercase)


def probe_mapping(normalize, code_points, separator):
    """{code point: normalize(chr(code point))}, batched: the code points are joined with a
    separator and the result split on it; a batch whose pieces do not line up (a result that
    contains the separator) is redone one code point at a time."""
    results = {}
    for batch in batches(code_points):
        joined = separator + separator.join(chr(cp) for cp in batch) + separator
        pieces = normalize(joined).split(separator)
        if len(pieces) == len(batch) + 2 and pieces[0] == "" and pieces[-1] == "":
            results.update(zip(batch, pieces[1:-1]))
        else:
            results.update((cp, normalize(chr(cp))) for cp in batch)
    return results


def probe_pre_tokenizer(code_points):
    """{code point: 'whitespace' | 'punctuation' | 'other'} from BertPreTokenizer, reading
    where each code point lands in the splits of "a X a Y a ..." (offsets are in code
    points)."""
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    kinds = {}
    for batch in batches(code_points):
        text = LETTER_SEPARATOR + LETTER_SEPARATOR.join(chr(cp) for cp in batch) + LETTER_SEPARATOR
        covering = {}
        for _, (start, end) in pre_tokenizer.pre_tokenize_str(text):
            for position in range(start, end):
                covering[position] = (start, end)
        for index, cp in enumerate(batch):
            position = 2 * index + 1
            if position not in covering:
                kinds[cp] = "whitespace"
            elif covering[position] == (position, position + 1):
                kinds[cp] = "punctuation"
            else:
                kinds[cp] = "other"
    return kinds


def probe_nonzero_combining_class(stable_code_points):
    """The NFD-stable code points that NFD reorders, i.e. whose canonical combining class in
    the crate is not 0: "一 R X" becomes "一 X R" when 0 < ccc(X) < ccc(R). R = U+0345 (240,
    the highest class) finds every class below 240; "一 X U+0301" finds 240 itself."""
    nfd = normalizers.NFD().normalize_str
    found = set()
    for reference, reference_first in (("\u0345", True), ("\u0301", False)):
        for batch in batches(stable_code_points):
            segments = [reference + chr(cp) if reference_first else chr(cp) + reference for cp in batch]
            pieces = nfd(CJK_SEPARATOR + CJK_SEPARATOR.join(segments) + CJK_SEPARATOR).split(CJK_SEPARATOR)
            if len(pieces) != len(batch) + 2:
                pieces = [""] + [nfd(segment) for segment in segments] + [""]
            for cp, segment, piece in zip(batch, segments, pieces[1:-1]):
                if piece != segment and cp != ord(reference):
                    found.add(cp)
    return found


def combining_classes(nonzero):
    """The class of each code point the crate reorders. Classes never change once assigned,
    so Python's unicodedata (Unicode 14, newer than the crate) gives the value; the probe
    below checks the ordering it implies."""
    classes = {}
    for cp in sorted(nonzero):
        value = unicodedata.combining(chr(cp))
        if value == 0:
            sys.exit(f"U+{cp:04X}: the crate reorders it but Python gives class 0")
        classes[cp] = value
    return classes


def hangul_decomposition(cp):
    index = cp - HANGUL_FIRST
    lead, vowel, trail = 0x1100 + index // 588, 0x1161 + (index % 588) // 28, 0x11A7 + index % 28
    return [lead, vowel] + ([trail] if trail != 0x11A7 else [])


def ranges_of(code_points):
    ranges = []
    for cp in sorted(code_points):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        elif ranges and ranges[-1][1] < cp - 1 and all(0xD800 <= gap <= 0xDFFF for gap in range(ranges[-1][1] + 1, cp)):
            ranges[-1][1] = cp  # a range may run over the surrogates, which never occur
        else:
            ranges.append([cp, cp])
    return [tuple(item) for item in ranges]


def lowercase_runs(mapping):
    """One-to-one lowercase mappings as runs (first, last, delta, stride): every stride-th
    code point from first to last maps to itself + delta."""
    runs = []
    for cp in sorted(mapping):
        delta = mapping[cp] - cp
        if runs:
            first, last, run_delta, stride = runs[-1]
            gap = cp - last
            if run_delta == delta and (first == last and gap in (1, 2) or gap == stride):
                runs[-1] = (first, cp, delta, gap)
                continue
        runs.append((cp, cp, delta, 1))
    return runs


class Tables:
    def __init__(self):
        code_points = all_code_points()
        print("probing clean_text ...", file=sys.stderr)
        cleaned = probe_mapping(bert_normalizer(clean_text=True).normalize_str, code_points, LETTER_SEPARATOR)
        self.removed = [cp for cp in code_points if cleaned[cp] == ""]
        self.clean_whitespace = [cp for cp in code_points if cleaned[cp] == " " and cp != 0x20]
        unexpected = [cp for cp in code_points if cleaned[cp] not in ("", " ", chr(cp))]
        assert not unexpected, f"clean_text maps {unexpected[:5]} to something else"

        print("probing chinese chars ...", file=sys.stderr)
        padded = probe_mapping(bert_normalizer(chinese=True).normalize_str, code_points, LETTER_SEPARATOR)
        self.chinese = [cp for cp in code_points if padded[cp] == f" {chr(cp)} "]
        chinese = set(self.chinese)
        assert all(padded[cp] == chr(cp) for cp in code_points if cp not in chinese)
        assert self.chinese == sorted(cp for first, last in CHINESE_RANGES for cp in range(first, last + 1))

        print("probing NFD and strip_accents ...", file=sys.stderr)
        nfd = probe_mapping(normalizers.NFD().normalize_str, code_points, CJK_SEPARATOR)
        stripped = probe_mapping(bert_normalizer(strip_accents=True).normalize_str, code_points, CJK_SEPARATOR)
        self.decompositions = {cp: [ord(c) for c in nfd[cp]] for cp in code_points if nfd[cp] != chr(cp)}
        for cp in range(HANGUL_FIRST, HANGUL_FIRST + HANGUL_COUNT):
            assert self.decompositions.pop(cp) == hangul_decomposition(cp), f"U+{cp:04X}"
        stable = [cp for cp in code_points if nfd[cp] == chr(cp)]
        self.nonspacing = [cp for cp in stable if stripped[cp] == ""]
        marks = set(self.nonspacing)
        for cp in code_points:
            expected = "".join(c for c in nfd[cp] if ord(c) not in marks)
            assert stripped[cp] == expected, f"U+{cp:04X}: strip_accents is not NFD minus the marks"
        self.combining = combining_classes(probe_nonzero_combining_class(stable))

        print("probing lowercase ...", file=sys.stderr)
        lowered = probe_mapping(bert_normalizer(lowercase=True).normalize_str, code_points, CJK_SEPARATOR)
        self.lowercase_single = {cp: ord(lowered[cp]) for cp in code_points
                                 if lowered[cp] != chr(cp) and len(lowered[cp]) == 1}
        self.lowercase_multiple = {cp: [ord(c) for c in lowered[cp]] for cp in code_points
                                   if len(lowered[cp]) > 1}

        print("probing BertPreTokenizer ...", file=sys.stderr)
        kinds = probe_pre_tokenizer(code_points)
        self.split_whitespace = [cp for cp in code_points if kinds[cp] == "whitespace"]
        self.punctuation = [cp for cp in code_points if kinds[cp] == "punctuation"]
        self.sets = {name: set(getattr(self, name)) for name in
                     ("removed", "clean_whitespace", "chinese", "nonspacing", "split_whitespace", "punctuation")}

    # ---- the same pipeline in Python, to check the tables against the package ----

    def normalize(self, text, clean_text, chinese, strip_accents, lowercase):
        removed, whitespace, chinese_set = self.sets["removed"], self.sets["clean_whitespace"], self.sets["chinese"]
        marks = self.sets["nonspacing"]
        out = []
        for c in text:
            cp = ord(c)
            if clean_text and cp in removed:
                continue
            if clean_text and cp in whitespace:
                c = " "
            out.append(f" {c} " if chinese and ord(c) in chinese_set else c)
        code_points = [ord(c) for c in "".join(out)]
        if strip_accents if strip_accents is not None else lowercase:
            decomposed = []
            for cp in code_points:
                if HANGUL_FIRST <= cp < HANGUL_FIRST + HANGUL_COUNT:
                    decomposed += hangul_decomposition(cp)
                else:
                    decomposed += self.decompositions.get(cp, [cp])
            code_points = [cp for cp in self.reorder(decomposed) if cp not in marks]
        if lowercase:
            lowered = []
            for cp in code_points:
                lowered += self.lowercase_multiple.get(cp, [self.lowercase_single.get(cp, cp)])
            code_points = lowered
        return "".join(chr(cp) for cp in code_points)

    def reorder(self, code_points):
        result, run = [], []
        for cp in code_points + [None]:
            if cp is not None and self.combining.get(cp, 0) != 0:
                run.append(cp)
                continue
            result += sorted(run, key=lambda mark: self.combining[mark])
            run = []
            if cp is not None:
                result.append(cp)
        return result

    def pre_tokenize(self, text):
        whitespace, punctuation = self.sets["split_whitespace"], self.sets["punctuation"]
        words, word = [], ""
        for c in text:
            if ord(c) in whitespace or ord(c) in punctuation:
                if word:
                    words.append(word)
                word = ""
                if ord(c) in punctuation:
                    words.append(c)
            else:
                word += c
        return words + ([word] if word else [])


def random_strings(count, seed):
    """Mixed text: letters with stacks of combining marks (in every order), musical symbols
    with their stems and flags, Hangul, CJK, controls, spaces and random code points."""
    generator = random.Random(seed)
    marks = [0x300, 0x301, 0x316, 0x323, 0x327, 0x334, 0x345, 0x35C, 0x5B0, 0x93C, 0x94D,
             0x1D165, 0x1D166, 0x1D16D, 0x1D16E, 0x1D172, 0x302E, 0x302F, 0x16FF0, 0x1B44, 0x34F,
             0x1AB0, 0x1DF9, 0x10F46, 0x11D44]
    pools = [list(range(0x20, 0x7F)), list(range(0xC0, 0x250)), list(range(0x370, 0x400)),
             list(range(0x400, 0x530)), list(range(0x1D15E, 0x1D1C1)), list(range(0xAC00, 0xAC40)),
             list(range(0x4E00, 0x4E20)), list(range(0xF900, 0xF920)), list(range(0x1E00, 0x2000)),
             list(range(0x2000, 0x2070)), [0, 1, 9, 10, 13, 0x7F, 0x85, 0xA0, 0xAD, 0x3000, 0xFFFD, 0x200B, 0x200D],
             marks, list(range(0x1F300, 0x1FAFF))]
    strings = []
    for _ in range(count):
        chars = []
        for _ in range(generator.randint(0, 24)):
            if generator.random() < 0.1:
                cp = generator.randint(0, 0x10FFFF)
                cp = 0x20 if 0xD800 <= cp <= 0xDFFF else cp
            else:
                cp = generator.choice(generator.choice(pools))
            chars.append(chr(cp))
        strings.append("".join(chars))
    return strings


def check_against_package(tables):
    print("checking the tables against the package ...", file=sys.stderr)
    texts = random_strings(3000, seed=1234)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    for clean_text in (False, True):
        for chinese in (False, True):
            for strip_accents in (None, False, True):
                for lowercase in (False, True):
                    normalizer = bert_normalizer(clean_text, chinese, strip_accents, lowercase)
                    for text in texts:
                        expected = normalizer.normalize_str(text)
                        got = tables.normalize(text, clean_text, chinese, strip_accents, lowercase)
                        flags = (clean_text, chinese, strip_accents, lowercase)
                        assert got == expected, f"{flags} {text!r}: {got!r} != {expected!r}"
                        words = [word for word, _ in pre_tokenizer.pre_tokenize_str(expected)]
                        assert tables.pre_tokenize(expected) == words, f"{expected!r}"


def range_items(ranges):
    return [f"{{0x{first:X}, 0x{last:X}}}," for first, last in ranges]


def wrap(items, indent="    ", width=96):
    lines, line = [], indent
    for item in items:
        if len(line) + len(item) + 1 > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += item + " "
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines)


def sequence_item(cp, sequence):
    padded = sequence + [0] * (4 - len(sequence))
    assert len(sequence) <= 4
    return f"{{0x{cp:X}, {len(sequence)}, {{{', '.join(f'0x{c:X}' for c in padded)}}}}},"


# The lookups the C++ needs, emitted after the tables they read.
LOOKUPS = """
// The entry of a table of sorted, disjoint ranges [first, last] that holds c, or nullptr.
template <typename Range, std::size_t N>
const Range* range_holding(const Range (&table)[N], char32_t c) {
  const Range* after = std::upper_bound(
      std::begin(table), std::end(table), c,
      [](char32_t value, const Range& range) { return value < range.first; });
  return after != std::begin(table) && c <= (after - 1)->last ? after - 1 : nullptr;
}

template <std::size_t N>
bool in_ranges(const CodePointRange (&ranges)[N], char32_t c) {
  return range_holding(ranges, c) != nullptr;
}

template <std::size_t N>
const CodePointSequence* find_sequence(const CodePointSequence (&table)[N], char32_t c) {
  const CodePointSequence* found = std::lower_bound(
      std::begin(table), std::end(table), c,
      [](const CodePointSequence& entry, char32_t value) { return entry.code_point < value; });
  return found != std::end(table) && found->code_point == c ? found : nullptr;
}

int combining_class(char32_t c) {
  const CombiningClassRange* range = range_holding(kCanonicalCombiningClasses, c);
  return range == nullptr ? 0 : range->combining_class;
}

// Rust's char::to_lowercase.
void append_lowercase(char32_t c, std::u32string& out) {
  if (const CodePointSequence* expansion = find_sequence(kLowercaseExpansions, c)) {
    out.append(expansion->sequence, expansion->length);
    return;
  }
  const LowercaseRun* run = range_holding(kLowercaseRuns, c);
  const bool maps = run != nullptr && (c - run->first) % char32_t(run->stride) == 0;
  out.push_back(maps ? char32_t(std::int32_t(c) + run->delta) : c);
}

// Hangul syllables decompose by arithmetic (Unicode's algorithm), which the table omits.
constexpr char32_t kHangulFirst = 0xAC00, kHangulCount = 11172;

// The full canonical decomposition of one code point (NFD without the reordering).
void append_canonical_decomposition(char32_t c, std::u32string& out) {
  if (c >= kHangulFirst && c < kHangulFirst + kHangulCount) {
    const char32_t index = c - kHangulFirst;
    out.push_back(0x1100 + index / 588);
    out.push_back(0x1161 + (index % 588) / 28);
    if (index % 28 != 0) out.push_back(0x11A7 + index % 28);
    return;
  }
  const CodePointSequence* decomposition = find_sequence(kCanonicalDecompositions, c);
  if (decomposition == nullptr) {
    out.push_back(c);
  } else {
    out.append(decomposition->sequence, decomposition->length);
  }
}
"""


def source(tables):
    combining_runs = []
    for cp, value in sorted(tables.combining.items()):
        if combining_runs and combining_runs[-1][1] == cp - 1 and combining_runs[-1][2] == value:
            combining_runs[-1][1] = cp
        else:
            combining_runs.append([cp, cp, value])
    sections = [
        ("kCleanTextRemoved", "CodePointRange",
         "clean_text removes these: U+0000, U+FFFD and the crate's categories Cc, Cf and Co (\\t \\n\n"
         "// \\r excepted). Its tables are older than Python's, and unassigned code points are kept.",
         range_items(ranges_of(tables.removed))),
        ("kCleanTextWhitespace", "CodePointRange",
         "clean_text turns these into U+0020 (char::is_whitespace, and \\t \\n \\r).",
         range_items(ranges_of(tables.clean_whitespace))),
        ("kChineseCharacters", "CodePointRange",
         "handle_chinese_chars puts a space on each side of these (the crate's fixed ranges).",
         range_items(ranges_of(tables.chinese))),
        ("kCanonicalDecompositions", "CodePointSequence",
         "NFD's full canonical decompositions, sorted; Hangul syllables are decomposed\n"
         "// arithmetically instead.",
         [sequence_item(cp, seq) for cp, seq in sorted(tables.decompositions.items())]),
        ("kCanonicalCombiningClasses", "CombiningClassRange",
         "The nonzero canonical combining classes that NFD reorders marks by.",
         [f"{{0x{f:X}, 0x{l:X}, {v}}}," for f, l, v in combining_runs]),
        ("kNonspacingMarks", "CodePointRange",
         "strip_accents drops these after NFD (the crate's Mn category).",
         range_items(ranges_of(tables.nonspacing))),
        ("kLowercaseRuns", "LowercaseRun",
         "char::to_lowercase where it gives one code point: first..last, every stride-th,\n"
         "// maps to code point + delta.",
         [f"{{0x{f:X}, 0x{l:X}, {d}, {s}}}," for f, l, d, s in lowercase_runs(tables.lowercase_single)]),
        ("kLowercaseExpansions", "CodePointSequence",
         "char::to_lowercase where it gives several code points.",
         [sequence_item(cp, seq) for cp, seq in sorted(tables.lowercase_multiple.items())]),
        ("kPreTokenizerWhitespace", "CodePointRange",
         "BertPreTokenizer splits at these and drops them (char::is_whitespace).",
         range_items(ranges_of(tables.split_whitespace))),
        ("kPreTokenizerPunctuation", "CodePointRange",
         "BertPreTokenizer makes each of these a word of its own (ASCII punctuation and the\n"
         "// crate's P* categories).",
         range_items(ranges_of(tables.punctuation))),
    ]
    parts = [f"""// Generated by tools/make_bert_unicode_tables.py from tokenizers {tokenizers.__version__}
// (python3 tools/make_bert_unicode_tables.py --out src/text/bert_unicode_tables.inc);
// do not edit. What the fast BERT tokenizer does to each code point, probed from the package
// (see the script for why not from a Unicode database), and the lookups over the tables.
// src/text/wordpiece.cpp includes it inside an unnamed namespace, after <algorithm>,
// <cstdint>, <iterator> and <string>. Every table is sorted by code point.

struct CodePointRange {{
  char32_t first, last;
}};

// A code point and what it becomes: `length` code points of `sequence`.
struct CodePointSequence {{
  char32_t code_point;
  std::uint8_t length;
  char32_t sequence[4];
}};

struct CombiningClassRange {{
  char32_t first, last;
  std::uint8_t combining_class;
}};

// Code points first..last, every stride-th one, lowercase to code point + delta.
struct LowercaseRun {{
  char32_t first, last;
  std::int32_t delta, stride;
}};
"""]
    for name, kind, comment, items in sections:
        parts.append(f"\n// {comment}\nconstexpr {kind} {name}[] = {{\n{wrap(items)}\n}};\n")
    parts.append(LOOKUPS)
    return "".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = pathlib.Path(__file__).resolve().parent.parent
    parser.add_argument("--out", default=str(root / "src" / "text" / "bert_unicode_tables.inc"))
    arguments = parser.parse_args()
    if tokenizers.__version__ != EXPECTED_VERSION:
        print(f"warning: tokenizers {tokenizers.__version__}, the tables were made with {EXPECTED_VERSION}",
              file=sys.stderr)
    tables = Tables()
    check_against_package(tables)
    pathlib.Path(arguments.out).write_text(source(tables), encoding="utf-8")
    print(arguments.out)


if __name__ == "__main__":
    main()
