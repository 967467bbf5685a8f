#!/usr/bin/env python3
"""Writes Tests/Fixtures/goldens/adversarial.json: adversarial tokenizer cases with the reference's answers.

Schema: a JSON list of objects, one per case, in a fixed order:
  name            unique, stable identifier ("group/what")
  text            the input (absent for generated cases, see below)
  prefix, repeat, count, suffix
                  generated cases only: text = prefix + repeat * count + suffix (prefix/suffix default "")
  ids             reference ids, special tokens matched whole (qwen_reference.build(special_tokens=True))
  ids_no_special  reference ids with no added tokens: "<|endoftext|>" etc. are plain text
  decoded         reference decode of ids (ByteLevel decoder, specials kept as their text); may be absent
                  in generated cases, and then equals nfc
  nfc             the reference normalizer's NFC of the whole text (tok.normalizer.normalize_str); may be
                  absent in generated cases, and then equals text. The tokenizer itself normalizes only the
                  text between added tokens, so around a special token nfc may differ from what is encoded
                  ("<|endoftext|>" + U+0338: nfc ends in U+226F, ids are [151643, 136, 116])
  unicodedata_nfc_differs
                  present (true) only where Python's unicodedata (Unicode 14.0 in Python 3.11) gives a
                  different NFC than the reference normalizer
  unicode_version_sensitive
                  present (true) only where text holds code points unassigned in this Python's unicodedata
                  (their \\p{L}/\\p{N} class or NFC may change with the Unicode version; the ids are still
                  the reference's answer)
Texts are Unicode scalar strings (no surrogates); encode them as UTF-8.

Usage: make_goldens.py [--tiktoken PATH] [--check]    (--check: compare with the committed file instead)
"""
import argparse, json, os, random, sys, unicodedata

from common import ROOT, reference
import make_vocab  # via qwen_reference's sys.path entry

OUT = os.path.join(ROOT, "Tests", "Fixtures", "goldens", "adversarial.json")
SPECIALS = [t for t, _ in make_vocab.SPECIALS]


def cases():
    c = []
    add = lambda name, text: c.append({"name": name, "text": text})
    gen = lambda name, repeat, count, prefix="", suffix="": c.append(
        {"name": name, "prefix": prefix, "repeat": repeat, "count": count, "suffix": suffix})

    add("basic/empty", "")
    for t in ["a", "Hello world", " Hello world", "Hello, world!", "hello\nworld", "I'm fine, you're not."]:
        add(f"basic/{t!r}", t)

    # whitespace at the end and in runs
    for t in [" ", "  ", "   ", "\t", "\n", "\n\n", "\r", "\r\n", " \n", "\n ", "a ", "a  ", "a   ", "a\t", "a \t",
              "a\t ", "a \n", "a\n ", "a \n\n", "a\n\n ", "a\r\n", "a \r\n", "a\r\n ", "a\n", "a\n\n\n",
              "a \u00a0", "a\u00a0", "a\u3000", "a \u3000 ", "x \t", "Hello world ", "Hello world  \n  "]:
        add(f"trailing/{t!r}", t)
    for t in ["a\r\n\r\n b", "\r\r\n\n", " \n \n ", "\t \t\n", "\r\n\r\n", "a\r\rb", "a\n\rb", " \r\n x",
              "x\r\n  y", "x  \r\n\r\n  y", "\n\n\n\t\t  x", "  \n\t\n  \t  x", "a \r b", "\r \r \r", "\n \n",
              "x\n \ny", "x \n y", "x\t\n\ty", "x\f\ny", "x\v\ny", "x\u0085\ny", "x\n\u2028y"]:
        add(f"crlf/{t!r}", t)
    for t in ["\t  ", "x   ", "x \t ", "   x", "  x  ", "x  y", "x   y", "x \t y", "x\t\ty", "x  \n", "x\n  ",
              "x \u00a0y", "x\u00a0 y", "x  \u00a0", " \u00a0 ", "x  !", "x   1", "x  'y", "  'll", "   \u3000x"]:
        add(f"lookahead/{t!r}", t)

    # special tokens
    for s in SPECIALS:
        add(f"special/in-word/{s}", f"ab{s}cd")
    for i, s in enumerate(SPECIALS):
        add(f"special/adjacent/{s}+{SPECIALS[(i + 1) % len(SPECIALS)]}", s + SPECIALS[(i + 1) % len(SPECIALS)])
    for t in ["<|im_start", "<|im_start|", "<<|im_end|>>", "<|im_start|><|im_start|>", "<|endoftext|>",
              " <|endoftext|> ", "\n<|endoftext|>\n", "<|endoftext|><|endoftext|><|endoftext|>",
              "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n", "<|endoftext", "|endoftext|>",
              "<|ENDOFTEXT|>", "< |endoftext|>", "<|end of text|>", "<think>\nhmm\n</think>\n\nok", "<think",
              "</think", "<tool_call>{\"a\": 1}</tool_call>", "<|fim_prefix|>def f(<|fim_suffix|>):<|fim_middle|>",
              "<|<|im_start|>|>", "<|im_start|>\u0301", "e<|endoftext|>\u0301", "<|im_end|>'s", "x<|im_end|>  ",
              "<|vision_start|><|image_pad|><|image_pad|><|vision_end|>", "<|box_start|>(1,2)<|box_end|>",
              "<|repo_name|>vocabkit\n<|file_sep|>a.py\nprint(1)"]:
        add(f"special/misc/{t!r}", t)

    # added tokens are split off before NFC: ">" + U+0338 would compose to U+226F, "<" + U+0338 to U+226E
    for t in ["<|endoftext|>\u0338", "<think>\u0338", "</tool_call>\u0338x", "\u0338<|endoftext|>",
              "<\u0338|endoftext|>", "a<|im_end|>\u0301b", ">\u0338", "<\u0338", "x<|im_start|>\u0338\u0301"]:
        add(f"special/nfc-boundary/{t!r}", t)

    # the reference's \\p{L}/\\p{N} follow Unicode 16.0 (tokenizers 0.23.3): letters and digits new in 15.0, 15.1
    # and 16.0 join words and take contractions ("{c}'s" -> c + "'s"); with older tables they are symbols
    for cp in [0x1C89, 0xA7CB, 0xA7DC, 0x105C0, 0x10D40, 0x10D4A, 0x10D50, 0x11F04, 0x1E4D0, 0x2EBF0, 0x31350,
               0x16D70, 0x1E5F1, 0x116D0]:
        ch = chr(cp)
        add(f"unicode16/U+{cp:04X}", f"a{ch}b {ch}'s '{ch} x{ch}{ch}1")

    # emoji
    for t in ["😀", "👨‍👩‍👧‍👦", "👩🏽‍💻", "🏳️‍🌈", "🇯🇵🇫🇷🇺🇸", "🇯", "👍🏻👍🏼👍🏽👍🏾👍🏿", "❤️", "☺︎", "1️⃣#️⃣",
              "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "a👨‍👩‍👧‍👦b", " 🦙🦙", "😶‍🌫️", "🧑‍🤝‍🧑", "\u200d", "a\u200db", "x\ufe0f", "🫠🫨🪿"]:
        add(f"emoji/{t!r}", t)

    # normalization
    for t in ["e\u0301", "A\u030A", "\u1100\u1161\u11A8", "\u0041\u0327\u0301", "e\u0301\u0301", "\u0301",
              " \u0301", "a \u0301", "\u212b", "\u2126", "\u00c5", "\ufb01", "\u0958", "\u2000x", "\u1e9b\u0323",
              "\u0344", "\uf900", "\U0002F800", "\u1100\u1161", "\uac00\u11a8", "\u0e40\u0e01\u0e48\u0e32",
              "Ti\u00ea\u0301ng Vi\u00ea\u0323t",
              unicodedata.normalize("NFD", "Tiếng Việt là ngôn ngữ chính thức của Việt Nam, được hơn chín mươi triệu người sử dụng."),
              unicodedata.normalize("NFD", "Ça m'a coûté très cher, à Noël."),
              unicodedata.normalize("NFD", "한국어 텍스트 정규화"), "o\u0308\u0304", "\u0627\u0653", "\u0915\u093c",
              "\u09c7\u09be", "\u0b47\u0b3e", "\u0dd9\u0dcf", "\u1025\u102e", "a\u0328\u0301", "\u0061\u0315\u0300\u05ae\u0300\u0062"]:
        add(f"nfc/{t!r}", t)

    # digits
    for t in ["1234567890", "٣٤٥", "१२३", "１２３４５", "12.5%", "3.14159", "1,000,000", "0x1F", "v1.2.3", "²³",
              "½", "Ⅻ", "①②", "𝟘𝟙𝟚", "a1b2c3", "1a", " 12", "'1", "x99y", "٣٤٥abc", "🄀", "〇一二", "۱۲۳", "߁߂"]:
        add(f"digits/{t!r}", t)

    # contractions
    for t in ["'s 'S 't 'T 're 'RE 'Re 'rE 've 'VE 'm 'M 'll 'LL 'Ll 'd 'D", "don't DON'T", "'ſ", "’s", "''s",
              "I'll we've they'RE he'D", "'", "''", "'''", " 's", "a's", "1's", "'sa", "'tis", "'llama", "'L",
              "'l", "'dd", "'S's", "'\u0130", "'K", "'K\u0301", "e's\u0301", "'\nll", "'s\n", "x 'm y",
              "'\u017fs", "'İ", "'\u212a", "'ʼs"]:
        add(f"contraction/{t!r}", t)

    # unusual whitespace
    ws = ["\u000b", "\u000c", "\u0085", "\u00a0", "\u2028", "\u2029", "\u3000", "\u1680", "\u2007", "\u202f",
          "\u205f", "\u180e", "\u200b", "\ufeff", "\u001c", "\u001f"]
    for w in ws:
        for pat in ["{w}", "a{w}", "{w}a", "a{w}b", "a {w}b", "a{w} b", "{w}{w}", "a{w}\nb", "{w}'s", "1{w}2"]:
            add(f"ws/U+{ord(w):04X}/{pat}", pat.format(w=w))

    # scripts
    for t in ["किताब", "हिन्दी", "नमस्ते दुनिया", "क्षत्रिय", "தமிழ்", "தமிழ் மொழி", "বাংলা", "বাংলা ভাষা", "ગુજરાતી",
              "ਪੰਜਾਬੀ", "తెలుగు", "ಕನ್ನಡ", "മലയാളം", "සිංහල", "ภาษาไทย", "ພາສາລາວ", "မြန်မာ", "ខ្មែរ", "བོད་ཡིག",
              "ქართული", "Հայերեն", "עִבְרִית", "العربية", "مَرْحَبًا", "فارسی‌نویسی", "اردو", "ܣܘܪܝܝܐ", "ދިވެހި",
              "Ελληνικά", "Русский язык", "Українська", "日本語のテキスト", "ｶﾀｶﾅ", "中文文本，标点。", "한국어", "ᠮᠣᠩᠭᠣᠯ",
              "ᏣᎳᎩ", "ⴰⵎⴰⵣⵉⵖ", "𐌰𐌱𐌲", "𓀀𓀁", "Hello世界123мир!", "abcабвαβγ", "x=1; // 注释", "Straße", "ǅungla",
              "İstanbul ıi", "ﬀ", "ꙮ", "Ǆ", "ß"]:
        add(f"script/{t!r}", t)

    # code, markdown, urls, identifiers
    for t in ["def f(x):\n\treturn x\n", "def f(x):\n    if x:\n        return 1\n    return 0\n",
              "\tif (a) {\n\t\tb();\n\t}\n", "  \t  mixed = 1\n", "int main(void) { return 0; }\n",
              "#include <stdio.h>\n", "x += 1;\r\n", "a_b_c_d_e_f_g_h", "camelCaseIdentifierThatIsVeryLongIndeed",
              "SCREAMING_SNAKE_CASE_CONSTANT_42", "__init__", "self.assertEqual(a, b)", "foo->bar->baz",
              "std::vector<std::string>", "x = [1, 2, 3]\n", "if x == y:\n    pass", "/* comment */",
              "// comment\n", "-- sql\nSELECT * FROM t;", "<div class=\"a\">x</div>", "{\"key\": [1, 2.5, null]}",
              "# Title\n\n## Sub\n\n- item\n- **bold** _it_\n\n```py\nprint(1)\n```\n", "> quote\n>> nested",
              "| a | b |\n|---|---|\n| 1 | 2 |", "[link](https://example.com/path?q=1&r=2#frag)",
              "https://www.example.org/a/b/c.html", "mailto:someone@example.com", "ftp://x.y/z_1-2.tar.gz",
              "C:\\Users\\x\\file.txt", "/usr/local/bin/python3", "$HOME/.config", "a  =  b", "...", "!!!!!!",
              "?!?!", "------======", "'''''''```````\"\"\"\"", "\\n\\t", "~~~", "@@ -1,2 +1,3 @@", "0b1010_1010",
              "1e-10", "λx.x", "∀x∈ℝ", "→⇒⟶", "x² + y²", "©®™", "…—–", "«»‹›", "“quoted”", "‘single’"]:
        add(f"code/{t!r}", t)
    add("code/long-identifier", "very_long_identifier_" * 40)
    add("code/long-word", "Donaudampfschifffahrtsgesellschaftskapitän" * 5)

    # generated long runs
    gen("long/5000-a", "a", 5000)
    gen("long/5000-space", " ", 5000)
    gen("long/5000-newline", "\n", 5000)
    gen("long/5000-tab", "\t", 5000)
    gen("long/5000-crlf", "\r\n", 2500)
    gen("long/5000-space-then-x", " ", 5000, suffix="x")
    gen("long/x-then-5000-space", " ", 5000, prefix="x")
    gen("long/3000-digits", "7", 3000)
    gen("long/2000-ideographs", "中", 2000)
    gen("long/2000-emoji", "😀", 2000)
    gen("long/2000-combining", "\u0301", 2000, prefix="e")
    gen("long/1000-ab", "ab ", 1000)
    gen("long/1000-nbsp", "\u00a0", 1000, prefix="x")
    add("long/100-space-x", " " * 100 + "x")
    add("long/100-space-newline-x", " " * 100 + "\n" + "x")
    add("long/100-newline-space", "\n" * 100 + " ")

    # random strings (fixed seed): astral, unassigned, combining, controls, whitespace
    rng = random.Random(20261123)
    pools = [
        (0x20, 0x7E), (0x00, 0x1F), (0x80, 0x24F), (0x300, 0x36F), (0x370, 0x52F), (0x590, 0x6FF), (0x900, 0xDFF),
        (0x1100, 0x11FF), (0x2000, 0x206F), (0x3000, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xE000, 0xF8FF),
        (0xFB00, 0xFFFF), (0x10000, 0x1FFFF), (0x1F300, 0x1FAFF), (0x20000, 0x3134F), (0xE0000, 0xE01EF),
        (0x30000, 0x10FFFF),
    ]
    for i in range(200):
        n = rng.randint(1, 24)
        chars = []
        for _ in range(n):
            lo, hi = pools[rng.randrange(len(pools))]
            cp = rng.randint(lo, hi)
            if 0xD800 <= cp <= 0xDFFF:
                cp = 0xFFFD
            chars.append(chr(cp))
            if rng.random() < 0.15:
                chars.append(rng.choice([" ", "  ", "\n", "'s", "'", "\r\n", "\t", "1", "a"]))
        add(f"random/{i:03d}", "".join(chars))
    return c


def text_of(case):
    if "text" in case:
        return case["text"]
    return case.get("prefix", "") + case["repeat"] * case["count"] + case.get("suffix", "")


def build(tiktoken):
    tok = reference(tiktoken)
    tok_ns = reference(tiktoken, special_tokens=False)
    out, names = [], set()
    for case in cases():
        if case["name"] in names:  # the same literal listed twice
            continue
        names.add(case["name"])
        text = text_of(case)
        ids = tok.encode(text).ids
        rec = dict(case)
        if "text" not in case:
            rec = {k: v for k, v in case.items() if not (k in ("prefix", "suffix") and v == "")}
        rec["ids"] = ids
        rec["ids_no_special"] = tok_ns.encode(text).ids
        nfc = tok.normalizer.normalize_str(text)
        decoded = tok.decode(ids, skip_special_tokens=False)
        if "text" in case:
            rec["decoded"] = decoded
            rec["nfc"] = nfc
        else:
            if nfc != text:
                rec["nfc"] = nfc
            if decoded != nfc:
                rec["decoded"] = decoded
        if unicodedata.normalize("NFC", text) != nfc:
            rec["unicodedata_nfc_differs"] = True
        if any(unicodedata.category(ch) == "Cn" for ch in text):
            rec["unicode_version_sensitive"] = True
        out.append(rec)
    return out


def dump(cases_):
    lines = ",\n".join(json.dumps(c, ensure_ascii=False, separators=(", ", ": ")) for c in cases_)
    return "[\n" + lines + "\n]\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiktoken")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    data = dump(build(a.tiktoken))
    if a.check:
        old = open(OUT, encoding="utf-8").read()
        if old != data:
            sys.exit(f"{OUT} is out of date: run {sys.argv[0]}")
        print(f"{OUT}: up to date")
        return
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(data)
    n = data.count('"name":')
    print(f"wrote {OUT}: {n} cases, {len(data.encode('utf-8'))} bytes")


if __name__ == "__main__":
    main()
