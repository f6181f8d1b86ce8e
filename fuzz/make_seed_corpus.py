#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzz targets: fuzz/corpus/<target>/<name>.

Run from anywhere: python3 fuzz/make_seed_corpus.py. The seeds are small, hand-made inputs
that reach the interesting parts of each parser (valid files of every kind, and a few
near-misses); libFuzzer mutates them. Needs only the Python standard library, so the
corpus can be rebuilt without PyTorch or the safetensors package.
"""
import json
import pathlib
import struct

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"
REPO = CORPUS.parent.parent


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    (folder / name).write_bytes(data)


# ---- safetensors -----------------------------------------------------------------------

def safetensors(tensors, metadata=None, pad=True):
    """tensors: name -> (dtype, shape, raw bytes), laid out in the given order."""
    header, data, offset = {}, b"", 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds():
    f32 = struct.pack("<6f", 1.0, -2.5, 0.0, 3.25, float("inf"), -0.0)
    f64 = struct.pack("<2d", 1e-300, -7.5)
    i64 = struct.pack("<3q", 0, -1, 2**62)
    bf16 = struct.pack("<4H", 0x3F80, 0xC000, 0x7F80, 0x0000)
    write("safetensors", "all_dtypes", safetensors({
        "weights.f64": ("F64", [2], f64),
        "weights.f32": ("F32", [2, 3], f32),
        "ids": ("I64", [3], i64),
        "half": ("BF16", [2, 2], bf16),
        "mask": ("BOOL", [4], bytes([1, 0, 1, 1])),
    }, {"format": "attn", "format_version": "1", "config": "{\"d_model\": 2}"}))
    write("safetensors", "scalar_and_empty", safetensors({
        "scalar": ("F32", [], struct.pack("<f", 42.0)),
        "empty": ("F32", [0, 5], b""),
    }))
    write("safetensors", "metadata_only", safetensors({}, {"step": "12", "training_state": "state-00000012.safetensors"}))
    write("safetensors", "unpadded_header", safetensors({"x": ("I64", [1], struct.pack("<q", 7))}, pad=False))
    write("safetensors", "half_precision", safetensors({"x": ("F16", [3], b"\0\x3c\x01\x00\x00\x7e")}))
    # Near misses: an unsupported dtype, offsets past the end, a header length past the end.
    write("safetensors", "unknown_dtype", safetensors({"x": ("I32", [1], b"\0\0\0\0")}))
    bad = safetensors({"x": ("F32", [2], struct.pack("<2f", 1, 2))})
    write("safetensors", "truncated_data", bad[:-3])
    write("safetensors", "huge_header_length", struct.pack("<Q", 2**40) + b"{}")

    def raw_header(text, data=b""):
        text = text.encode()
        return struct.pack("<Q", len(text)) + text + data
    # Element counts that overflow 64 bits, negative and fractional sizes, offsets that
    # overlap, leave gaps or run backwards, duplicate names, metadata that is not text.
    write("safetensors", "shape_overflow", raw_header(
        '{"x":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}'))
    write("safetensors", "negative_shape", raw_header(
        '{"x":{"dtype":"F32","shape":[-1,2],"data_offsets":[0,8]}}', b"\0" * 8))
    write("safetensors", "fractional_shape", raw_header(
        '{"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}', b"\0" * 4))
    write("safetensors", "overlapping", raw_header(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
        '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', b"\0" * 12))
    write("safetensors", "backwards_offsets", raw_header(
        '{"a":{"dtype":"I64","shape":[1],"data_offsets":[8,0]}}', b"\0" * 8))
    write("safetensors", "duplicate_names", raw_header(
        '{"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]},'
        '"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}', b"\1"))
    write("safetensors", "metadata_not_text", raw_header(
        '{"__metadata__":{"step":12,"nested":{"a":[1]}},"x":{"dtype":"BF16","shape":[],'
        '"data_offsets":[0,2]}}', b"\0\0"))
    write("safetensors", "not_an_object", raw_header('[1, 2, {"dtype": "F32"}]'))
    fixture = REPO / "tests" / "fixtures" / "io" / "python_written.safetensors"
    if fixture.exists():
        write("safetensors", "python_written", fixture.read_bytes())


# ---- configurations --------------------------------------------------------------------

def npy_seeds():
    def npy(descr, shape, data, version=b"\x01\x00"):
        header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
        header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
        return b"\x93NUMPY" + version + struct.pack("<H", len(header)) + header.encode() + data
    write("npy", "float32_matrix", npy("<f4", "(2, 3)", struct.pack("<6f", 1, -2, 0.5, 3, 4, 5)))
    write("npy", "float64_vector", npy("<f8", "(2,)", struct.pack("<2d", 1e-300, -7.5)))
    write("npy", "int64_scalar", npy("<i8", "()", struct.pack("<q", 7)))
    write("npy", "empty", npy("<f4", "(0, 384)", b""))
    # Near misses: big-endian, Fortran order, version 2, short data, a huge shape.
    write("npy", "big_endian", npy(">f4", "(1,)", b"\0\0\0\0"))
    write("npy", "fortran", npy("<f4", "(1,)", b"\0\0\0\0").replace(b"False", b"True "))
    write("npy", "version_2", npy("<f4", "(1,)", b"\0\0\0\0", b"\x02\x00"))
    write("npy", "short_data", npy("<f8", "(3,)", b"\0" * 16))
    write("npy", "huge_shape", npy("<f4", "(4294967296, 4294967296, 16)", b""))
    # Found by fuzzing: empty, but its strides would overflow.
    write("npy", "zero_extent_huge_strides", npy("<f4", "(0, 4294967296, 4294967296)", b""))


def wordpiece_seeds():
    """Byte 0 then a tokenizer.json, or a selector byte (bit 0: tokenizer, the rest:
    max_length) then text, a 0x00 byte separating a pair."""
    folder = REPO / "tests" / "fixtures" / "text" / "wordpiece"
    write("wordpiece", "cased_tokenizer_json", b"\0" + (folder / "cased" / "tokenizer.json").read_bytes())
    write("wordpiece", "variant_tokenizer_json", b"\0" + (folder / "variant.tokenizer.json").read_bytes())
    write("wordpiece", "english", b"\x01Hello, world! It's a naive cafe.")
    write("wordpiece", "accents_cjk_emoji", "\x02Ça va? Ελληνικά ΟΔΟΣ 東京 한국어 👍🏽 ＡＢＣ".encode())
    write("wordpiece", "controls", b"\x03a\x01b\x7fc\xc2\x85d\xe2\x80\x8be\xef\xbf\xbd")
    write("wordpiece", "pair_truncated", b"\x10the first sentence is long\0and the second")
    write("wordpiece", "special_tokens", b"\x01[CLS] hello [MASK] world [SEP]")
    write("wordpiece", "long_word", b"\x01" + b"a" * 150)
    write("wordpiece", "invalid_utf8", b"\x01bad \xff byte")


def config_seeds():
    for path in sorted((REPO / "configs").glob("*.toml")):
        write("config", path.stem, path.read_bytes())
    write("config", "overrides", "[task]\nkind = \"language_model\"\n[train]\nmax_steps = 3\n"
          "\n#overrides\ntrain.learning_rate=3e-4\nmodel.transformer.d_model=64\n"
          "data.context_length=[1, 2]\ntrain.optimizer=\"sgd\"\n")
    write("config", "types", "[train]\nmax_steps = 1.5\nlearning_rate = 1\nnesterov = \"yes\"\n"
          "seed = 9223372036854775807\n[model]\nunknown = [1, \"a\"]\n")
    write("config", "toml_syntax", "a = \"\\u00e9\\U0001F600\"\nb = 0x1F\nc = 1979-05-27T07:32:00Z\n"
          "[[d]]\ne = { f = [1.0, inf, nan] }\n'g' = '''multi\nline'''\n")
    # An override whose text is not UTF-8 (once written into a resolved configuration that
    # could not be read back).
    write("config", "override_not_utf8", b"[train]\nmax_steps = 3\n\n#overrides\n"
          b"model.transformer.activation=\xe7\xce\xc6\xc8gelu\ndata.books=Ruth,\xff\n")


# ---- tokenizer input -------------------------------------------------------------------

def tokenizer_seeds():
    # The first byte picks the tokenizer (0-4) or a vocabulary built from the text (5, 6).
    texts = {
        "english": "In the beginning God created the heaven and the earth.",
        "spanish": "«¿Qué es la verdad?», dijo Pilato; ñandú, pingüino.",
        "scripts": "Ελληνικά русский 日本語 😀 e\u0301 \u200b\ufeff",
        "punctuation": "It's--\"quoted\"... (10/10) #$%&*+=<>[]{}|~^\t\r\n",
        "controls": "a\x00b\x01c\x7f\u0085\u2028\u2029",
    }
    for index, (name, text) in enumerate(texts.items()):
        write("tokenizer", name, bytes([index]) + text.encode("utf-8"))
    write("tokenizer", "invalid_utf8", bytes([0]) + b"ok \xff \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82")
    write("tokenizer", "own_word_vocabulary", bytes([5]) + "the cat and THE Dog, the end.".encode())
    write("tokenizer", "own_char_vocabulary", bytes([6]) + "naïve café 日本".encode())


# ---- OSIS markup -----------------------------------------------------------------------

def osis_seeds():
    verses = [
        'In the <w lemma="strong:H7225">beginning</w> <w lemma="strong:H0430">God</w> '
        '<w lemma="strong:H1254">created</w> the heaven.',
        '<w lemma="strong:H7225">EN el principio</w> <w lemma="strong:H1254">crió</w>.',
        'that <transChange type="added">there was</transChange> a famine.<note placement="foot">'
        '<reference type="annotateRef">1.1 </reference>ruled: Heb. judged</note>',
        '<div type="x-milestone" subType="x-preverse" sID="pv1"/><title canonical="true" '
        'type="psalm">A Psalm of David.</title><l level="1" sID="g2"/>Hear me.<l eID="g2" level="1"/>',
        '<speaker>Beloved</speaker> <l level="1" sID="a"/>Let him kiss me &amp; &lt;&gt; &#233; &#x1F600;',
        '<w savlm="strong:G2424 strong:G5547">Jesus Christ</w>\u00b6 \\nd LORD\\nd* '
        '<divineName>Lord</divineName>',
        '<title>Heading</title>Text<div type="book" eID="x"/>Glossary after the end',
        '<w lemma="strong:H1"><w lemma="strong:H2">nested</w></w> <unclosed attr="x',
    ]
    for index, verse in enumerate(verses):
        write("osis", f"verse{index}", verse)
    markup = REPO / "data" / "bible" / "train.en.markup"
    if markup.exists():
        for index, line in enumerate(markup.read_text(encoding="utf-8").splitlines()[1000:1004]):
            write("osis", f"kjv{index}", line)


# ---- IMDB reviews ----------------------------------------------------------------------

def imdb_seeds():
    write("imdb", "review", "This movie was great!<br /><br />10/10, would watch again.\n")
    write("imdb", "whitespace", " \t\r\n  padded review \f\v\n\n")
    write("imdb", "empty", "")
    write("imdb", "blank", " \n\t ")
    write("imdb", "latin1", b"Caf\xe9 na\xefve \xe0 la mode")
    write("imdb", "mixed_invalid", "ok ".encode() + b"\xff\xfe" + "é 😀".encode() + b"\xed\xa0\x80\xf0\x9f")


# ---- line-oriented text files ----------------------------------------------------------

def text_files_seeds():
    write("text_files", "parallel", "uno dos\ntres\n\n====\none two\nthree\n\n====\nref one\nref two\nref three\n")
    write("text_files", "labelled", "0\tred apples\n1\tblue\tsky with a tab\n2\t\n10\tcrlf line\r\n")
    write("text_files", "bad_labels", "x\tno number\n-1\tnegative\n\tmissing\nno tab at all\n99999999999999999999\tbig\n")
    write("text_files", "no_final_newline", "a\r\r\nb\rc\n\nlast")
    write("text_files", "mismatched", "one\ntwo\n====\nuno\n")


# ---- serve API -------------------------------------------------------------------------

def serve_api_seeds():
    # The first byte picks the route: 0 translate, 1 classify, 2 generate, 3 models,
    # 4 health, 5 GET translate (405), 6 an unknown route, 7 DELETE classify (405).
    bodies = {
        "translate": (0, {"text": "uno dos", "method": "beam", "beam_size": 2, "max_length": 3,
                          "length_penalty": 0.6, "attention": True}),
        "translate_sample": (0, {"text": "tres", "model": "translation", "method": "sample",
                                 "temperature": 0.7, "top_k": 3, "top_p": 0.9, "seed": 7}),
        "classify": (1, {"text": "one two three", "attention": True}),
        "classify_wrong_model": (1, {"text": "one", "model": "translation"}),
        "generate": (2, {"text": "one", "method": "greedy", "max_length": 4}),
        "generate_empty": (2, {"text": " \t"}),
        "unknown_field": (2, {"text": "two", "temperature": "hot", "extra": [1, {"a": None}]}),
        "models": (3, None),
        "health": (4, None),
        "wrong_method": (5, None),
        "unknown_route": (6, {"text": "x"}),
        "delete": (7, None),
    }
    for name, (route, body) in bodies.items():
        text = "" if body is None else json.dumps(body, ensure_ascii=False)
        write("serve_api", name, bytes([route]) + text.encode("utf-8"))
    write("serve_api", "invalid_utf8", bytes([0]) + b'{"text": "d\xffos"}')
    write("serve_api", "malformed_json", bytes([1]) + b'{"text": "a",,}')
    write("serve_api", "escapes", bytes([2]) + b'{"text": "\\ud83d\\ude00 \\u0000 \\ud800"}')


def main():
    safetensors_seeds()
    npy_seeds()
    wordpiece_seeds()
    serve_api_seeds()
    config_seeds()
    tokenizer_seeds()
    osis_seeds()
    imdb_seeds()
    text_files_seeds()
    for folder in sorted(CORPUS.iterdir()):
        print(f"{folder.name}: {len(list(folder.iterdir()))} seeds")


if __name__ == "__main__":
    main()
