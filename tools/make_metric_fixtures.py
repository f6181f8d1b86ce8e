#!/usr/bin/env python3
"""Writes the metric parity fixtures, tests/fixtures/metrics/*.json, from sacreBLEU.

attn::metrics reimplements sacreBLEU's BLEU, chrF and chrF++; these fixtures hold the
values sacreBLEU itself computes, so that the C++ tests compare against them without
needing Python.

  sacrebleu_cases.json   corpus-level BLEU / chrF / chrF++ (score and components) and
                         per-line sentence BLEU / chrF for varied cases (unicode,
                         punctuation, numbers, hyphens, empty lines, identical text, no
                         overlap, several references, lowercase, smoothing variants)
  text_processing.json   the 13a tokenizer on hand-picked and random strings, and
                         Python's str.lower() (which sacreBLEU's lowercase option uses)

Both files record the sacreBLEU, Python and Unicode versions they were made with.

With --unicode-tables PATH the script also writes the C++ tables behind
attn::metrics::unicode (src/metrics/unicode_tables.cpp): Python's str.lower() mapping,
its Final_Sigma context sets and its whitespace set, so that lowercasing and splitting
match the Python that sacreBLEU runs on.

Usage, from the repository root:
  python3 tools/make_metric_fixtures.py [--out DIR] [--unicode-tables src/metrics/unicode_tables.cpp]
"""

import argparse
import json
import os
import random
import sys
import unicodedata

import sacrebleu
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

# ---- the corpus cases ----------------------------------------------------------------

SPANISH_HYPS = [
    "En el principio creó Dios los cielos y la tierra.",
    "Y la tierra estaba desordenada y vacía, y las tinieblas estaban sobre la faz del abismo.",
    "¿Quién es éste? ¡Señor, sálvanos!",
    "Él dijo: «Sea la luz», y fué la luz.",
]
SPANISH_REFS = [
    "En el principio crió Dios los cielos y la tierra.",
    "Y la tierra estaba desadornada y vacía, y las tinieblas estaban sobre la haz del abismo.",
    "¿Quién es este? ¡Señor, sálvanos, que perecemos!",
    "Y dijo Dios: «Sea la luz»; y fué la luz.",
]

MIXED_UNICODE_HYPS = [
    "Ο λόγος ήταν στην αρχή, ΟΔΟΣ ΣΟΦΙΑΣ.",
    "Привет, мир! Как дела?",
    "東京は日本の首都です。",
    "Straße, Fußball und Maß — naïve café 🙂 résumé",
    "e\u0301cole (combining acute) versus école",
    "emoji 👍🏽 and 🇪🇸 flags",
]
MIXED_UNICODE_REFS = [
    "Ο λόγος ήταν στην αρχή, ΟΔΟΣ ΣΟΦΊΑΣ.",
    "Привет, мир! Как у тебя дела?",
    "東京は日本の首都である。",
    "Strasse, Fußball und Maß – naive café 🙂 resume",
    "école (combining acute) versus école",
    "emoji 👍 and 🇪🇸 flags",
]

NUMBER_HYPS = [
    "The price rose 1,000.50 dollars (3.5%) on 12-3-2020, didn't it?",
    "Version 2.0.1 costs $4.99, or 5,00 euros.",
    "Call 555-1234 at 10:30 a.m. or 3.15 p.m.",
    "Pi is 3.14159. E is 2.71828... roughly.",
    "Items: 1. apples, 2. pears, 3.oranges,4 lemons",
]
NUMBER_REFS = [
    "The price rose 1,000.50 dollars (3.5 %) on 12-3-2020, did it not?",
    "Version 2.0.1 costs $4.99 or 5,00 euros.",
    "Call 555-1234 at 10:30 a.m. or 3:15 p.m.",
    "Pi is 3.14159 and e is 2.71828... roughly.",
    "Items: 1. apples, 2. pears, 3. oranges, 4 lemons",
]

ENTITY_HYPS = [
    "He said &quot;hello&quot; &amp; left &lt;quickly&gt;.",
    "<skipped> The rest &amp;quot; stays.",
    "Tags <b>bold</b> and {braces} [brackets] `ticks` ~tilde^ |pipe| \\back\\",
    "A&B; C&D #hash @at *star* +plus= _under_",
]
ENTITY_REFS = [
    "He said \"hello\" & left <quickly>.",
    "The rest &quot; stays.",
    "Tags <b>bold</b> and {braces} [brackets] `ticks` ~tilde^ |pipe| \\back\\",
    "A&B; C&D #hash @at *star* +plus = _under_",
]

HYPHEN_HYPS = [
    "A state-of-the-art model, well-known and long-lived.",
    "Pages 10-20 and 30--40 - see also 5-",
    "The -- dash and the — em dash — differ.",
    "co-operate re-enter e-mail x-ray 2-for-1",
]
HYPHEN_REFS = [
    "A state of the art model, well known and long-lived.",
    "Pages 10-20 and 30-40 - see also 5-",
    "The -- dash and the — em dash — differ.",
    "cooperate re-enter email x-ray 2-for-1",
]

WHITESPACE_HYPS = [
    "tabs\tbetween\twords",
    "  leading and trailing spaces   ",
    "non\u00a0breaking\u00a0space and ideographic\u3000space",
    "line with \u2003em space and \u200bzero width",
    "carriage return at the end\r",
]
WHITESPACE_REFS = [
    "tabs between words",
    "leading and trailing spaces",
    "non breaking space and ideographic space",
    "line with em space and zero width",
    "carriage return at the end",
]

LOWERCASE_HYPS = [
    "THE QUICK BROWN FOX Jumps Over The Lazy Dog.",
    "ΟΔΟΣ ΣΟΦΙΑΣ ΚΑΙ ΛΟΓΟΣ. ΣΑΣ Σ.",
    "İSTANBUL and IĞDIR are in TÜRKİYE.",
    "ÉL DIJO: ¡ÑANDÚ! ÁRBOL ÜBER",
    "Straße STRASSE ǅemal ǄEMAL",
]
LOWERCASE_REFS = [
    "the quick brown fox jumps over the lazy dog.",
    "οδος σοφιας και λογος. σας σ.",
    "istanbul and iğdir are in türkiye.",
    "él dijo: ¡ñandú! árbol über",
    "strasse straße džemal džemal",
]


def random_corpus(seed, num_lines):
    """Sentences from a small vocabulary; hypotheses are references with edits."""
    rng = random.Random(seed)
    words = ("the a of and to in is was he she it they said unto Lord God people land "
             "house day night came went saw heard 1,000 3.5 well-known don't (see) "
             "\"quoted\" end. yes, no! why?").split()
    hyps, refs = [], []
    for _ in range(num_lines):
        ref = [rng.choice(words) for _ in range(rng.randint(0, 25))]
        hyp = list(ref)
        for _ in range(rng.randint(0, 6)):
            action = rng.random()
            if action < 0.4 and hyp:
                hyp[rng.randrange(len(hyp))] = rng.choice(words)
            elif action < 0.7 and hyp:
                del hyp[rng.randrange(len(hyp))]
            else:
                hyp.insert(rng.randint(0, len(hyp)), rng.choice(words))
        hyps.append(" ".join(hyp))
        refs.append(" ".join(ref))
    return hyps, refs


def corpus_cases():
    """(name, hypotheses, reference streams, options) for every corpus-level case."""
    random_hyps, random_refs = random_corpus(seed=4, num_lines=150)
    alt_refs = [
        "The cat is sitting on the mat.",
        "A quick brown dog jumped.",
        "It rained all day long in the city.",
    ]
    return [
        ("simple", ["The cat sat on the mat.", "It is raining today.", "I like green apples."],
         [["The cat is on the mat.", "It rains today.", "I like red apples very much."]], {}),
        ("identical", SPANISH_REFS, [SPANISH_REFS], {}),
        ("no_overlap", ["alpha beta gamma delta", "epsilon zeta"],
         [["one two three four five", "six seven eight"]], {}),
        ("empty_hypothesis_lines", ["", "The cat sat on the mat.", "", "a b c d e f"],
         [["Nothing here.", "The cat sat on the mat.", "Something else.", "a b c d e g"]], {}),
        ("all_hypotheses_empty", ["", "", ""], [["one line", "two lines here", "three"]], {}),
        ("empty_reference_line", ["some words here", "more words", "last"],
         [["some words there", "", "last"]], {}),
        ("short_segments", ["yes", "no way", "ok"], [["yes", "no way", "okay"]], {}),
        ("spanish", SPANISH_HYPS, [SPANISH_REFS], {}),
        ("mixed_unicode", MIXED_UNICODE_HYPS, [MIXED_UNICODE_REFS], {}),
        ("numbers_punctuation", NUMBER_HYPS, [NUMBER_REFS], {}),
        ("html_entities_and_symbols", ENTITY_HYPS, [ENTITY_REFS], {}),
        ("hyphens_and_dashes", HYPHEN_HYPS, [HYPHEN_REFS], {}),
        ("whitespace", WHITESPACE_HYPS, [WHITESPACE_REFS], {}),
        ("multiple_references",
         ["The cat sat on the mat.", "A fast brown dog jumped over it.", "It rained all day."],
         [["The cat sat on a mat.", "A fast brown dog jumped.", "It rained the whole day."],
          alt_refs,
          ["There is a cat on the mat today.", "The brown dog jumped over the fence quickly.",
           "Rain all day."]], {}),
        ("multiple_references_length_tie",
         # hypothesis of 4 tokens, references of 3 and 5 tokens: sacreBLEU picks the shorter
         ["a b c d", "w x y z"], [["a b c", "w x y"], ["a b c d e", "w x y z q"]], {}),
        ("lowercase", LOWERCASE_HYPS, [LOWERCASE_REFS], {"lowercase": True}),
        ("mixed_case_not_lowercased", LOWERCASE_HYPS, [LOWERCASE_REFS], {}),
        ("random_corpus", random_hyps, [random_refs], {}),
        ("random_corpus_lowercase", random_hyps, [[r.upper() for r in random_refs]],
         {"lowercase": True}),
        ("smooth_none", NUMBER_HYPS[:3], [NUMBER_REFS[:3]], {"bleu": {"smooth_method": "none"}}),
        ("smooth_floor", ["a b c x y", "p q"], [["a b c d e", "p r"]],
         {"bleu": {"smooth_method": "floor"}}),
        ("smooth_floor_value", ["a b c x y", "p q"], [["a b c d e", "p r"]],
         {"bleu": {"smooth_method": "floor", "smooth_value": 0.25}}),
        ("smooth_add_k", ["a b c x y", "p q"], [["a b c d e", "p r"]],
         {"bleu": {"smooth_method": "add-k"}}),
        ("tokenize_none", ["Hello , world !", "a-b 1,000 ."], [["Hello, world !", "a-b 1,000 ."]],
         {"bleu": {"tokenize": "none"}}),
        ("effective_order", ["a b", "c d e"], [["a b", "c d f"]],
         {"bleu": {"effective_order": True}}),
        ("chrf_whitespace_and_eps", SPANISH_HYPS, [SPANISH_REFS],
         {"chrf": {"whitespace": True, "eps_smoothing": True}}),
        ("chrf_beta_1", NUMBER_HYPS, [NUMBER_REFS], {"chrf": {"beta": 1}}),
    ]


def bleu_result(score, metric):
    return {
        "score": score.score,
        "counts": list(score.counts),
        "totals": list(score.totals),
        "precisions": list(score.precisions),
        "bp": score.bp,
        "sys_len": score.sys_len,
        "ref_len": score.ref_len,
        "signature": str(metric.get_signature()),
        "formatted": score.format(signature=""),
    }


def chrf_result(score, metric):
    return {"name": score.name, "score": score.score, "signature": str(metric.get_signature())}


def make_case(name, hyps, refs, options):
    lowercase = options.get("lowercase", False)
    bleu_options = options.get("bleu", {})
    chrf_options = options.get("chrf", {})
    bleu = BLEU(lowercase=lowercase, **bleu_options)
    chrf = CHRF(lowercase=lowercase, **chrf_options)
    chrf_plus = CHRF(lowercase=lowercase, word_order=2, **chrf_options)
    case = {
        "name": name,
        "hypotheses": hyps,
        "references": refs,
        "lowercase": lowercase,
        "bleu_options": bleu_options,
        "chrf_options": chrf_options,
        "bleu": bleu_result(bleu.corpus_score(hyps, refs), bleu),
        "chrf": chrf_result(chrf.corpus_score(hyps, refs), chrf),
        "chrf++": chrf_result(chrf_plus.corpus_score(hyps, refs), chrf_plus),
    }
    if len(hyps) <= 20:
        # sacrebleu.sentence_bleu's defaults: effective order on
        sentence_bleu = BLEU(lowercase=lowercase, effective_order=True,
                             **{k: v for k, v in bleu_options.items() if k != "effective_order"})
        case["sentence_bleu"] = [
            sentence_bleu.sentence_score(h, [r[i] for r in refs]).score for i, h in enumerate(hyps)]
        case["sentence_chrf"] = [
            chrf.sentence_score(h, [r[i] for r in refs]).score for i, h in enumerate(hyps)]
    return case


# ---- tokenizer and lowercase strings -------------------------------------------------

TOKENIZER_STRINGS = [
    "Hello, world!", "1,000.50", "3.14.", "a-b", "10-20", "x10-y", "&quot;hi&quot;",
    "&amp;quot;", "&lt;tag&gt;", "<skipped>gone", "line-\nbreak", "two\nlines", "end.",
    ".start", ",", "..", "a..b", "1..2", "a,,b", "1,,2", "a.1", "1.a", ".5", "5.", "e.g.",
    "U.S.A.", "don't", "rock'n'roll", "$5", "50%", "a/b", "a\\b", "(x)", "{y}", "[z]",
    "@home #tag", "a+b=c", "a*b", "~x^y_z`", "|pipe|", "\"q\"", "a;b:c", "?!", "",
    " ", "\t", "  spaced   out  ", "9-", "-9", "--", "1-2-3", "1.-2", "é.", "ü,x", "東京。",
    "Ⅻ.", "٣.٣", "\u00a0.\u00a0", "a\u3000b", "tab\tsep", "nbsp\u00a0sep", "x\u2028y",
]


def random_tokenizer_strings(seed, count):
    """Random strings over the characters the 13a rules treat specially."""
    rng = random.Random(seed)
    alphabet = list("0123456789.,-&;quotamplgtsk<>' \t\n!\"#$%()*+/:=?@[\\]^_`{|}~ab") + [
        "é", "ß", "\u00a0", "\u3000", "&quot;", "&amp;", "&lt;", "&gt;", "<skipped>", "-\n",
        "٣", "東"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(count)]


LOWERCASE_STRINGS = [
    "HELLO World", "ΟΔΟΣ", "ΣΑΣ Σ", "Σ", "ΑΣ.", "ΑΣ'Β", "ΑΣ\u0301", "Α\u0301Σ", "Α'Σ", "ΑΣ1",
    "ΑΣΑ", "ΑΣ Α", "'Σ", "1Σ", "ΣΣΣ", "İstanbul", "I\u0307", "ǅǄǆ", "ÀÉÎÕÜÑ", "ẞ", "Ω K Å",
    "АБВГД", "ԱԲԳ", "ＡＢＣ", "𐐀𐐁", "Ⅻ", "Ⓐ", "x\u0345Σ", "ʰΣ",
]


def random_lowercase_strings(seed, count):
    """Random strings around the Final_Sigma rule: cased letters, case-ignorable marks."""
    rng = random.Random(seed)
    alphabet = ["Σ", "σ", "ς", "Α", "α", "A", "a", " ", ".", "'", ":", "\u0301", "\u0345",
                "ʰ", "1", "-", "İ", "\u00ad", "\u200d", "Ǆ", "ǅ", "ß", "ẞ"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(count)]


def all_lowercase_mappings_string():
    """Every code point that str.lower() changes, space-separated (so no sigma context)."""
    return " ".join(chr(cp) for cp in range(0x110000)
                    if not 0xD800 <= cp <= 0xDFFF and chr(cp).lower() != chr(cp))


def text_processing():
    tokenizer = Tokenizer13a()
    tokenizer_inputs = TOKENIZER_STRINGS + random_tokenizer_strings(seed=13, count=400)
    lowercase_inputs = (LOWERCASE_STRINGS + random_lowercase_strings(seed=7, count=400)
                        + [all_lowercase_mappings_string()])
    whitespace = [cp for cp in range(0x110000) if chr(cp).isspace()]
    return {
        "tokenize_13a": [[line, tokenizer(line)] for line in tokenizer_inputs],
        "lowercase": [[line, line.lower()] for line in lowercase_inputs],
        "whitespace_code_points": whitespace,
    }


# ---- the C++ Unicode tables ----------------------------------------------------------

def lowercase_runs():
    """Runs (first, last, delta, stride): cp in [first, last], (cp - first) % stride == 0
    lowers to cp + delta. Python's str.lower() maps one code point to one, except U+0130,
    which the C++ code special-cases (it gives 'i' + U+0307)."""
    runs = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or cp == 0x130:
            continue
        lowered = chr(cp).lower()
        if lowered == chr(cp):
            continue
        assert len(lowered) == 1, hex(cp)
        delta = ord(lowered) - cp
        if runs:
            first, last, run_delta, stride = runs[-1]
            if run_delta == delta and stride == 0 and cp - last in (1, 2):
                runs[-1] = (first, cp, delta, cp - last)
                continue
            if run_delta == delta and stride and cp == last + stride:
                runs[-1] = (first, cp, delta, stride)
                continue
        runs.append((cp, cp, delta, 0))
    return [(first, last, delta, stride or 1) for first, last, delta, stride in runs]


def sigma_context_sets():
    """Python's Final_Sigma rule reads two properties, Case_Ignorable and Cased. They are
    read off str.lower() itself: 'A' + c + 'Σ' ends in a final sigma when c is
    case-ignorable or cased; c + 'Σ' when c is cased and not case-ignorable. The rule
    only asks whether a character is cased after skipping case-ignorable ones, so the
    cased set below holds the cased characters that are not case-ignorable."""
    ignorable, cased = [], []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        if (c + "Σ").lower().endswith("ς"):
            cased.append(cp)
        elif ("A" + c + "Σ").lower().endswith("ς"):
            ignorable.append(cp)
    return to_ranges(ignorable), to_ranges(cased)


def to_ranges(code_points):
    ranges = []
    for cp in code_points:
        if ranges and ranges[-1][1] + 1 == cp:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return ranges


def format_rows(items, per_line):
    rows = []
    for start in range(0, len(items), per_line):
        rows.append("    " + " ".join(items[start:start + per_line]))
    return "\n".join(rows)


def unicode_tables_source():
    runs = lowercase_runs()
    ignorable, cased = sigma_context_sets()
    whitespace = [cp for cp in range(0x110000) if chr(cp).isspace()]
    run_items = [f"{{0x{f:X}, 0x{l:X}, {d}, {s}}}," for f, l, d, s in runs]
    ignorable_items = [f"{{0x{f:X}, 0x{l:X}}}," for f, l in ignorable]
    cased_items = [f"{{0x{f:X}, 0x{l:X}}}," for f, l in cased]
    space_items = [f"0x{cp:X}," for cp in whitespace]
    return f"""// Generated by tools/make_metric_fixtures.py --unicode-tables from Python {sys.version.split()[0]}
// (Unicode {unicodedata.unidata_version}); do not edit. The character properties declared in
// include/attn/metrics/unicode.h: str.lower()'s one-to-one mappings, the two properties its
// Final_Sigma rule reads, and str.isspace().
#include <algorithm>
#include <cstdint>
#include <iterator>

#include "attn/metrics/unicode.h"

namespace attn::metrics::unicode {{
namespace {{

// Code points first..last, every stride-th one, lower to code point + delta.
struct LowercaseRun {{
  char32_t first, last;
  std::int32_t delta, stride;
}};

struct CodePointRange {{
  char32_t first, last;
}};

const LowercaseRun kLowercaseRuns[] = {{
{format_rows(run_items, 3)}
}};

const CodePointRange kCaseIgnorableRanges[] = {{
{format_rows(ignorable_items, 4)}
}};

// Cased and not case-ignorable (the only question the Final_Sigma rule asks).
const CodePointRange kCasedRanges[] = {{
{format_rows(cased_items, 4)}
}};

const char32_t kWhitespace[] = {{
{format_rows(space_items, 8)}
}};

// The last entry whose first code point is <= c, or nullptr.
template <typename Entry, std::size_t Count>
const Entry* find_entry(const Entry (&table)[Count], char32_t c) {{
  auto after = std::upper_bound(std::begin(table), std::end(table), c,
                                [](char32_t value, const Entry& entry) {{ return value < entry.first; }});
  if (after == std::begin(table)) return nullptr;
  const Entry* entry = std::prev(after);
  return c <= entry->last ? entry : nullptr;
}}

}}  // namespace

char32_t simple_lowercase(char32_t c) {{
  const LowercaseRun* run = find_entry(kLowercaseRuns, c);
  if (run == nullptr || (c - run->first) % run->stride != 0) return c;
  return static_cast<char32_t>(static_cast<std::int32_t>(c) + run->delta);
}}

// Python's handle_capital_sigma: \\p{{Cased}} \\p{{Case_Ignorable}}* SIGMA !(\\p{{Case_Ignorable}}* \\p{{Cased}}).
bool in_final_sigma_context(std::u32string_view text, std::size_t index) {{
  std::size_t before = index;
  while (before > 0 && find_entry(kCaseIgnorableRanges, text[before - 1]) != nullptr) --before;
  if (before == 0 || find_entry(kCasedRanges, text[before - 1]) == nullptr) return false;
  std::size_t after = index + 1;
  while (after < text.size() && find_entry(kCaseIgnorableRanges, text[after]) != nullptr) ++after;
  return after == text.size() || find_entry(kCasedRanges, text[after]) == nullptr;
}}

bool is_space(char32_t c) {{
  return std::binary_search(std::begin(kWhitespace), std::end(kWhitespace), c);
}}

}}  // namespace attn::metrics::unicode
"""


# ---- main ----------------------------------------------------------------------------

def versions():
    return {
        "sacrebleu_version": sacrebleu.__version__,
        "python_version": sys.version.split()[0],
        "unicode_version": unicodedata.unidata_version,
    }


def write_json(path, content):
    with open(path, "w", encoding="utf-8") as stream:
        json.dump(content, stream, ensure_ascii=False, indent=1)
        stream.write("\n")
    print("wrote", path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="tests/fixtures/metrics")
    parser.add_argument("--unicode-tables", help="also write the C++ Unicode tables here")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    cases = [make_case(*case) for case in corpus_cases()]
    write_json(os.path.join(args.out, "sacrebleu_cases.json"), {**versions(), "cases": cases})
    write_json(os.path.join(args.out, "text_processing.json"), {**versions(), **text_processing()})
    if args.unicode_tables:
        with open(args.unicode_tables, "w", encoding="utf-8") as stream:
            stream.write(unicode_tables_source())
        print("wrote", args.unicode_tables)


if __name__ == "__main__":
    main()
