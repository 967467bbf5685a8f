#!/usr/bin/env python3
"""Token usage of a JSON Lines or Parquet dataset with Spark: each partition's documents are piped, as JSON
Lines, through `vocabkit count --jsonl text - -o -`; the partitions' tables are summed with reduceByKey and
written as one table that `vocabkit prune --usage` takes (the same table `vocabkit count` writes for the
same documents on one machine).

    spark-submit Scripts/distributed/spark_count.py --vocabkit /opt/vocabkit/bin/vocabkit \\
        --vocab /models/model.gguf --parquet s3://bucket/corpus/ --field text -o usage.tsv
    python3 Scripts/distributed/spark_count.py --master 'local[2]' --jsonl corpus.jsonl -o usage.tsv

JSON Lines are handed to vocabkit as they are (Spark splits the files into lines, vocabkit parses them), so
--field may be a dotted path into nested objects. Parquet columns are read by Spark and written out as
{"text": …} lines; --field names a column (a dotted path selects a struct field). Every executor runs the
vocabkit binary and reads the --vocab file at the paths given: install both on every node (or ship them with
--files and give their names). Documents are counted exactly as vocabkit counts files: no token spans two.
"""
import argparse, json, os, shlex, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import usage_table  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--jsonl", nargs="+", help="JSON Lines files or folders (any paths Spark reads)")
    source.add_argument("--parquet", nargs="+", help="Parquet files or folders (any paths Spark reads)")
    ap.add_argument("--field", default="text", help="the documents' field (dotted for nested fields)")
    ap.add_argument("-o", "--output", required=True, help="the summed usage table ('-': stdout)")
    ap.add_argument("--vocabkit", default="vocabkit", help="the vocabkit binary on the executors")
    ap.add_argument("--vocab", help="count with this vocabulary (the model you will prune), as vocabkit --vocab")
    ap.add_argument("--master", help="Spark master, e.g. local[2] (default: what spark-submit gives)")
    ap.add_argument("--partitions", type=int, help="repartition the documents into this many parts first")
    ap.add_argument("--threads", type=int, default=1,
                    help="vocabkit threads per partition (default 1: Spark already runs a partition per core)")
    ap.add_argument("--skip-invalid", action="store_true", help="skip (and count) lines that are not documents")
    args = ap.parse_args()

    from pyspark.sql import SparkSession
    builder = SparkSession.builder.appName("vocabkit count")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    # The executors' Python workers import the table helpers from the file shipped here.
    spark.sparkContext.addPyFile(usage_table.__file__)
    field = args.field
    if args.jsonl:
        # Lines split at LF only, so a CR inside a line stays JSON whitespace; vocabkit reads the field.
        lines = spark.read.option("lineSep", "\n").text(args.jsonl).rdd.map(lambda row: row.value)
    else:
        column = spark.read.parquet(*args.parquet).select(field)
        lines = column.rdd.map(lambda row: json.dumps({"text": row[0]}, ensure_ascii=False))
        field = "text"
    if args.partitions:
        lines = lines.repartition(args.partitions)
    command = [args.vocabkit, "count", "--jsonl", field, "-", "-o", "-", "--quiet", "--allow-empty",
               "--threads", str(args.threads)]
    if args.vocab:
        command += ["--vocab", args.vocab]
    if args.skip_invalid:
        command.append("--skip-invalid")
    tables = lines.pipe(shlex.join(command), checkCode=True)
    summed = tables.mapPartitions(usage_table.table_records).reduceByKey(usage_table.add).collect()
    usage_table.write_table(summed, args.output)
    spark.stop()


if __name__ == "__main__":
    main()
