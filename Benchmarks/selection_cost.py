#!/usr/bin/env python3
"""The cost of any vocabulary selection on held-out text, from one `vocabkit check --cost-only` run.

The original model's top-1 token at each position does not depend on the pruned copy, so a run that checks
one copy keeping almost nothing (the 256 byte tokens and the specials: `echo 0 > zero.keep; vocabkit prune
MODEL --usage U --keep-list zero.keep --top 1 -o minimal.gguf`) lists nearly every position's top-1 id in
`original_top1_pruned_ids`. From that list, the cost of any other selection -- the rate at which the
original's top-1 is a token the selection dropped -- is a count, without evaluating the model again.

    selection_cost.py CHECK.json --minimal INDEX REMAP.tsv [REMAP.tsv ...]

CHECK.json is `check --cost-only --json` output; INDEX the position of the minimal copy in its
`selections`; each REMAP.tsv is a selection's `prune --remap` file (old_id, new_id), or a plain list of kept
ids. Prints one TSV line per selection: kept ids, costly positions, positions, rate. With `--verify`, every
other selection in CHECK.json is recomputed from its remap (given in the same order as the run's copies,
the minimal one excluded) and compared with the run's own count, so the shortcut is checked on real runs.
"""
import argparse
import collections
import json
import sys


def kept_ids(path):
    ids = set()
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                ids.add(int(line.split()[0]))
    return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("check")
    ap.add_argument("--minimal", type=int, required=True, help="index of the minimal copy in the run's selections")
    ap.add_argument("--verify", action="store_true", help="compare with the run's own counts for its other copies")
    ap.add_argument("remaps", nargs="+")
    args = ap.parse_args()

    run = json.load(open(args.check))
    selections = run["selections"]
    if not (0 <= args.minimal < len(selections)):
        sys.exit(f"error: --minimal {args.minimal}: the run has {len(selections)} selections")
    minimal = selections[args.minimal]
    if minimal["kept_tokens"] > 1000:
        sys.exit(f"error: selection {args.minimal} keeps {minimal['kept_tokens']} ids; the minimal copy should keep "
                 "only the bytes and the specials")
    top1 = collections.Counter(i for text in minimal["results"] for i in text["original_top1_pruned_ids"])
    positions = run["positions"]

    def cost(kept):
        return sum(n for token, n in top1.items() if token not in kept)

    others = [s for k, s in enumerate(selections) if k != args.minimal]
    failed = False
    print("selection\tkept_ids\tcostly_positions\tpositions\trate")
    for k, path in enumerate(args.remaps):
        kept = kept_ids(path)
        c = cost(kept)
        print(f"{path}\t{len(kept)}\t{c}\t{positions}\t{100 * c / positions:.3f}%")
        if args.verify and k < len(others):
            expected = others[k]["original_top1_pruned"]
            if c != expected or len(kept) != others[k]["kept_tokens"]:
                print(f"MISMATCH {path}: computed {c} costly positions of {len(kept)} ids, the run counted "
                      f"{expected} of {others[k]['kept_tokens']}", file=sys.stderr)
                failed = True
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
