#!/usr/bin/env python3
"""Checks llama.cpp's tokenizer vectors (Tests/Fixtures/llama-vocab/ggml-vocab-<family>.gguf.inp/.out) against
the reference tokenizer of each family (and, with --vocabkit, against the vocabkit CLI too).

Families: qwen2 (reference: Tests/Oracle/qwen_reference.py from qwen.tiktoken; the CLI with the bundled
vocabulary and with the qwen2 vocabulary GGUF), qwen35 and llama-bpe (reference: Tests/Oracle/families.py over
the family's vocabulary GGUF read with gguf-py; the CLI with --vocab that GGUF). The GGUFs come from
Tests/Fixtures/llama-vocab/fetch.sh --gguf (in .build-testdata/).

The files are parsed exactly as llama.cpp's tests/test-tokenizer-0.cpp does: the .inp file is split on
"\\n__ggml_vocab_test__\\n" (every case, the last included, is followed by that separator, so there is no
trailing empty case); the .out file has one line per case, " id id id" (a leading space before every id),
stripped, empty for the empty case. llama.cpp tokenizes with add_special=false, parse_special=false.

The CLI runs once per case with the bundled vocabulary, and once per family with a GGUF vocabulary (loading
one takes a few tenths of a second): the cases joined by the GGUF's end-of-text token, whose text no case
contains; special tokens are matched before anything else, so the ids between two separators are exactly
that case's ids.

Usage: check_llama_vectors.py [--family qwen2|qwen35|llama-bpe|all] [--tiktoken PATH] [--vocabkit]
"""
import argparse, os, subprocess, sys, tempfile

from common import EOT, ROOT, reference, vocabkit_path
import families

DIR = os.path.join(ROOT, "Tests", "Fixtures", "llama-vocab")
TESTDATA = os.path.join(ROOT, ".build-testdata")


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


def gguf_path(family):
    p = os.path.join(TESTDATA, f"ggml-vocab-{family}.gguf")
    if not os.path.isfile(p):
        sys.exit(f"{p} missing: run Tests/Fixtures/llama-vocab/fetch.sh --gguf")
    return p


def run_cli(text, vocab_args):
    with tempfile.NamedTemporaryFile("wb", suffix=".txt") as f:
        f.write(text.encode("utf-8")); f.flush()
        r = subprocess.run([vocabkit_path(), "tokenize", "--file", f.name, "--format", "ids", *vocab_args],
                           capture_output=True, text=True)
    return [int(x) for x in r.stdout.split()] if r.returncode == 0 else f"exit {r.returncode}: {r.stderr.strip()}"


def run_cli_joined(cases, path, separator, eos):
    """Every case's ids from one CLI run over the cases joined by the GGUF's end-of-text token."""
    assert eos is not None and not any(separator in text for text, _ in cases), separator
    ids = run_cli(separator.join(text for text, _ in cases), ["--vocab", path])
    if isinstance(ids, str):
        return [ids] * len(cases)
    out, cur = [], []
    for i in ids:
        if i == eos:
            out.append(cur); cur = []
        else:
            cur.append(i)
    out.append(cur)
    return out if len(out) == len(cases) else [f"{len(out)} segments for {len(cases)} cases"] * len(cases)


def check_family(family, a):
    cases = load_cases(os.path.join(DIR, f"ggml-vocab-{family}.gguf"))
    if family == "qwen2":
        toks = {"reference": reference(a.tiktoken), "reference(no specials)": reference(a.tiktoken, special_tokens=False)}
        clis = {"vocabkit": []}
        if a.vocabkit and os.path.isfile(os.path.join(TESTDATA, "ggml-vocab-qwen2.gguf")):
            clis["vocabkit --vocab ggml-vocab-qwen2.gguf"] = ["--vocab", gguf_path("qwen2")]
    else:
        path = gguf_path(family)
        toks = {"reference": families.build_from_gguf(path, family)}
        clis = {f"vocabkit --vocab ggml-vocab-{family}.gguf": ["--vocab", path]}
    separator = families.FAMILIES[family]["end_of_text"]
    eos = EOT if family == "qwen2" else toks["reference"].token_to_id(separator)
    joined = {name: run_cli_joined(cases, args[1], separator, eos) for name, args in clis.items() if args} if a.vocabkit else {}
    failed = 0
    for i, (text, want) in enumerate(cases):
        for name, tok in toks.items():
            got = tok.encode(text, add_special_tokens=False).ids
            if got != want:
                failed += 1
                print(f"{family} case {i} {text!r}: {name} gives {got}, llama.cpp expects {want}")
        if a.vocabkit:
            for name, args in clis.items():
                got = joined[name][i] if args else run_cli(text, args)
                if got != want:
                    failed += 1
                    print(f"{family} case {i} {text!r}: {name} gives {got}, llama.cpp expects {want}")
    print(f"llama vectors {family}: {len(cases)} cases, {failed} failures")
    return failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", default="qwen2", choices=sorted(families.FAMILIES) + ["all"])
    ap.add_argument("--tiktoken")
    ap.add_argument("--vocabkit", action="store_true", help="also run $VOCABKIT tokenize on each case")
    a = ap.parse_args()
    names = ["qwen2", "qwen35", "llama-bpe"] if a.family == "all" else [a.family]
    failed = sum(check_family(f, a) for f in names)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
