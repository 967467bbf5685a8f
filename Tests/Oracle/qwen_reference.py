"""The reference Qwen tokenizer: Hugging Face `tokenizers` configured as Qwen2/2.5/3 ship it.

Built from qwen.tiktoken (ranks = ids) with merges derived from the ranks, independently of VocabKit's
Swift code. The configuration follows Qwen's tokenizer.json: NFC, the split regex below (isolated),
ByteLevel without its own regex or prefix space, ByteLevel decoder, special tokens added unnormalized.
"""
import base64, os, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Vocab"))
import make_vocab  # noqa: E402  (merge derivation and the special-token table)

PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
           r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def build(tiktoken_path, special_tokens=True):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, decoders, Regex, AddedToken
    tokens = make_vocab.load_ranks(open(tiktoken_path, "rb").read())
    b2u = bytes_to_unicode()
    enc = lambda b: "".join(b2u[x] for x in b)
    vocab = {enc(t): i for i, t in enumerate(tokens)}
    merges = [(enc(tokens[l]), enc(tokens[r])) for l, r, _ in make_vocab.derive_merges(tokens)]
    tok = Tokenizer(models.BPE(vocab, merges, ignore_merges=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    if special_tokens:
        tok.add_special_tokens([AddedToken(t, normalized=False, special=bool(f)) for t, f in make_vocab.SPECIALS])
    return tok
