#!/usr/bin/env python3
"""A stand-in for the vocabkit CLI that answers with the reference tokenizer, to test the harness itself.

Implements `tokenize --file F [--format ids] [--count] [--threads N] [--no-special]` and
`bench tokenize [--threads N] F` (prints {"mb_per_s": X}). Run it through fake_vocabkit.sh, e.g.
  VOCABKIT=Tests/Oracle/fake_vocabkit.sh python Tests/Oracle/differential.py
FAKE_VOCABKIT_BUG injects a bug so that mismatch reports can be seen:
  nfkc     normalize with NFKC instead of NFC
  threads  with --threads other than 1, encode the two halves of the text separately (naive chunking)
The reference is cached as .build-oracle/fake-tokenizer*.json (loading that is faster than building it).
"""
import json, os, sys, time, unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, reference  # noqa: E402


def load(special):
    from tokenizers import Tokenizer
    path = os.path.join(ROOT, ".build-oracle", f"fake-tokenizer{'' if special else '-nospecial'}.json")
    if not os.path.isfile(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        reference(special_tokens=special).save(path + ".tmp"); os.replace(path + ".tmp", path)
    return Tokenizer.from_file(path)


def main(argv):
    args = list(argv)
    bench = args[:2] == ["bench", "tokenize"]
    if not bench and args[:1] != ["tokenize"]:
        sys.exit("usage: fake_vocabkit.py tokenize --file F [--format ids] [--count] [--threads N] [--no-special]")
    args = args[2:] if bench else args[1:]
    opts = {"--file": None, "--format": "ids", "--threads": "0"}
    flags, rest = set(), []
    i = 0
    while i < len(args):
        if args[i] in opts:
            opts[args[i]] = args[i + 1]; i += 2
        elif args[i] == "--iterations":
            i += 2
        elif args[i] in ("--count", "--no-special", "--json", "--replace-invalid"):
            flags.add(args[i]); i += 1
        else:
            rest.append(args[i]); i += 1
    path = opts["--file"] or (rest[0] if rest else None)
    raw = open(path, "rb").read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        sys.exit(f"vocabkit: {path}: invalid UTF-8 at byte {e.start}")
    tok = load("--no-special" not in flags)
    bug = os.environ.get("FAKE_VOCABKIT_BUG", "")
    if bug == "nfkc":
        text = unicodedata.normalize("NFKC", text)
    t = time.time()
    if bug == "threads" and opts["--threads"] != "1" and len(text) > 1000:
        h = len(text) // 2
        ids = tok.encode(text[:h]).ids + tok.encode(text[h:]).ids
    else:
        ids = tok.encode(text).ids
    dt = time.time() - t
    if bench:
        print(json.dumps({"mb_per_s": len(raw) / 1e6 / dt}))
    elif "--count" in flags:
        print(len(ids))
    else:
        print(" ".join(map(str, ids)))


if __name__ == "__main__":
    main(sys.argv[1:])
