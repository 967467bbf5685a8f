"""Shared helpers for the oracle scripts: locating qwen.tiktoken, the corpus and the vocabkit binary."""
import os, sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qwen_reference  # noqa: E402

EOT = 151643  # <|endoftext|>


def tiktoken_path(explicit=None):
    """--tiktoken, else $QWEN_TIKTOKEN, else .build-oracle/qwen.tiktoken (Tests/Scripts/setup-oracle.sh),
    else /tmp/peers/qwen.tiktoken."""
    for p in (explicit, os.environ.get("QWEN_TIKTOKEN"), os.path.join(ROOT, ".build-oracle", "qwen.tiktoken"),
              "/tmp/peers/qwen.tiktoken"):
        if p and os.path.isfile(p):
            return p
    sys.exit("qwen.tiktoken not found: run Tests/Scripts/setup-oracle.sh or pass --tiktoken")


def reference(explicit=None, special_tokens=True):
    return qwen_reference.build(tiktoken_path(explicit), special_tokens=special_tokens)


def vocabkit_path():
    p = os.environ.get("VOCABKIT", os.path.join(ROOT, ".build", "release", "vocabkit"))
    return p if os.path.isabs(p) else os.path.join(ROOT, p) if not os.path.exists(p) else os.path.abspath(p)


def corpus_dir(explicit=None):
    return explicit or os.environ.get("VOCABKIT_CORPUS") or os.path.join(ROOT, ".build-corpus")


def read_manifest(corpus):
    """Rows of MANIFEST.tsv as dicts (file, bytes, script, source, members)."""
    path = os.path.join(corpus, "MANIFEST.tsv")
    if not os.path.isfile(path):
        sys.exit(f"{path} missing: run Tests/Scripts/fetch-corpus.sh first")
    lines = open(path, encoding="utf-8").read().splitlines()
    head = lines[0].split("\t")
    return [dict(zip(head, l.split("\t"))) for l in lines[1:] if l]
