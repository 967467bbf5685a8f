#!/usr/bin/env python3
"""Single-thread tokenization throughput: vocabkit against peer Qwen tokenizers, with an exactness check.

For each input file (default: Python source, English man pages and Chinese man pages from the corpus built
by Tests/Scripts/fetch-corpus.sh), measures MB/s (input bytes / seconds, best of --reps) of:
  vocabkit        whole process: `vocabkit tokenize --file F --count --threads 1` (start-up and vocabulary
                  load included); and, if the CLI has it, the cold and warm figures of `vocabkit bench
                  tokenize --threads 1 --json F` (JSON {"mb_per_s": X, "load_seconds": ..., "files": [{...,
                  "cold_mb_per_s", "mb_per_s"}]}; without --json if that fails)
  hf-tokenizers   the reference (Tests/Oracle/qwen_reference.py), Tokenizer.encode
  tiktoken        tiktoken.Encoding with the Qwen ranks, the Qwen split pattern and the 26 added tokens
                  (allowed_special="all"); note it does not NFC-normalize
  bpe-qwen        bpe_qwen.QwenTokenizer (0.1.5) on vocab.json/merges.txt written from the reference
  gigatoken       gigatoken.Tokenizer(reference): load time, cold first encode, warm encode, and steady (a fresh
                  tokenizer that first encoded the other files of the same kind, then this file once)
vocabkit's bench reports the same three: cold (empty caches), steady (--warm-up with the other files of the same
kind: man-en-01.txt for man-en-00.txt) and warm (repeats of this file). Both tools keep caches between calls,
so "warm" has seen this very text; "steady" is the long-running process on unseen text.
  llama-tokenize  if /tmp/peers/llama.cpp/build/bin/llama-tokenize (or $LLAMA_TOKENIZE) exists: whole
                  process with --no-escape --ids --log-disable -m a vocabulary GGUF
                  (.build-testdata/ggml-vocab-qwen2.gguf from Tests/Fixtures/llama-vocab/fetch.sh --gguf,
                  or $LLAMA_VOCAB_GGUF)
"CPU MB/s" divides by process CPU time instead (vocabkit's bench reports it; Python peers run single-threaded
in this process, measured with time.process_time): on a shared machine other jobs stretch the clock far more
than CPU time. The last table gives the goals' ratios against gigatoken (warm, steady, cold) and tiktoken
(warm) both ways.
Every peer's ids are compared with the reference's on the whole file ("exact" column).
Everything runs pinned to one CPU (sched_setaffinity; RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false).
Peers that are not installed are skipped (Tests/Scripts/setup-oracle.sh --bench installs them).

Usage: bench_tokenize.py [FILE ...] [--corpus DIR] [--reps N] [--json] [--cpu N] [--tiktoken PATH]
"""
import os, sys

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse, glob, json, shutil, subprocess, tempfile, time, types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Tests", "Oracle"))
from common import ROOT, corpus_dir, reference, tiktoken_path, vocabkit_path  # noqa: E402
import make_vocab  # noqa: E402
import qwen_reference  # noqa: E402


def best(fn, reps):
    times, out = [], None
    for _ in range(reps):
        t = time.perf_counter(); out = fn(); times.append(time.perf_counter() - t)
    return min(times), out


def best_cpu(fn, reps):
    """Least process CPU time of `reps` calls: on a shared machine other jobs stretch the clock far more than
    the CPU time of a single-threaded call (RAYON_NUM_THREADS=1)."""
    times = []
    for _ in range(reps):
        t = time.process_time(); fn(); times.append(time.process_time() - t)
    return min(times)


def warm_up_files(path):
    """Other files of the same kind (same directory and name stem, e.g. man-en-01.txt for man-en-00.txt), for
    the steady-state figure: caches warmed on text of this kind, but not on this text."""
    d, name = os.path.split(path)
    stem = name.rsplit("-", 1)[0] + "-" if "-" in name else None
    if not stem:
        return []
    return sorted(f for f in glob.glob(os.path.join(d, stem + "*")) if os.path.abspath(f) != os.path.abspath(path))


def default_files(cdir):
    picks = [("python", "code/python-stdlib-*.txt"), ("english", "latin/man-en-*.txt"),
             ("chinese", "cjk/man-zh_CN-*.txt")]
    out = []
    for label, pat in picks:
        fs = sorted(glob.glob(os.path.join(cdir, pat)), key=lambda f: -os.path.getsize(f))
        if fs:
            out.append(fs[0])
    if not out:
        sys.exit(f"no input files: give FILE arguments or build the corpus in {cdir} (Tests/Scripts/fetch-corpus.sh)")
    return out


class Peers:
    """Lazily built peer tokenizers; a peer that cannot be built records why."""

    def __init__(self, tiktoken):
        self.tiktoken = tiktoken
        t = time.perf_counter()
        self.ref = reference(tiktoken)
        self.ref_build_s = time.perf_counter() - t
        self.skipped = {}
        self.load_s = {}
        self.first_done = set()

    def hf(self):
        return lambda text: self.ref.encode(text).ids

    def tiktoken_enc(self):
        import tiktoken
        t = time.perf_counter()
        tokens = make_vocab.load_ranks(open(tiktoken_path(self.tiktoken), "rb").read())
        enc = tiktoken.Encoding(
            name="qwen", pat_str=qwen_reference.PATTERN,
            mergeable_ranks={b: i for i, b in enumerate(tokens)},
            special_tokens={s: make_vocab.FIRST_SPECIAL_ID + i for i, (s, _) in enumerate(make_vocab.SPECIALS)})
        self.load_s["tiktoken"] = time.perf_counter() - t
        return lambda text: enc.encode(text, allowed_special="all")

    def bpe_qwen(self):
        # bpe_qwen/__init__.py imports transformers only for its HF wrappers; a stub suffices for QwenTokenizer.
        if "transformers" not in sys.modules:
            try:
                import transformers  # noqa: F401
            except ImportError:
                m = types.ModuleType("transformers")
                class _Stub:  # noqa: E306
                    pass
                m.AutoTokenizer = m.PreTrainedTokenizer = m.PreTrainedTokenizerFast = _Stub
                sys.modules["transformers"] = m
        import bpe_qwen
        d = tempfile.mkdtemp(prefix="bpe-qwen-")
        self.ref.model.save(d)
        json.dump({"added_tokens_decoder": {str(make_vocab.FIRST_SPECIAL_ID + i): {"content": s, "special": bool(f)}
                                            for i, (s, f) in enumerate(make_vocab.SPECIALS)}},
                  open(os.path.join(d, "tokenizer_config.json"), "w"))
        t = time.perf_counter()
        tok = bpe_qwen.QwenTokenizer(d)
        self.load_s["bpe-qwen"] = time.perf_counter() - t
        shutil.rmtree(d, ignore_errors=True)
        return lambda text: list(tok.encode(text))

    def gigatoken(self):
        import gigatoken
        t = time.perf_counter()
        tok = gigatoken.Tokenizer(self.ref)
        self.load_s["gigatoken"] = time.perf_counter() - t
        return tok.encode  # a numpy array; converted for the exactness check outside the timing


def run_cli(cmd):
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}...: exit {r.returncode}: {r.stderr.decode(errors='replace')[:300]}")
    return r.stdout


def bench_file(path, peers, builders, a):
    raw = open(path, "rb").read()
    text = raw.decode("utf-8")
    mb = len(raw) / 1e6
    want = peers.ref.encode(text).ids
    rows = []

    def row(name, mode, seconds, exact, note="", cpu_seconds=None):
        rows.append({"file": os.path.relpath(path, ROOT) if path.startswith(ROOT) else path, "tool": name,
                     "mode": mode, "seconds": seconds, "mb_per_s": mb / seconds if seconds else None,
                     "cpu_mb_per_s": mb / cpu_seconds if cpu_seconds else None,
                     "exact": exact, "note": note})

    vk = a.vocabkit or vocabkit_path()
    if os.access(vk, os.X_OK):
        try:
            got = [int(x) for x in run_cli([vk, "tokenize", "--file", path, "--format", "ids", "--threads", "1"]).split()]
            s, out = best(lambda: run_cli([vk, "tokenize", "--file", path, "--count", "--threads", "1"]), a.reps)
            exact = got == want and out.strip() == str(len(want)).encode()
            row("vocabkit", "process", s, exact)
            warm_args = [x for w in warm_up_files(path) for x in ("--warm-up", w)]
            for cmd in ([vk, "bench", "tokenize", "--threads", "1", "--json", path] + warm_args,
                        [vk, "bench", "tokenize", "--threads", "1", "--json", path],
                        [vk, "bench", "tokenize", "--threads", "1", path]):
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0:
                    continue
                try:
                    j = json.loads(r.stdout.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    continue
                f0 = (j.get("files") or [{}])[0]
                v = f0.get("mb_per_s", j.get("mb_per_s"))
                if v:
                    note = f"load {j['load_seconds']:.3f} s" if "load_seconds" in j else ""
                    cpu = lambda key: mb / f0[key] if f0.get(key) else None
                    if f0.get("cold_mb_per_s"):
                        row("vocabkit", "cold (bench)", mb / f0["cold_mb_per_s"], exact, note, cpu("cold_cpu_mb_per_s"))
                    if f0.get("steady_mb_per_s"):
                        row("vocabkit", "steady (bench)", mb / f0["steady_mb_per_s"], exact,
                            f"after {len(warm_args) // 2} other file(s)", cpu("steady_cpu_mb_per_s"))
                    row("vocabkit", "warm (bench)", mb / v, exact, "", cpu("cpu_mb_per_s"))
                    break
        except RuntimeError as e:
            row("vocabkit", "process", None, False, str(e))
    else:
        peers.skipped["vocabkit"] = f"no binary at {vk}"

    for name, build in builders:
        if name in peers.skipped:
            continue
        if name not in builders_cache:
            try:
                t = time.perf_counter()
                builders_cache[name] = build()
                peers.load_s.setdefault(name, time.perf_counter() - t)
            except Exception as e:  # missing package, incompatible API
                peers.skipped[name] = f"{type(e).__name__}: {e}"
                continue
        fn = builders_cache[name]
        t, c = time.perf_counter(), time.process_time(); got = fn(text)
        cold, cold_cpu = time.perf_counter() - t, time.process_time() - c
        s, _ = best(lambda: fn(text), a.reps)
        s_cpu = best_cpu(lambda: fn(text), a.reps)
        exact = [int(x) for x in got] == want
        note = ""
        if not exact:
            got = [int(x) for x in got]
            i = next((k for k, (x, y) in enumerate(zip(got, want)) if x != y), min(len(got), len(want)))
            note = f"first diff at token {i} ({len(got)} vs {len(want)} tokens)"
        if name == "gigatoken":
            first = name not in peers.first_done
            peers.first_done.add(name)
            row(name, "cold first encode" if first else "first encode", cold, exact,
                f"load {peers.load_s[name]:.2f} s" if first else "", cold_cpu)
        row(name, "warm", s, exact, note, s_cpu)
        warm = warm_up_files(path)
        if name == "gigatoken" and warm:
            # A fresh tokenizer warmed on the other files of this kind, then this file once.
            import gigatoken
            tok = gigatoken.Tokenizer(peers.ref)
            for w in warm:
                tok.encode(open(w, encoding="utf-8").read())
            t, c = time.perf_counter(), time.process_time(); tok.encode(text)
            steady, steady_cpu = time.perf_counter() - t, time.process_time() - c
            row(name, "steady", steady, exact, f"after {len(warm)} other file(s)", steady_cpu)

    ll = os.environ.get("LLAMA_TOKENIZE", "/tmp/peers/llama.cpp/build/bin/llama-tokenize")
    gguf = os.environ.get("LLAMA_VOCAB_GGUF", os.path.join(ROOT, ".build-testdata", "ggml-vocab-qwen2.gguf"))
    if os.access(ll, os.X_OK) and os.path.isfile(gguf):
        cmd = [ll, "-m", gguf, "-f", path, "--ids", "--no-escape", "--log-disable", "--no-parse-special"]
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.dirname(ll))
        try:
            s, out = best(lambda: subprocess.run(cmd, capture_output=True, env=env, check=True).stdout, a.reps)
            got = [int(x) for x in out.decode().strip().strip("[]").replace(",", " ").split()]
            row("llama-tokenize", "process", s, got == want, "parse_special off")
        except (subprocess.CalledProcessError, ValueError) as e:
            row("llama-tokenize", "process", None, False, str(e)[:200])
    else:
        peers.skipped["llama-tokenize"] = f"needs {ll} and {gguf}"
    return rows


builders_cache = {}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="*")
    ap.add_argument("--corpus")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    ap.add_argument("--cpu", type=int, default=0, help="CPU to pin to (default 0)")
    ap.add_argument("--tiktoken")
    ap.add_argument("--vocabkit")
    a = ap.parse_args()
    try:
        os.sched_setaffinity(0, {a.cpu})
    except (AttributeError, OSError):
        pass
    files = a.files or default_files(corpus_dir(a.corpus))
    peers = Peers(a.tiktoken)
    builders = [("hf-tokenizers", peers.hf), ("tiktoken", peers.tiktoken_enc), ("bpe-qwen", peers.bpe_qwen),
                ("gigatoken", peers.gigatoken)]
    rows = []
    for f in files:
        if not a.json:
            print(f"benchmarking {f} ...", file=sys.stderr, flush=True)
        rows += bench_file(os.path.abspath(f), peers, builders, a)
    # ratios: vocabkit (process, and warm when present) over each peer's warm figure
    for r in rows:
        vkp = next((x for x in rows if x["file"] == r["file"] and x["tool"] == "vocabkit" and x["mode"] == "process"), None)
        vkw = next((x for x in rows if x["file"] == r["file"] and x["tool"] == "vocabkit" and x["mode"] == "warm (bench)"), None)
        vks = next((x for x in rows if x["file"] == r["file"] and x["tool"] == "vocabkit" and x["mode"] == "steady (bench)"), None)
        for key, v in (("vocabkit_process_ratio", vkp), ("vocabkit_warm_ratio", vkw), ("vocabkit_steady_ratio", vks)):
            r[key] = (v["mb_per_s"] / r["mb_per_s"]) if v and v["mb_per_s"] and r["mb_per_s"] else None
    # The goals' ratios against gigatoken, by clock and by process CPU time (cold: vocabkit's cold against
    # gigatoken's first encode of the first file, its only cold call in the run).
    summary = []
    for f in dict.fromkeys(r["file"] for r in rows):
        get = lambda tool, mode: next((x for x in rows if x["file"] == f and x["tool"] == tool and x["mode"] == mode), None)
        for label, vk_mode, peer, peer_mode in (("warm", "warm (bench)", "gigatoken", "warm"),
                                                ("steady", "steady (bench)", "gigatoken", "steady"),
                                                ("cold", "cold (bench)", "gigatoken", "cold first encode"),
                                                ("warm", "warm (bench)", "tiktoken", "warm")):
            v, p = get("vocabkit", vk_mode), get(peer, peer_mode)
            if not v or not p:
                continue
            ratio = lambda key: v[key] / p[key] if v.get(key) and p.get(key) else None
            summary.append({"file": f, "figure": label, "peer": peer, "clock_ratio": ratio("mb_per_s"),
                            "cpu_ratio": ratio("cpu_mb_per_s")})
    if a.json:
        print(json.dumps({"cpu": a.cpu, "reps": a.reps, "rows": rows, "ratios": summary, "skipped": peers.skipped,
                          "load_seconds": peers.load_s, "reference_build_seconds": peers.ref_build_s}, indent=1))
        return
    print(f"\n{'file':38s} {'tool':15s} {'mode':18s} {'MB/s':>8s} {'CPU MB/s':>8s} {'exact':>5s} {'vk/peer':>8s} {'vkwarm/peer':>11s} "
          f"{'vksteady/peer':>13s}  note")
    fmt = lambda x: f"{x:8.2f}" if isinstance(x, float) else f"{'-':>8s}"
    for r in rows:
        print(f"{r['file'][-38:]:38s} {r['tool']:15s} {r['mode']:18s} {fmt(r['mb_per_s'])} {fmt(r['cpu_mb_per_s'])} "
              f"{'yes' if r['exact'] else 'NO':>5s} {fmt(r['vocabkit_process_ratio'])} "
              f"{fmt(r['vocabkit_warm_ratio']):>11s} {fmt(r['vocabkit_steady_ratio']):>13s}  {r['note']}")
    print(f"\n{'file':38s} {'vocabkit / peer':24s} {'by clock':>9s} {'by CPU':>9s}")
    for x in summary:
        print(f"{x['file'][-38:]:38s} {x['figure'] + ' / ' + x['peer']:24s} {fmt(x['clock_ratio']):>9s} {fmt(x['cpu_ratio']):>9s}")
    if peers.load_s:
        print("load seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in peers.load_s.items()) +
              f", reference build {peers.ref_build_s:.2f}")
    for k, v in peers.skipped.items():
        print(f"skipped {k}: {v}")


if __name__ == "__main__":
    main()
