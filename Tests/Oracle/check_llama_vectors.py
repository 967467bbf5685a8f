#!/usr/bin/env python3
"""Checks llama.cpp's Qwen2 tokenizer vectors (Tests/Fixtures/llama-vocab/ggml-vocab-qwen2.gguf.inp/.out)
against the reference tokenizer (and, with --vocabkit, against the vocabkit CLI too).

The files are parsed exactly as llama.cpp's tests/test-tokenizer-0.cpp does: the .inp file is split on
"\\n__ggml_vocab_test__\\n" (every case, the last included, is followed by that separator, so there is no
trailing empty case); the .out file has one line per case, " id id id" (a leading space before every id),
stripped, empty for the empty case. llama.cpp tokenizes with add_special=false, parse_special=false.

Usage: check_llama_vectors.py [--tiktoken PATH] [--vocabkit]
"""
import argparse, os, subprocess, sys, tempfile

from common import ROOT, reference, vocabkit_path

DIR = os.path.join(ROOT, "Tests", "Fixtures", "llama-vocab")


def load_cases(base=os.path.join(DIR, "ggml-vocab-qwen2.gguf")):
    raw = open(base + ".inp", "rb").read().decode("utf-8")
    sep = "\n__ggml_vocab_test__\n"
    inp, pos = [], 0
    while pos < len(raw):
        nxt = raw.find(sep, pos)
        if nxt < 0:
            inp.append(raw[pos:])
            break
        inp.append(raw[pos:nxt])
        pos = nxt + len(sep)
    out = [[int(x) for x in line.split()] for line in open(base + ".out", encoding="ascii").read().split("\n")[:-1]]
    assert len(inp) == len(out), (len(inp), len(out))
    return list(zip(inp, out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiktoken")
    ap.add_argument("--vocabkit", action="store_true", help="also run $VOCABKIT tokenize on each case")
    a = ap.parse_args()
    cases = load_cases()
    toks = {"reference": reference(a.tiktoken), "reference(no specials)": reference(a.tiktoken, special_tokens=False)}
    failed = 0
    for i, (text, want) in enumerate(cases):
        for name, tok in toks.items():
            got = tok.encode(text).ids
            if got != want:
                failed += 1
                print(f"case {i} {text!r}: {name} gives {got}, llama.cpp expects {want}")
        if a.vocabkit:
            with tempfile.NamedTemporaryFile("wb", suffix=".txt") as f:
                f.write(text.encode("utf-8")); f.flush()
                r = subprocess.run([vocabkit_path(), "tokenize", "--file", f.name, "--format", "ids"],
                                   capture_output=True, text=True)
            got = [int(x) for x in r.stdout.split()] if r.returncode == 0 else f"exit {r.returncode}: {r.stderr.strip()}"
            if got != want:
                failed += 1
                print(f"case {i} {text!r}: vocabkit gives {got}, llama.cpp expects {want}")
    print(f"llama vectors: {len(cases)} cases, {failed} failures")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
