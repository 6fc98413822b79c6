#!/usr/bin/python3
"""Reference WordPiece tokenizer: Hugging Face's slow BertTokenizer, re-implemented from its
algorithm (transformers `tokenization_bert.py` + `PreTrainedTokenizer.tokenize`) with Python's
own unicodedata and str.lower, independently of attx's C tables.

Regenerate the fixtures (run from the repository root):

    /usr/bin/python3 tools/reference/wordpiece_ref.py

It reads test/fixtures/tokenizer/cases.txt (one JSON string per line; lines starting with
`#` are comments) and ../shared/data/bert-vocab/vocab.txt, and writes
    test/fixtures/tokenizer/expected.txt        ids with do_lower_case=True (bert-base-uncased)
    test/fixtures/tokenizer/expected_cased.txt  ids with do_lower_case=False (same vocabulary)
one line per case, ids separated by single spaces, without [CLS]/[SEP]. It also checks itself
against llama.cpp's HF-generated vectors ../shared/data/bert-vocab/golden.{inp,out} (must be
46/46) and verifies the two facts that let the C code skip steps (see check_shortcuts).
Python 3.11's unicodedata is Unicode 14.0.0; keep code points new in 15.0 out of the cases.
"""
import json
import os
import re
import sys
import unicodedata

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "bert-vocab"))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "tokenizer")

# BertTokenizer's special tokens in the order of all_special_tokens.
SPECIAL_TOKENS = ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"]
MAX_CHARS_PER_WORD = 100


def load_vocab(path):
    # Text mode: universal newlines ("\r\n" and a lone "\r" end a line too); only "\n" is
    # stripped; a duplicated token keeps its last line index.
    vocab = {}
    with open(path, "r", encoding="utf-8") as f:
        for index, line in enumerate(f.readlines()):
            vocab[line.rstrip("\n")] = index
    return vocab


# --- BasicTokenizer ---------------------------------------------------------------------------

def is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or
            0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or
            0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def clean_text(text):
    out = []
    for ch in text:
        if ord(ch) in (0, 0xFFFD) or is_control(ch):
            continue
        out.append(" " if is_whitespace(ch) else ch)
    return "".join(out)


def pad_cjk(text):
    return "".join(f" {ch} " if is_cjk(ord(ch)) else ch for ch in text)


def whitespace_split(text):
    return text.strip().split()      # Python whitespace: Zs or bidi WS/B/S


def strip_accents(text):
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")


def split_on_punctuation(word):
    pieces, current = [], []
    for ch in word:
        if is_punctuation(ch):
            if current:
                pieces.append("".join(current))
                current = []
            pieces.append(ch)
        else:
            current.append(ch)
    if current:
        pieces.append("".join(current))
    return pieces


def basic_tokenize(text, do_lower_case, nfc=True):
    text = pad_cjk(clean_text(text))
    if nfc:                                          # newer transformers normalise to NFC here
        text = unicodedata.normalize("NFC", text)
    words = []
    for word in whitespace_split(text):
        if do_lower_case:                            # strip_accents=None: strip when lowercasing
            word = strip_accents(word.lower())
        words.extend(split_on_punctuation(word))
    return whitespace_split(" ".join(words))


# --- WordpieceTokenizer -----------------------------------------------------------------------

def wordpiece(word, vocab):
    chars = list(word)
    if len(chars) > MAX_CHARS_PER_WORD:
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(chars):
        end, found = len(chars), None
        while start < end:                           # longest match first
            piece = "".join(chars[start:end])
            if start > 0:
                piece = "##" + piece
            if piece in vocab:
                found = piece
                break
            end -= 1
        if found is None:
            return ["[UNK]"]                         # one unknown position: the whole word
        pieces.append(found)
        start = end
    return pieces


# --- PreTrainedTokenizer.tokenize -------------------------------------------------------------

def tokenize(text, vocab, do_lower_case=True, nfc=True):
    specials = "|".join(re.escape(t) for t in SPECIAL_TOKENS)
    if do_lower_case:
        # Lowercase everything but the special tokens, ONE CHARACTER AT A TIME: `(.+?)` matches
        # a single character, so str.lower never sees the context that Final_Sigma needs.
        text = re.sub("(" + specials + ")|(.+?)", lambda m: m.group(1) or m.group(2).lower(), text)
    tokens = []
    # The special tokens are split out atomically (none is a substring of another, so the
    # leftmost non-overlapping matches are what HF's trie finds).
    for piece in re.split("(" + specials + ")", text):
        if not piece:
            continue
        if piece in SPECIAL_TOKENS:
            tokens.append(piece)
            continue
        for word in basic_tokenize(piece, do_lower_case, nfc):
            tokens.extend(wordpiece(word, vocab))
    return tokens


def encode(text, vocab, do_lower_case=True, nfc=True):
    unk = vocab["[UNK]"]
    return [vocab.get(t, unk) for t in tokenize(text, vocab, do_lower_case, nfc)]


# --- fixtures and checks ----------------------------------------------------------------------

def read_cases(path):
    cases = []
    with open(path, "r", encoding="utf-8", newline="\n") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            value = json.loads(line)
            assert isinstance(value, str), line
            cases.append(value)
    return cases


def read_golden():
    with open(os.path.join(DATA, "golden.inp"), encoding="utf-8", newline="\n") as f:
        inp = f.read()
    with open(os.path.join(DATA, "golden.out"), encoding="utf-8", newline="\n") as f:
        out = f.read()
    # each case is followed by a marker line; the newline before the marker is not part of it
    cases = inp.split("\n__ggml_vocab_test__\n")
    assert cases[-1] == "", "golden.inp must end with a marker line"
    cases = cases[:-1]
    expected = [[int(x) for x in line.split()] for line in out.split("\n")[:len(cases)]]
    return cases, expected


def check_golden(vocab):
    cases, expected = read_golden()
    ok = 0
    for text, ids in zip(cases, expected):
        got = encode(text, vocab)
        if got == ids:
            ok += 1
        else:
            print(f"golden MISMATCH {text!r}: got {got}, expected {ids}")
    print(f"golden: {ok}/{len(cases)} identical")
    return ok == len(cases)


def check_shortcuts():
    """Facts (for this Python's Unicode version) that let the C tokenizer, when lowercasing,
    skip NFC and Final_Sigma:
      1. lowercasing is idempotent, so BasicTokenizer's second str.lower changes nothing, and
         it never meets a capital sigma (already lowercased one character at a time);
      2. every composite that NFC could build from lowercased characters is itself lowercase,
         so NFD(lower(NFC(x))) == NFD(x) for lowercased x."""
    bad_idempotent = [cp for cp in range(0x110000) if chr(cp).lower().lower() != chr(cp).lower()]
    bad_nfc = []
    for cp in range(0x110000):
        ch = chr(cp)
        decomposed = unicodedata.normalize("NFD", ch)
        if decomposed == ch:
            continue
        if all(c.lower() == c for c in decomposed) and ch.lower() != ch:
            bad_nfc.append(cp)
    print(f"shortcuts: lower idempotent ({len(bad_idempotent)} exceptions), "
          f"NFC irrelevant after lowercasing ({len(bad_nfc)} exceptions)")
    return not bad_idempotent and not bad_nfc


def check_unicode_versions(cases):
    """No case may hold a code point that is unassigned in this Python but assigned in the
    UCD the C tables come from (Debian's /usr/share/unicode/DerivedAge.txt, if present)."""
    path = "/usr/share/unicode/DerivedAge.txt"
    if not os.path.exists(path):
        return True
    ours = tuple(int(x) for x in unicodedata.unidata_version.split(".")[:2])
    newer = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            rng, age = [x.strip() for x in line.split(";")]
            lo, _, hi = rng.partition("..")
            if tuple(int(x) for x in age.split(".")) > ours:
                newer.update(range(int(lo, 16), int(hi or lo, 16) + 1))
    bad = sorted({ord(ch) for text in cases for ch in text if ord(ch) in newer})
    print(f"cases: {len(cases)}; code points newer than Python's Unicode {unicodedata.unidata_version}: "
          f"{', '.join(f'U+{cp:04X}' for cp in bad) or 'none'}")
    return not bad


def main():
    vocab = load_vocab(os.path.join(DATA, "vocab.txt"))
    golden_ok = check_golden(vocab)
    shortcuts_ok = check_shortcuts()
    cases = read_cases(os.path.join(FIXTURES, "cases.txt"))
    versions_ok = check_unicode_versions(cases)
    for name, lower in (("expected.txt", True), ("expected_cased.txt", False)):
        lines = []
        nfc_differs = 0
        for text in cases:
            ids = encode(text, vocab, do_lower_case=lower)
            if ids != encode(text, vocab, do_lower_case=lower, nfc=False):
                nfc_differs += 1
            lines.append(" ".join(str(i) for i in ids))
        with open(os.path.join(FIXTURES, name), "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
        print(f"wrote {name}: {len(cases)} cases ({nfc_differs} where the NFC step changes the ids)")
    if not (golden_ok and shortcuts_ok and versions_ok):
        sys.exit(1)


if __name__ == "__main__":
    main()
