#!/usr/bin/env python3
"""Token usage of a JSON Lines or Parquet dataset with Ray Data: `map_batches` pipes each batch's documents,
as JSON Lines, through `vocabkit count --jsonl text - -o -` and turns the batch's table into records; the
records are summed with `groupby(...).sum()` and written as one table that `vocabkit prune --usage` takes
(the same table `vocabkit count` writes for the same documents on one machine).

    python3 Scripts/distributed/ray_count.py --address auto --vocabkit /opt/vocabkit/bin/vocabkit \\
        --vocab /models/model.gguf --parquet s3://bucket/corpus/ --field text -o usage.tsv
    python3 Scripts/distributed/ray_count.py --num-cpus 2 --jsonl corpus.jsonl -o usage.tsv

Both formats are read by Ray (read_json with lines=True, read_parquet), so --field names a column; a dotted
path selects a field of a struct column (nested JSON objects become structs). Every worker runs the vocabkit
binary and reads the --vocab file at the paths given. Documents are counted exactly as vocabkit counts
files: no token spans two.
"""
import argparse, json, os, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import usage_table  # noqa: E402


def count_batch(batch, command, field, width):
    """The map step: one vocabkit process per batch; its table as records, columns key, c0 … c{width-1}."""
    import pyarrow as pa
    import pyarrow.compute as pc
    column = batch.column(field[0])
    for name in field[1:]:
        column = pc.struct_field(column, name)
    lines = "".join(json.dumps({"text": text}, ensure_ascii=False) + "\n" for text in column.to_pylist())
    run = subprocess.run(command, input=lines.encode("utf-8"), capture_output=True)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {run.stderr.decode('utf-8', 'replace').strip()}")
    records = list(usage_table.table_records(run.stdout.decode("utf-8").split("\n")))
    columns = {"key": pa.array([key for key, _ in records], pa.string())}
    for k in range(width):
        columns[f"c{k}"] = pa.array([values[k] if k < len(values) else 0 for _, values in records], pa.int64())
    return pa.table(columns)


def count_columns(command):
    """How many count columns vocabkit's tables have: asked of vocabkit itself, with no documents."""
    run = subprocess.run(command, input=b"", capture_output=True, check=True)
    layout = [line for line in run.stdout.decode("utf-8").split("\n") if line.startswith("# columns ")][0]
    return len([name for name in layout.split()[2:] if name not in ("id", "piece")])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--jsonl", nargs="+", help="JSON Lines file(s) or folder(s) (any path Ray reads)")
    source.add_argument("--parquet", nargs="+", help="Parquet file(s) or folder(s) (any path Ray reads)")
    ap.add_argument("--field", default="text", help="the documents' column (dotted for a struct's field)")
    ap.add_argument("-o", "--output", required=True, help="the summed usage table ('-': stdout)")
    ap.add_argument("--vocabkit", default="vocabkit", help="the vocabkit binary on the workers")
    ap.add_argument("--vocab", help="count with this vocabulary (the model you will prune), as vocabkit --vocab")
    ap.add_argument("--address", help="a running Ray cluster ('auto'); default: start one on this machine")
    ap.add_argument("--num-cpus", type=int, help="CPUs for a Ray started here (default: all)")
    ap.add_argument("--batch-size", type=int, default=4096, help="documents per vocabkit process")
    ap.add_argument("--skip-invalid", action="store_true", help="skip (and count) documents that are not strings")
    args = ap.parse_args()

    import ray
    import ray.cloudpickle
    # The workers run count_batch, which uses the table helpers: ship them by value, not by module name.
    ray.cloudpickle.register_pickle_by_value(usage_table)
    if args.address:
        ray.init(address=args.address)
    else:
        ray.init(num_cpus=args.num_cpus, include_dashboard=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    field = args.field.split(".")
    if args.jsonl:
        documents = ray.data.read_json(args.jsonl, lines=True).select_columns([field[0]])
    else:
        documents = ray.data.read_parquet(args.parquet, columns=[field[0]])
    command = [args.vocabkit, "count", "--jsonl", "text", "-", "-o", "-", "--quiet", "--allow-empty", "--threads", "1"]
    if args.vocab:
        command += ["--vocab", args.vocab]
    if args.skip_invalid:
        command.append("--skip-invalid")
    width = count_columns(command)
    records = documents.map_batches(count_batch, fn_kwargs={"command": command, "field": field, "width": width},
                                    batch_format="pyarrow", batch_size=args.batch_size)
    value_columns = [f"c{k}" for k in range(width)]
    # One reduce partition per CPU: the keys are at most a vocabulary's worth of rows plus a few headers.
    summed = records.groupby("key", num_partitions=max(1, int(ray.cluster_resources().get("CPU", 1)))).sum(value_columns)
    rows = ((row["key"], tuple(int(row[f"sum({name})"]) for name in value_columns)) for row in summed.iter_rows())
    usage_table.write_table(rows, args.output)
    ray.shutdown()


if __name__ == "__main__":
    main()
