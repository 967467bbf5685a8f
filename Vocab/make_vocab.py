#!/usr/bin/env python3
"""Regenerates Vocab/qwen3.vkv from PyPI dashscope==2.0.2 (dashscope/resources/qwen.tiktoken).

The .vkv file is VocabKit's fast-loading vocabulary: token bytes by id, the BPE merges derived from the
ranks, the special tokens, and the ids of tokens that BPE cannot produce from their own bytes. Its layout is
documented in Vocab/README.md. Run with --check to verify the committed file instead of writing it.

Usage: python3 Vocab/make_vocab.py [--tiktoken PATH] [--check]
"""
import base64, hashlib, os, struct, subprocess, sys, tempfile, zipfile, argparse

TIKTOKEN_SHA256 = "b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "qwen3.vkv")
SHA_FILE = os.path.join(HERE, "qwen3.vkv.sha256")
EMBEDDING_ROWS = 151936

# Qwen3's special tokens, ids 151643-151668, in id order. flag 1: special (control), 0: added.
SPECIALS = [
    ("<|endoftext|>", 1), ("<|im_start|>", 1), ("<|im_end|>", 1), ("<|object_ref_start|>", 1),
    ("<|object_ref_end|>", 1), ("<|box_start|>", 1), ("<|box_end|>", 1), ("<|quad_start|>", 1),
    ("<|quad_end|>", 1), ("<|vision_start|>", 1), ("<|vision_end|>", 1), ("<|vision_pad|>", 1),
    ("<|image_pad|>", 1), ("<|video_pad|>", 1), ("<tool_call>", 0), ("</tool_call>", 0),
    ("<|fim_prefix|>", 0), ("<|fim_middle|>", 0), ("<|fim_suffix|>", 0), ("<|fim_pad|>", 0),
    ("<|repo_name|>", 0), ("<|file_sep|>", 0), ("<tool_response>", 0), ("</tool_response>", 0),
    ("<think>", 0), ("</think>", 0),
]
FIRST_SPECIAL_ID = 151643


def fetch_tiktoken():
    d = tempfile.mkdtemp()
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", d, "dashscope==2.0.2"], check=True)
    whl = [f for f in os.listdir(d) if f.endswith(".whl")][0]
    with zipfile.ZipFile(os.path.join(d, whl)) as z:
        return z.read("dashscope/resources/qwen.tiktoken")


def load_ranks(raw):
    if hashlib.sha256(raw).hexdigest() != TIKTOKEN_SHA256:
        sys.exit("qwen.tiktoken: sha256 mismatch (expected %s)" % TIKTOKEN_SHA256)
    tokens = []
    for line in raw.decode("ascii").splitlines():
        b64, rank = line.split()
        assert int(rank) == len(tokens), "ranks must be dense and ordered"
        tokens.append(base64.b64decode(b64))
    return tokens


def rank_bpe(piece, ranks, max_rank):
    """tiktoken-style BPE that may only use ranks below max_rank; returns the parts."""
    parts = [piece[i:i + 1] for i in range(len(piece))]
    while len(parts) > 1:
        best, best_i = None, -1
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and r < max_rank and (best is None or r < best):
                best, best_i = r, i
        if best is None:
            break
        parts[best_i:best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return parts


def derive_merges(tokens):
    ranks = {t: i for i, t in enumerate(tokens)}
    merges = []  # (left id, right id, result id), in result-id order = merge rank
    for rank, tok in enumerate(tokens):
        if len(tok) == 1:
            continue
        parts = rank_bpe(tok, ranks, rank)
        assert len(parts) == 2, "token %d does not split into two parts" % rank
        merges.append((ranks[parts[0]], ranks[parts[1]], rank))
    return merges


def merge_bpe(ids, pair_rank):
    """Hugging Face BPE semantics: repeatedly apply the lowest-ranked merge, leftmost first."""
    while len(ids) > 1:
        best, best_i = None, -1
        for i in range(len(ids) - 1):
            m = pair_rank.get((ids[i], ids[i + 1]))
            if m is not None and (best is None or m[0] < best[0]):
                best, best_i = m, i
        if best is None:
            break
        ids[best_i:best_i + 2] = [best[1]]
    return ids


def build(tokens):
    merges = derive_merges(tokens)
    pair_rank = {(l, r): (i, res) for i, (l, r, res) in enumerate(merges)}
    byte_id = {t[0]: i for i, t in enumerate(tokens) if len(t) == 1}
    not_self = [i for i, t in enumerate(tokens) if len(t) > 1 and merge_bpe([byte_id[b] for b in t], pair_rank) != [i]]
    out = bytearray()
    blob = b"".join(tokens)
    out += b"VKVOCAB\0" + struct.pack("<6I", 1, len(tokens), len(merges), len(SPECIALS), EMBEDDING_ROWS, len(blob))
    off = 0
    offsets = [0]
    for t in tokens:
        off += len(t)
        offsets.append(off)
    out += struct.pack("<%dI" % len(offsets), *offsets)
    out += blob + b"\0" * (-len(blob) % 4)
    for m in merges:
        out += struct.pack("<3I", *m)
    out += struct.pack("<I", len(not_self)) + struct.pack("<%dI" % len(not_self), *not_self)
    for i, (text, flag) in enumerate(SPECIALS):
        b = text.encode()
        out += struct.pack("<3I", FIRST_SPECIAL_ID + i, flag, len(b)) + b + b"\0" * (-len(b) % 4)
    return bytes(out), len(merges), len(not_self)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiktoken", help="path to qwen.tiktoken (default: download dashscope==2.0.2 from PyPI)")
    ap.add_argument("--check", action="store_true", help="verify the committed qwen3.vkv instead of writing it")
    a = ap.parse_args()
    raw = open(a.tiktoken, "rb").read() if a.tiktoken else fetch_tiktoken()
    data, n_merges, n_not_self = build(load_ranks(raw))
    digest = hashlib.sha256(data).hexdigest()
    print("tokens 151643, merges %d, not self-encoding %d, sha256 %s" % (n_merges, n_not_self, digest))
    if a.check:
        committed = open(OUT, "rb").read()
        expected = open(SHA_FILE).read().split()[0]
        ok = committed == data and expected == digest
        print("qwen3.vkv matches the regenerated file" if ok else "qwen3.vkv DIFFERS from the regenerated file")
        sys.exit(0 if ok else 1)
    with open(OUT + ".tmp", "wb") as f:
        f.write(data)
    os.replace(OUT + ".tmp", OUT)
    with open(SHA_FILE, "w") as f:
        f.write("%s  qwen3.vkv\n" % digest)


if __name__ == "__main__":
    main()
