"""Usage tables (`vocabkit count -o -`) as key/value records that a distributed engine can sum by key, and the
one table written from the summed records. Used by spark_count.py and ray_count.py; standard library only.

A table becomes records (key, values), values a tuple of ints:
  "#NAME"        a header total (files, documents, bytes, skipped, total:COLUMN): summed
  "=NAME VALUE"  a header value that must be the same everywhere (vocabulary, vocabulary-sha256,
                 vocabulary-size, columns, shards): values (1,) counts the tables that said it; two different values are an error
  "ID\tPIECE"    a row: one value per count column (count, then any further ones), summed
Summing the values of equal keys (Spark's reduceByKey, Ray's groupby().sum()) and writing the result gives
the table `vocabkit count --merge` would write: same header, rows most used first (ties by id).
"""
import sys

#: Header totals, in the order vocabkit writes them (tokens is recomputed from the rows).
TOTALS = ["files", "documents", "bytes", "tokens", "skipped"]
#: Header values that every summed table must share, in vocabkit's order.
SHARED = ["vocabulary", "vocabulary-sha256", "vocabulary-size", "shards", "columns"]


def table_records(lines):
    """Records of one table, given as its lines (str, with or without line ends)."""
    count_columns = None
    for line in lines:
        line = line.rstrip("\r\n")
        if not line:
            continue
        if line.startswith("#"):
            body = line[1:].lstrip(" ")
            name, _, value = body.partition(" ")
            if not value:
                continue
            if name in TOTALS:
                yield "#" + name, (int(value),)
            elif name == "total":
                column, _, n = value.partition(" ")
                yield "#total:" + column, (int(n),)
            elif name in SHARED:
                if name == "columns":
                    names = value.split()
                    count_columns = [n for n in names if n not in ("id", "piece")]
                    if names != ["id"] + count_columns + ["piece"]:
                        raise ValueError(f"unexpected column layout: {value}")
                yield f"={name} {value}", (1,)
            continue
        if count_columns is None:
            raise ValueError("a table row before the '# columns' line (is this vocabkit's table?)")
        fields = line.split("\t")
        values = tuple(int(v) for v in fields[1:1 + len(count_columns)])
        piece = fields[1 + len(count_columns)] if len(fields) > 1 + len(count_columns) else ""
        yield fields[0] + "\t" + piece, values


def add(a, b):
    """Sums two records' values column by column."""
    return tuple(x + y for x, y in zip(a, b))


def table_text(records):
    """The table (str) that the summed records make. Refuses records from tables counted with different
    vocabularies or column layouts, or that spell an id two ways."""
    totals, shared, rows = {}, {}, {}
    for key, values in records:
        if key.startswith("#"):
            totals[key[1:]] = totals.get(key[1:], 0) + values[0]
        elif key.startswith("="):
            name, _, value = key[1:].partition(" ")
            shared.setdefault(name, set()).add(value)
        else:
            token_id, _, piece = key.partition("\t")
            token_id = int(token_id)
            if token_id in rows:
                if rows[token_id][0] != piece:
                    raise ValueError(f"id {token_id} is spelled '{rows[token_id][0]}' and '{piece}': "
                                     "the tables were counted with different vocabularies")
                rows[token_id] = (piece, add(rows[token_id][1], values))
            else:
                rows[token_id] = (piece, values)
    for name, values in shared.items():
        if len(values) > 1:
            raise ValueError(f"the tables disagree on '# {name}': " + " / ".join(sorted(values))
                             + (" (counted with different vocabularies)" if name.startswith("vocabulary") else ""))
    columns = next(iter(shared.get("columns", {"id count piece"}))).split()
    count_columns = [n for n in columns if n not in ("id", "piece")]
    sums = [sum(values[k] for _, values in rows.values()) for k in range(len(count_columns))]
    totals["tokens"] = sums[0] if sums else 0
    out = ["# vocabkit token usage"]
    out += [f"# {name} {totals.get(name, 0)}" for name in TOTALS]
    for k, column in enumerate(count_columns[1:], start=1):
        if totals.get("total:" + column, sums[k]) != sums[k]:
            raise ValueError(f"the rows' {column} add up to {sums[k]}, the headers to {totals['total:' + column]}")
        out.append(f"# total {column} {sums[k]}")
    for name in SHARED:
        if name in shared:
            out.append(f"# {name} {next(iter(shared[name]))}")
    # Most used first, ties by id; then ids counted only in other columns, by id.
    order = sorted((token_id for token_id, (_, v) in rows.items() if v[0] > 0), key=lambda i: (-rows[i][1][0], i))
    order += sorted(token_id for token_id, (_, v) in rows.items() if v[0] == 0 and any(v))
    for token_id in order:
        piece, values = rows[token_id]
        out.append("\t".join([str(token_id)] + [str(v) for v in values] + [piece]))
    return "\n".join(out) + "\n"


def write_table(records, path):
    """Writes the table to `path` ('-': stdout) through a temporary file renamed when complete."""
    text = table_text(records)
    if path == "-":
        sys.stdout.write(text)
        return
    import os, tempfile
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
