"""The reference for each pre-tokenizer family VocabKit knows: Hugging Face `tokenizers` configured as that
family's tokenizer.json is (normalizer, Split regex "isolated" + ByteLevel without its own regex or prefix
space, BPE `ignore_merges`), over a vocabulary read from a GGUF file with gguf-py.

These mirror Sources/VocabKitTokenizer/PreTokenizer.swift (the `PreTokenizer` descriptions). They are checked
against each other: tokenizer.json files written from here (`save_tokenizer_json`, run by
Tests/Scripts/fetch-test-data.sh) must be recognised by VocabKit as the same family
(VocabularyLoadingTests), and llama.cpp's vectors (ggml-vocab-<family>.gguf.inp/.out) must agree with both.
"""
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qwen_reference  # noqa: E402

QWEN2 = qwen_reference.PATTERN
QWEN35 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# name (GGUF tokenizer.ggml.pre) -> pattern, NFC normalizer, BPE ignore_merges, and the end-of-text token of
# llama.cpp's vocabulary GGUF for the family (tests join texts with it)
FAMILIES = {
    "qwen2": {"pattern": QWEN2, "nfc": True, "ignore_merges": False, "end_of_text": "<|endoftext|>"},
    "qwen35": {"pattern": QWEN35, "nfc": False, "ignore_merges": False, "end_of_text": "<|endoftext|>"},
    "llama-bpe": {"pattern": LLAMA3, "nfc": False, "ignore_merges": True, "end_of_text": "<|end_of_text|>"},
}


def splitter(pattern):
    """The family's pre-tokenizer alone (for probing character classes)."""
    from tokenizers import pre_tokenizers, Regex
    return pre_tokenizers.Split(Regex(pattern), behavior="isolated")


def gguf_vocabulary(path):
    """(token spellings, token types, merges as (left, right) spellings) of a GGUF file."""
    import gguf
    r = gguf.GGUFReader(path)
    field = lambda k: r.fields[k].contents() if k in r.fields else None
    tokens, types = field("tokenizer.ggml.tokens"), field("tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in field("tokenizer.ggml.merges") or []]
    return tokens, types or [1] * len(tokens), merges, field("tokenizer.ggml.pre")


def build(family, tokens, types, merges, special_tokens=True):
    """The reference tokenizer of `family` over a byte-level vocabulary (GGUF spellings and types: 1 normal,
    6 byte, 3 control, 4 user-defined; llama.cpp matches 3 and 4 whole, as added tokens)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, decoders, AddedToken
    f = FAMILIES[family]
    vocab = {t: i for i, t in enumerate(tokens) if types[i] in (1, 6)}
    tok = Tokenizer(models.BPE(vocab, merges, ignore_merges=f["ignore_merges"]))
    if f["nfc"]:
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        splitter(f["pattern"]),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    if special_tokens:
        added = [(i, t, types[i] == 3) for i, t in enumerate(tokens) if types[i] in (3, 4)]
        # add_tokens assigns the next free id when a text is not in the vocabulary: add in id order, and
        # check each landed on its GGUF id.
        for i, t, control in added:
            tok.add_special_tokens([AddedToken(t, normalized=False, special=control)])
            assert tok.token_to_id(t) == i, (t, i, tok.token_to_id(t))
    return tok


def build_from_gguf(path, family, special_tokens=True):
    """The reference over a GGUF's vocabulary. gguf-py takes tens of seconds to open a vocabulary GGUF, so the
    built tokenizer is cached in .build-oracle/cache/ as a tokenizer.json, keyed by the sha256 of the GGUF, of
    this file and the tokenizers version."""
    import hashlib, tokenizers
    if family not in FAMILIES:
        sys.exit(f"{family!r} is not one of {sorted(FAMILIES)}")
    h = hashlib.sha256(open(path, "rb").read() + open(os.path.abspath(__file__), "rb").read()
                       + f"{family} {special_tokens} {tokenizers.__version__}".encode()).hexdigest()[:24]
    cache = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build-oracle", "cache",
                         f"reference-{family}-{h}.json")
    if os.path.isfile(cache):
        return tokenizers.Tokenizer.from_file(cache)
    tokens, types, merges, pre = gguf_vocabulary(path)
    tok = build(family, tokens, types, merges, special_tokens=special_tokens)
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    tok.save(cache + ".tmp")
    os.replace(cache + ".tmp", cache)
    return tok


def save_tokenizer_json(gguf_path, family, out):
    tok = build_from_gguf(gguf_path, family)
    tok.save(out + ".tmp")
    os.replace(out + ".tmp", out)
