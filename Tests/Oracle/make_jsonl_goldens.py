#!/usr/bin/env python3
"""Writes Tests/Fixtures/jsonl-goldens/lines.tsv: JSON Lines lines, hand-made and fuzzed, with what Python's
json module (its C scanner, as `json.loads` uses) makes of them, for `vocabkit count --jsonl` to agree with.

For each line (bytes, no line feed) and field path, the reference verdict is:
  blank         the line is only spaces, tabs and CRs (no document; json.loads would refuse it, count skips it)
  document      text = the field's string encoded as UTF-8
  invalid-utf8  the line is not UTF-8 (bytes.decode('utf-8') fails)
  not-json      json.loads fails
  not-object    a JSON value, but not an object
  missing       the field (or an object on its path) is absent
  wrong-kind    the field is not a string, or a step of its path is not an object
  surrogate     the field's string holds an unpaired surrogate (\\ud800 …), which UTF-8 cannot encode
Lines that Python refuses only for nesting past its recursion limit are left out.

Columns: case name, dotted field path, line as hex, verdict, text as hex (documents only).
Deterministic (seeded). Python 3.8+ standard library only.

Usage: make_jsonl_goldens.py [--check]    (--check: compare with the committed file instead)
"""
import argparse, json, os, random, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "jsonl-goldens", "lines.tsv")


def verdict(line: bytes, path: str):
    try:
        s = line.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid-utf8", b""
    if s.strip(" \t\r") == "":
        return "blank", b""
    try:
        value = json.loads(s)
    except RecursionError:
        return None
    except ValueError:
        return "not-json", b""
    if not isinstance(value, dict):
        return "not-object", b""
    keys = path.split(".")
    for k in keys[:-1]:
        if k not in value:
            return "missing", b""
        value = value[k]
        if not isinstance(value, dict):
            return "wrong-kind", b""
    if keys[-1] not in value:
        return "missing", b""
    value = value[keys[-1]]
    if not isinstance(value, str):
        return "wrong-kind", b""
    try:
        return "document", value.encode("utf-8")
    except UnicodeEncodeError:
        return "surrogate", b""


def handmade():
    """(name, path, line bytes)"""
    c = []
    t = lambda name, line, path="text": c.append((name, path, line.encode("utf-8") if isinstance(line, str) else line))
    # plain documents and every escape
    t("plain", '{"text": "hello world"}')
    t("empty-text", '{"text": ""}')
    t("no-space", '{"text":"x"}')
    t("escapes", r'{"text": "q\" b\\ s\/ b\b f\f n\n r\r t\t"}')
    t("escape-at-ends", r'{"text": "\n"}')
    t("u-escapes", r'{"text": "\u0041\u00e9\u4e2d\uFFFD\uffff"}')
    t("u-nul", r'{"text": "a\u0000b"}')
    t("u-controls", r'{"text": "\u0001\u001f\u007f\u0085\u2028\u2029"}')
    t("pair", r'{"text": "\ud83d\ude00"}')
    t("pair-upper", r'{"text": "\uD83D\uDE00 x"}')
    t("pair-max", r'{"text": "\udbff\udfff"}')
    t("pair-min", r'{"text": "\ud800\udc00"}')
    t("lone-high", r'{"text": "a\ud800b"}')
    t("lone-high-end", r'{"text": "a\ud800"}')
    t("lone-low", r'{"text": "\udc00"}')
    t("reversed-pair", r'{"text": "\ude00\ud83d"}')
    t("high-high-low", r'{"text": "\ud83d\ud83d\ude00"}')
    t("high-then-u-ascii", r'{"text": "\ud83d\u0041"}')
    t("high-then-bad-hex", r'{"text": "\ud83d\uZZZZ"}')
    t("lone-elsewhere", r'{"other": "\ud800", "text": "fine"}')
    t("lone-key", '{"\\ud800": 1, "text": "ok"}')
    for bad in [r"\u12G4", r"\u+123", r"\u 123", r"\u123", r"\u", r"\x41", r"\'", r"\U0041", r"\a", r"\0", "\\"]:
        t("bad-escape " + bad, '{"text": "a' + bad + 'b"}')
    t("raw-utf8", '{"text": "héllo 中文 😀 עברית"}')
    t("raw-del", '{"text": "a\x7fb"}')
    for code in [0x00, 0x01, 0x09, 0x0D, 0x1F]:
        t(f"raw-control {code:02x}", b'{"text": "a' + bytes([code]) + b'b"}')
    t("raw-nbsp", '{"text": "a\u00a0b"}')
    # whitespace, line ends
    t("crlf", '{"text": "x"}\r')
    t("leading-ws", ' \t {"text": "x"}')
    t("ws-everywhere", ' { "text" : "x" , "n" : [ 1 , 2 ] } \t\r')
    t("formfeed-ws", '{\f"text": "x"}')
    t("vtab-ws", '{"text": "x"}\v')
    t("nbsp-ws", '{"text": "x"}\u00a0')
    t("bom-inside", '\ufeff{"text": "x"}')
    t("blank", "")
    t("blank-spaces", "   \t ")
    t("blank-cr", "\r")
    # structure
    t("trailing-comma", '{"text": "x",}')
    t("trailing-comma-array", '{"text": "x", "a": [1,]}')
    t("two-objects", '{"text": "a"}{"text": "b"}')
    t("garbage-after", '{"text": "a"} x')
    t("unclosed", '{"text": "a"')
    t("unterminated", '{"text": "a}')
    t("single-quotes", "{'text': 'x'}")
    t("comment", '{"text": "x"} // c')
    t("unquoted-key", '{text: "x"}')
    t("empty-object", "{}")
    t("empty-key", '{"": "x", "text": "y"}')
    t("colon-missing", '{"text" "x"}')
    t("comma-missing", '{"a": 1 "text": "x"}')
    t("nested-unclosed", '{"a": {"b": [1, {"c": 2}], "text": "x"}')
    t("array-top", '["text", "x"]')
    t("string-top", '"text"')
    t("number-top", "12")
    t("null-top", "null")
    t("object-then-array", '{"text": "x"}]')
    # values of other kinds
    for v in ["1", "-0", "1.5e+3", "1E-2", "0.0", "-1", "123456789012345678901234567890", "1e999", "true", "false",
              "null", "NaN", "Infinity", "-Infinity", "[]", "{}", '["x"]', '{"text": "x"}']:
        t("kind " + v, '{"text": ' + v + "}")
    for v in ["01", "-", "+1", ".5", "1.", "1e", "1e+", "0x10", "1.2.3", "--1", "-01", "tru", "nul", "True", "None",
              "nan", "infinity", "-NaN", "Infinityx", "-Infinity1"]:
        t("bad-value " + v, '{"text": "x", "v": ' + v + "}")
    # keys: duplicates, escapes
    t("duplicate-last-wins", '{"text": "first", "text": "second"}')
    t("duplicate-last-not-string", '{"text": "first", "text": 5}')
    t("duplicate-string-after", '{"text": 5, "text": "second"}')
    t("escaped-key", '{"te\\u0078t": "x"}')
    t("escaped-key-slash", '{"te\\/xt": "x", "te/xt": "y"}', "te/xt")
    t("key-case", '{"Text": "x"}')
    t("key-prefix", '{"tex": "x", "texts": "y"}')
    # nested paths
    t("nested", '{"meta": {"content": "deep"}, "content": "shallow"}', "meta.content")
    t("nested-missing", '{"meta": {"other": "x"}}', "meta.content")
    t("nested-not-object", '{"meta": "x"}', "meta.content")
    t("nested-array", '{"meta": [{"content": "x"}]}', "meta.content")
    t("nested-duplicate-outer", '{"meta": {"content": "a"}, "meta": {"other": 1}}', "meta.content")
    t("nested-duplicate-inner", '{"meta": {"content": "a", "content": "b"}}', "meta.content")
    t("nested-three", '{"a": {"b": {"c": "abc"}}}', "a.b.c")
    t("nested-skip-deep", '{"x": [[[[{"y": [1, {"z": null}]}]]]], "a": {"b": {"c": "ok"}}}', "a.b.c")
    t("deep-nesting-200", '{"n": ' + "[" * 200 + "]" * 200 + ', "text": "x"}')
    t("deep-nesting-unbalanced", '{"n": ' + "[" * 200 + "]" * 199 + ', "text": "x"}')
    t("long-text", '{"text": "' + "abc def " * 300 + '"}')
    t("long-escapes", '{"text": "' + "\\u00e9\\n" * 200 + '"}')
    # bytes that are not UTF-8
    t("invalid-utf8", b'{"text": "a\xffb"}')
    t("overlong", b'{"text": "\xc0\xaf"}')
    t("surrogate-bytes", b'{"text": "\xed\xa0\x80"}')
    t("truncated-utf8", b'{"text": "\xe4\xb8"}')
    t("invalid-utf8-elsewhere", b'{"x": "\xff", "text": "fine"}')
    return c


ALPHABET = list('{}[]":,\\ \t\r0123456789-+.eEuUtfnrlsaNIy/bx') + ["\\u", "\\ud83d", "\\ude00", "\\u00e9",
                                                                   "é", "中", "😀", "\x00", "\x1f", "\x7f"]


def random_text(rng):
    parts = []
    for _ in range(rng.randrange(0, 12)):
        r = rng.random()
        if r < 0.5:
            parts.append(rng.choice(["def ", "x = 1", "hello", " world", "\n", "\t", "  ", "'s", "ünïcödé", "中文",
                                     "😀", "\u0301", "\r\n", "\"", "\\", "/", "<|im_start|>", "\u2028"]))
        elif r < 0.8:
            parts.append(chr(rng.randrange(0x20, 0x7F)))
        else:
            cp = rng.randrange(0, 0x110000)
            if 0xD800 <= cp <= 0xDFFF:
                cp = 0xFFFD
            parts.append(chr(cp))
    return "".join(parts)


def random_object(rng, depth=0):
    obj = {}
    for _ in range(rng.randrange(0, 4)):
        r = rng.random()
        key = rng.choice(["id", "meta", "url", "n", "tags", "score", "text"]) if r < 0.7 else random_text(rng)
        if r < 0.3 and depth < 3:
            obj[key] = random_object(rng, depth + 1)
        elif r < 0.5:
            obj[key] = [rng.randrange(-5, 5), random_text(rng), None, True, 1.5e10]
        else:
            obj[key] = rng.choice([random_text(rng), 42, -0.5, None, False])
    if rng.random() < 0.8:
        obj["text"] = random_text(rng)
    return obj


def fuzzed(rng, count):
    c = []
    for k in range(count):
        obj = random_object(rng)
        line = json.dumps(obj, ensure_ascii=rng.random() < 0.5, separators=rng.choice([(",", ":"), (", ", ": ")]))
        if rng.random() < 0.6:
            # Mutate: insert, delete or replace a few characters.
            chars = list(line)
            for _ in range(rng.randrange(1, 4)):
                op = rng.random()
                at = rng.randrange(0, len(chars) + 1)
                if op < 0.4:
                    chars.insert(at, rng.choice(ALPHABET))
                elif op < 0.7 and chars:
                    del chars[min(at, len(chars) - 1)]
                elif chars:
                    chars[min(at, len(chars) - 1)] = rng.choice(ALPHABET)
            line = "".join(chars)
        data = line.encode("utf-8", "surrogatepass")
        if rng.random() < 0.03:
            data = data.replace(b"e", b"\xff", 1)
        c.append((f"fuzz-{k:04d}", "text", data))
    return c


def rows():
    out = []
    for name, path, line in handmade() + fuzzed(random.Random(20240613), 900):
        v = verdict(line, path)
        if v is None:
            continue
        kind, text = v
        assert b"\n" not in line, name
        out.append("\t".join([name, path, line.hex(), kind, text.hex()]))
    return "# make_jsonl_goldens.py: name, path, line (hex), Python json's verdict, text (hex)\n" + "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = rows()
    if args.check:
        with open(OUT, encoding="utf-8") as f:
            if f.read() != text:
                sys.exit(f"{OUT} differs from what make_jsonl_goldens.py writes; run it to regenerate")
        print(f"{OUT}: matches the reference")
        return
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(OUT + ".tmp", OUT)
    kinds = {}
    for row in text.splitlines()[1:]:
        kinds[row.split("\t")[3]] = kinds.get(row.split("\t")[3], 0) + 1
    print(f"wrote {OUT}: {sum(kinds.values())} lines, {kinds}")


if __name__ == "__main__":
    main()
