#!/usr/bin/env python3
"""Differential test: the vocabkit CLI against the reference Qwen tokenizer (Tests/Oracle/qwen_reference.py).

Corpus mode (default): for every file in the corpus MANIFEST.tsv (Tests/Scripts/fetch-corpus.sh), compares
  `$VOCABKIT tokenize --file F --format ids` (default threads) with the reference ids, then the same with
  `--threads 1` on every file and `--threads 3` on the first file of each group (chunked parallel encoding
  must not change the ids), and `--count` with the reference token count.
Sweep mode (--unicode-sweep): for every Unicode scalar c (0..0x10FFFF without surrogates) the strings
  "a{c}b", " {c}{c}", "'{c}" and "{c}'s" are joined with "<|endoftext|>" into files of 0x10000 scalars each;
  both sides encode the files and the id sequences are compared segment by segment (split at id 151643).
  The reference splits on added tokens before normalizing and pre-tokenizing, so this equals encoding each
  string on its own. Every differing scalar is reported (hex, unicodedata category, name).
--all runs both. Reference ids are cached in .build-oracle/cache/ keyed by the sha256 of the input, the
qwen.tiktoken sha256 and the tokenizers version (delete the folder or pass --no-cache to recompute).

--family qwen35|llama-bpe checks another pre-tokenizer family: the reference is Tests/Oracle/families.py over
the family's vocabulary GGUF (.build-testdata/ggml-vocab-<family>.gguf, from Tests/Fixtures/llama-vocab/fetch.sh
--gguf, read with gguf-py), vocabkit runs with --vocab that GGUF, the sweep separator is the GGUF's end-of-text
token, and the corpus is a sample: the first file of each group (--sample-files N per group; 0 = all files).

Prints per-group totals and, last, exactly `differential: N passed, M failed` (a check is one file under one
thread setting, one --count run, or one swept scalar); exits 1 on any failure.

Usage: differential.py [--corpus DIR] [--unicode-sweep | --all] [--tiktoken PATH] [--vocabkit PATH]
                       [--max-reports N] [--no-cache] [--sweep-dir DIR] [--sweep-range LO:HI]
                       [--failures-out FILE] [--family NAME] [--sample-files N]
Environment: VOCABKIT (binary, default .build/release/vocabkit), VOCABKIT_CORPUS (default .build-corpus).
"""
import argparse, array, hashlib, os, subprocess, sys, time, unicodedata
from collections import OrderedDict

from common import EOT, ROOT, corpus_dir, read_manifest, reference, tiktoken_path, vocabkit_path
import families
import make_vocab

SWEEP_BLOCK = 0x10000


class Reference:
    """The reference tokenizer of one family; `vocab_args` are the vocabkit options that select the same
    vocabulary, `separator`/`eot` the special token text and id that splits sweep segments."""

    def __init__(self, tiktoken, use_cache=True, family="qwen2"):
        import tokenizers
        self.family = family
        if family == "qwen2":
            self.tok = reference(tiktoken)
            raw = open(tiktoken_path(tiktoken), "rb").read()
            self.token_bytes = make_vocab.load_ranks(raw) + [t.encode() for t, _ in make_vocab.SPECIALS]
            self.vocab_args, self.separator, self.eot = [], "<|endoftext|>", EOT
        else:
            path = os.path.join(ROOT, ".build-testdata", f"ggml-vocab-{family}.gguf")
            if not os.path.isfile(path):
                sys.exit(f"{path} missing: run Tests/Fixtures/llama-vocab/fetch.sh --gguf")
            self.tok = families.build_from_gguf(path, family)
            u2b = {v: k for k, v in qwen_bytes_to_unicode().items()}
            added = {t.content for t in self.tok.get_added_tokens_decoder().values()}
            vocab = self.tok.get_vocab(with_added_tokens=True)
            self.token_bytes = [b""] * (max(vocab.values()) + 1)
            for t, i in vocab.items():
                plain = t in added or not all(c in u2b for c in t)
                self.token_bytes[i] = t.encode() if plain else bytes(u2b[c] for c in t)
            self.separator = families.FAMILIES[family]["end_of_text"]
            self.vocab_args, self.eot = ["--vocab", path], self.tok.token_to_id(self.separator)
            raw = open(path, "rb").read() + family.encode()
        self.key = hashlib.sha256(raw + tokenizers.__version__.encode()).hexdigest()[:16]
        self.cache = os.path.join(ROOT, ".build-oracle", "cache") if use_cache else None
        self.seconds = 0.0

    def _cache_path(self, data, kind):
        h = hashlib.sha256(data).hexdigest()[:32]
        return os.path.join(self.cache, f"{kind}-{self.key}-{h}.u32")

    def encode_files(self, paths):
        """Reference ids of whole files (encode_batch runs files in parallel); cached."""
        out, todo = {}, []
        for p in paths:
            data = open(p, "rb").read()
            cp = self._cache_path(data, "file") if self.cache else None
            if cp and os.path.isfile(cp):
                a = array.array("I"); a.frombytes(open(cp, "rb").read()); out[p] = a.tolist()
            else:
                todo.append((p, data, cp))
        # batches of ~8 MB keep memory modest
        while todo:
            batch, size = [], 0
            while todo and (not batch or size < 8_000_000):
                batch.append(todo.pop(0)); size += len(batch[-1][1])
            t = time.time()
            encs = self.tok.encode_batch([d.decode("utf-8") for _, d, _ in batch], add_special_tokens=False)
            self.seconds += time.time() - t
            for (p, _, cp), e in zip(batch, encs):
                out[p] = e.ids
                if cp:
                    os.makedirs(self.cache, exist_ok=True)
                    array.array("I", e.ids).tofile(open(cp + ".tmp", "wb")); os.replace(cp + ".tmp", cp)
        return out

    def encode_segments(self, segments, data):
        """Reference ids of each segment (one list per segment); cached under the joined file's bytes."""
        cp = self._cache_path(data, "sweep") if self.cache else None
        if cp and os.path.isfile(cp):
            a = array.array("I"); a.frombytes(open(cp, "rb").read())
            return split_at_eot(a.tolist(), self.eot)
        t = time.time()
        encs = self.tok.encode_batch(segments, add_special_tokens=False)
        self.seconds += time.time() - t
        segs = [e.ids for e in encs]
        if cp:
            flat = array.array("I")
            for i, s in enumerate(segs):
                if i:
                    flat.append(self.eot)
                flat.extend(s)
            os.makedirs(self.cache, exist_ok=True)
            flat.tofile(open(cp + ".tmp", "wb")); os.replace(cp + ".tmp", cp)
        return segs

    def show(self, ids):
        return " ".join(f"{i}:{self.token_bytes[i].decode('utf-8', 'backslashreplace')!r}"
                        if 0 <= i < len(self.token_bytes) else f"{i}:?" for i in ids)


def qwen_bytes_to_unicode():
    import qwen_reference
    return qwen_reference.bytes_to_unicode()


def split_at_eot(ids, eot=EOT):
    segs, cur = [], []
    for i in ids:
        if i == eot:
            segs.append(cur); cur = []
        else:
            cur.append(i)
    segs.append(cur)
    return segs


def run_vocabkit(vk, path, *extra):
    """Returns (ids or None, seconds, error text)."""
    t = time.time()
    try:
        r = subprocess.run([vk, "tokenize", "--file", path, *extra], capture_output=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, time.time() - t, str(e)
    dt = time.time() - t
    if r.returncode != 0:
        return None, dt, f"exit {r.returncode}: {r.stderr.decode('utf-8', 'replace').strip()[:500]}"
    try:
        return [int(x) for x in r.stdout.split()], dt, ""
    except ValueError as e:
        return None, dt, f"unparsable output: {e}: {r.stdout[:200]!r}"


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n if len(a) != len(b) else -1


def report_mismatch(ref, path, text_nfc_bytes, want, got, label):
    i = first_diff(want, got)
    off = sum(len(ref.token_bytes[t]) for t in want[:i])
    lo, hi = max(0, off - 40), off + 40
    print(f"MISMATCH {path} [{label}]: first differing token index {i} (reference {len(want)} tokens, "
          f"vocabkit {len(got)}), byte offset {off} of the NFC text")
    print(f"  text[{lo}:{hi}] = {text_nfc_bytes[lo:off].decode('utf-8', 'replace')!r} | "
          f"{text_nfc_bytes[off:hi].decode('utf-8', 'replace')!r}")
    print(f"  reference[{max(0, i - 5)}:{i + 10}]: {ref.show(want[max(0, i - 5):i + 10])}")
    print(f"  vocabkit [{max(0, i - 5)}:{i + 10}]: {ref.show(got[max(0, i - 5):i + 10])}")


def corpus_mode(a, ref, vk, tally):
    cdir = corpus_dir(a.corpus)
    rows = read_manifest(cdir)
    sample = a.sample_files if a.sample_files is not None else (0 if ref.family == "qwen2" else 1)
    if sample:
        per_group, kept = {}, []
        for r in rows:
            per_group[r["script"]] = per_group.get(r["script"], 0) + 1
            if per_group[r["script"]] <= sample:
                kept.append(r)
        rows = kept
        print(f"family {ref.family}: a sample of {sample} file(s) per group, "
              f"{sum(int(r['bytes']) for r in rows) / 1e6:.1f} MB", flush=True)
    paths = [os.path.join(cdir, r["file"]) for r in rows]
    print(f"corpus: {len(rows)} files in {cdir}; reference encoding ...", flush=True)
    want_all = ref.encode_files(paths)
    print(f"reference: {ref.seconds:.1f} s encoding (cached files take no time)", flush=True)
    groups = OrderedDict()
    first_of_group = set()
    for r, p in zip(rows, paths):
        if r["script"] not in groups:
            first_of_group.add(p)
        g = groups.setdefault(r["script"], {"files": 0, "bytes": 0, "tokens": 0, "failed": 0, "vk_s": 0.0})
        g["files"] += 1; g["bytes"] += int(r["bytes"]); g["tokens"] += len(want_all[p])
    reports = 0
    for r, p in zip(rows, paths):
        g = groups[r["script"]]
        want = want_all[p]
        variants = [("default threads", []), ("--threads 1", ["--threads", "1"])]
        if p in first_of_group:
            variants.append(("--threads 3", ["--threads", "3"]))
        nfc = None
        for label, extra in variants:
            got, dt, err = run_vocabkit(vk, p, "--format", "ids", *ref.vocab_args, *extra)
            if label == "default threads":
                g["vk_s"] += dt
            if got == want:
                tally["passed"] += 1
                continue
            tally["failed"] += 1; g["failed"] += 1
            if got is None:
                print(f"FAILED {r['file']} [{label}]: {err}")
            elif reports < a.max_reports:
                reports += 1
                if nfc is None:
                    text = open(p, encoding="utf-8").read()
                    nfc = (ref.tok.normalizer.normalize_str(text) if ref.tok.normalizer else text).encode("utf-8")
                report_mismatch(ref, r["file"], nfc, want, got, label)
            else:
                print(f"MISMATCH {r['file']} [{label}] (details suppressed, --max-reports {a.max_reports})")
        # --count
        t = subprocess.run([vk, "tokenize", "--file", p, "--count", *ref.vocab_args], capture_output=True, text=True)
        if t.returncode == 0 and t.stdout.strip() == str(len(want)):
            tally["passed"] += 1
        else:
            tally["failed"] += 1; g["failed"] += 1
            print(f"FAILED {r['file']} [--count]: got {t.stdout.strip()!r} (exit {t.returncode}), "
                  f"reference {len(want)}")
    print(f"{'group':12s} {'files':>5s} {'MB':>7s} {'tokens':>11s} {'bytes/tok':>9s} {'vocabkit MB/s':>13s} {'failed':>6s}")
    for name, g in groups.items():
        mbps = g["bytes"] / 1e6 / g["vk_s"] if g["vk_s"] else 0
        print(f"{name:12s} {g['files']:5d} {g['bytes'] / 1e6:7.2f} {g['tokens']:11,d} "
              f"{g['bytes'] / max(1, g['tokens']):9.2f} {mbps:13.1f} {g['failed']:6d}")
    tb = sum(g["bytes"] for g in groups.values()); tt = sum(g["tokens"] for g in groups.values())
    print(f"{'total':12s} {sum(g['files'] for g in groups.values()):5d} {tb / 1e6:7.2f} {tt:11,d} "
          f"{tb / max(1, tt):9.2f}")


SWEEP_FORMS = ["a{c}b", " {c}{c}", "'{c}", "{c}'s"]


def sweep_segments(cps):
    return [f.format(c=chr(cp)) for cp in cps for f in SWEEP_FORMS]


def sweep_text(cps, separator="<|endoftext|>"):
    return separator.join(sweep_segments(cps))


def sweep_mode(a, ref, vk, tally):
    sdir = a.sweep_dir or os.path.join(ROOT, ".build-oracle", "sweep" if ref.family == "qwen2" else f"sweep-{ref.family}")
    os.makedirs(sdir, exist_ok=True)
    print(f"unicode sweep: {len(SWEEP_FORMS)} strings per scalar, files in {sdir}", flush=True)
    bad_scalars = []
    budget = {"reruns": 200}  # extra vocabkit runs allowed for isolating misaligned scalars
    t0 = time.time()

    def report(cp, w, g_):
        tally["failed"] += 1
        bad_scalars.append(cp)
        if len(bad_scalars) <= a.max_reports * 10:
            c = chr(cp)
            if g_ is None:
                detail = "vocabkit output could not be split into this scalar's segments (unverified)"
            else:
                detail = "; ".join(f"{SWEEP_FORMS[j]!r}: reference {w[j]} vocabkit {g_[j] if j < len(g_) else None}"
                                   for j in range(4) if j >= len(g_) or w[j] != g_[j])
            print(f"SCALAR U+{cp:04X} {unicodedata.category(c)} {unicodedata.name(c, '<unnamed>')}: {detail}")

    def compare(cps, want, path):
        """cps: scalars; want: their 4*len(cps) reference segments; path: the joined file."""
        got, dt, err = run_vocabkit(vk, path, "--format", "ids", *ref.vocab_args)
        if got is None:
            print(f"FAILED {os.path.basename(path)}: {err}")
            for k, cp in enumerate(cps):
                report(cp, want[4 * k:4 * k + 4], None)
            return
        got_segs = split_at_eot(got, ref.eot)
        if len(got_segs) == len(want):
            for k, cp in enumerate(cps):
                w, g_ = want[4 * k:4 * k + 4], got_segs[4 * k:4 * k + 4]
                if w == g_:
                    tally["passed"] += 1
                else:
                    report(cp, w, g_)
            return
        # Segment counts differ (vocabkit merged or split an <|endoftext|>): bisect to isolate the scalars.
        if len(cps) == 1 or budget["reruns"] <= 0:
            for k, cp in enumerate(cps):
                report(cp, want[4 * k:4 * k + 4], got_segs if len(cps) == 1 else None)
            return
        h = len(cps) // 2
        for part, wpart, tag in ((cps[:h], want[:4 * h], "a"), (cps[h:], want[4 * h:], "b")):
            budget["reruns"] -= 1
            sub = path[:-4] + tag + ".txt"
            open(sub, "wb").write(sweep_text(part, ref.separator).encode("utf-8"))
            compare(part, wpart, sub)
            os.remove(sub)

    lo, hi = (int(x, 16) for x in a.sweep_range.split(":"))
    for block in range(0, 0x110000, SWEEP_BLOCK):
        if block + SWEEP_BLOCK <= lo or block >= hi:
            continue
        cps = [cp for cp in range(block, min(block + SWEEP_BLOCK, 0x110000)) if not 0xD800 <= cp <= 0xDFFF]
        segs = sweep_segments(cps)
        data = ref.separator.join(segs).encode("utf-8")
        path = os.path.join(sdir, f"sweep-{block:06X}.txt")
        if not (os.path.isfile(path) and os.path.getsize(path) == len(data)):
            open(path + ".tmp", "wb").write(data); os.replace(path + ".tmp", path)
        want = ref.encode_segments(segs, data)
        before = len(bad_scalars)
        compare(cps, want, path)
        print(f"  block U+{block:06X}: {len(cps)} scalars, {len(bad_scalars) - before} differ "
              f"({time.time() - t0:.0f} s)", flush=True)
    if a.failures_out:
        with open(a.failures_out, "w") as f:
            f.writelines(f"{cp:04X}\n" for cp in bad_scalars)
    if bad_scalars:
        cats = {}
        for cp in bad_scalars:
            cats[unicodedata.category(chr(cp))] = cats.get(unicodedata.category(chr(cp)), 0) + 1
        print(f"sweep: {len(bad_scalars)} scalars differ; by category (Python unicodedata "
              f"{unicodedata.unidata_version}): {dict(sorted(cats.items()))}")
    else:
        print("sweep: all scalars agree")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus")
    ap.add_argument("--unicode-sweep", action="store_true", help="sweep mode only")
    ap.add_argument("--all", action="store_true", help="corpus and sweep")
    ap.add_argument("--tiktoken")
    ap.add_argument("--vocabkit")
    ap.add_argument("--sweep-dir")
    ap.add_argument("--sweep-range", default="0:110000",
                    help="hex LO:HI; sweep only the 0x10000-scalar blocks that overlap it")
    ap.add_argument("--failures-out", help="write the differing scalars (hex, one a line) to this file")
    ap.add_argument("--max-reports", type=int, default=10)
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--family", default="qwen2", choices=sorted(families.FAMILIES),
                    help="pre-tokenizer family (default qwen2, the bundled vocabulary)")
    ap.add_argument("--sample-files", type=int, help="files per corpus group (default: all for qwen2, 1 otherwise; 0 = all)")
    a = ap.parse_args()
    vk = os.path.abspath(a.vocabkit) if a.vocabkit else vocabkit_path()
    if not os.access(vk, os.X_OK):
        sys.exit(f"vocabkit binary not found at {vk} (set VOCABKIT or build with swift build -c release)")
    t = time.time()
    ref = Reference(a.tiktoken, use_cache=not a.no_cache, family=a.family)
    print(f"reference ({a.family}) built in {time.time() - t:.1f} s; vocabkit: {vk} {' '.join(ref.vocab_args)}", flush=True)
    tally = {"passed": 0, "failed": 0}
    if not a.unicode_sweep or a.all:
        corpus_mode(a, ref, vk, tally)
    if a.unicode_sweep or a.all:
        sweep_mode(a, ref, vk, tally)
    print(f"total time {time.time() - t:.0f} s (reference encoding {ref.seconds:.0f} s)")
    print(f"differential: {tally['passed']} passed, {tally['failed']} failed")
    sys.exit(1 if tally["failed"] else 0)


if __name__ == "__main__":
    main()
