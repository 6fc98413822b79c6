#!/usr/bin/python3
"""Generates engine/unicode_data.c: the Unicode tables the WordPiece tokenizer needs.

Source: the Unicode Character Database as installed by Debian's `unicode-data` package
(/usr/share/unicode): UnicodeData.txt, SpecialCasing.txt, DerivedNormalizationProps.txt.
Python standard library only.

    /usr/bin/python3 tools/gen_unicode.py            # writes engine/unicode_data.c
    /usr/bin/python3 tools/gen_unicode.py --check    # compares the tables with Python's
                                                     # unicodedata / str.lower and lists the
                                                     # code points where they differ

Tables (all sorted, looked up by binary search in engine/unicode.c):
  class   one uint32 per run of code points with the same tokenizer class, `start << 8 | class`;
          a run ends where the next one starts. Classes: Mn, P* (Pc Pd Ps Pe Pi Pf Po), Zs,
          C* (Cc Cf Cs Co and Cn, i.e. also every unassigned code point), "other Python
          whitespace" (bidi class WS/B/S outside Zs and Cc: U+2028, U+2029), other.
  lower   full lowercase mapping as Python's str.lower applies it per character: the
          unconditional SpecialCasing.txt mapping if there is one, else the simple mapping of
          UnicodeData.txt. Runs {first, last, delta, step}: every step-th code point from first
          to last maps to cp + delta; mappings to more than one code point in a second table.
  ccc     canonical combining classes, runs {first, last, ccc} (ccc != 0 only).
  nfd     full canonical decompositions, already applied recursively: {cp, offset, length}
          into one pool of code points. Hangul syllables are not stored (decomposed
          algorithmically in C).
  compose the primary composites for NFC: {first, second, composite}, sorted by (first,
          second); decompositions excluded by Full_Composition_Exclusion are left out. Hangul
          is composed algorithmically.
"""
import os
import sys

UCD = "/usr/share/unicode"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engine", "unicode_data.c")

# Tokenizer classes; the numbers must match enum attx_uc_class in engine/unicode.h.
CLASS_OTHER, CLASS_MN, CLASS_PUNCT, CLASS_ZS, CLASS_CONTROL, CLASS_SPACE_OTHER = range(6)
CLASS_NAMES = ["OTHER", "MN", "PUNCT", "ZS", "CONTROL", "SPACE_OTHER"]

HANGUL_S, HANGUL_COUNT = 0xAC00, 11172


def ucd_path(name):
    return os.path.join(UCD, name)


def ucd_version():
    with open(ucd_path("DerivedNormalizationProps.txt"), encoding="utf-8") as f:
        first = f.readline()          # "# DerivedNormalizationProps-15.0.0.txt"
    return first.strip().split("-")[1].rsplit(".txt", 1)[0]


def read_unicode_data():
    """code point -> (category, ccc, bidi, decomposition field, simple lowercase or None)."""
    chars = {}
    range_start = None
    with open(ucd_path("UnicodeData.txt"), encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(";")
            cp = int(fields[0], 16)
            name, cat, ccc, bidi, decomp, lower = fields[1], fields[2], int(fields[3]), fields[4], fields[5], fields[13]
            props = (cat, ccc, bidi, decomp, int(lower, 16) if lower else None)
            if name.endswith(", First>"):
                range_start = cp
                continue
            if name.endswith(", Last>"):   # e.g. CJK ideographs, Hangul syllables, private use
                for c in range(range_start, cp + 1):
                    chars[c] = props
                range_start = None
                continue
            chars[cp] = props
    return chars


def read_special_lower():
    """Unconditional full lowercase mappings of SpecialCasing.txt (conditional ones such as
    Final_Sigma or the Turkish/Lithuanian rules are not applied by str.lower per character)."""
    out = {}
    with open(ucd_path("SpecialCasing.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = [x.strip() for x in line.split(";")]
            if len(fields) > 4 and fields[4]:     # a condition list
                continue
            out[int(fields[0], 16)] = [int(x, 16) for x in fields[1].split()]
    return out


def read_full_composition_exclusion():
    out = set()
    with open(ucd_path("DerivedNormalizationProps.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            rng, prop = [x.strip() for x in line.split(";")[:2]]
            if prop != "Full_Composition_Exclusion":
                continue
            lo, _, hi = rng.partition("..")
            out.update(range(int(lo, 16), int(hi or lo, 16) + 1))
    return out


def char_class(props):
    if props is None:
        return CLASS_CONTROL            # unassigned: category Cn
    cat, _, bidi = props[0], props[1], props[2]
    if cat == "Zs":
        return CLASS_ZS
    if cat[0] == "C":
        return CLASS_CONTROL
    if cat == "Mn":
        return CLASS_MN
    if cat[0] == "P":
        return CLASS_PUNCT
    if bidi in ("WS", "B", "S"):        # Python's str.isspace: Zs or bidi WS/B/S
        return CLASS_SPACE_OTHER
    return CLASS_OTHER


def build_tables(chars):
    special_lower = read_special_lower()
    exclusions = read_full_composition_exclusion()

    def canonical(cp):
        p = chars.get(cp)
        if p is None or not p[3] or p[3].startswith("<"):
            return None
        return [int(x, 16) for x in p[3].split()]

    def full_nfd(cp):
        d = canonical(cp)
        if d is None:
            return [cp]
        out = []
        for x in d:
            out.extend(full_nfd(x))
        return out

    classes, lower, ccc, nfd, compose = [], {}, {}, {}, []
    for cp in range(0x110000):
        p = chars.get(cp)
        classes.append(char_class(p))
        if p is None:
            continue
        if cp in special_lower:
            m = special_lower[cp]
        elif p[4] is not None:
            m = [p[4]]
        else:
            m = [cp]
        if m != [cp]:
            lower[cp] = m
        if p[1]:
            ccc[cp] = p[1]
        if HANGUL_S <= cp < HANGUL_S + HANGUL_COUNT:
            continue
        d = canonical(cp)
        if d is not None:
            nfd[cp] = full_nfd(cp)
            if len(d) == 2 and cp not in exclusions:
                compose.append((d[0], d[1], cp))
    compose.sort()
    return classes, lower, ccc, nfd, compose


def class_runs(classes):
    runs = []
    for cp, c in enumerate(classes):
        if not runs or runs[-1][1] != c:
            runs.append((cp, c))
    return runs


def lower_runs(lower):
    """Single code point mappings as runs {first, last, delta, step}; the rest separately."""
    single = sorted((cp, m[0] - cp) for cp, m in lower.items() if len(m) == 1)
    multi = sorted((cp, m) for cp, m in lower.items() if len(m) > 1)
    runs = []
    for cp, delta in single:
        if runs:
            first, last, d, step = runs[-1]
            gap = cp - last
            if d == delta and gap in (1, 2) and (step == 0 or step == gap):
                runs[-1] = (first, cp, d, gap)
                continue
        runs.append((cp, cp, delta, 0))
    return [(a, b, d, s or 1) for a, b, d, s in runs], multi


def value_runs(values):
    runs = []
    for cp in sorted(values):
        v = values[cp]
        if runs and runs[-1][1] == cp - 1 and runs[-1][2] == v:
            runs[-1] = (runs[-1][0], cp, v)
        else:
            runs.append((cp, cp, v))
    return runs


def emit_rows(out, items, per_line):
    for i in range(0, len(items), per_line):
        out.append("    " + " ".join(items[i:i + per_line]))


def generate(chars, version):
    classes, lower, ccc, nfd, compose = build_tables(chars)
    cruns = class_runs(classes)
    lruns, lmulti = lower_runs(lower)
    ccc_runs = value_runs(ccc)
    max_lower = max(len(m) for _, m in lmulti)
    max_nfd = max(len(d) for d in nfd.values())
    # limits that engine/unicode.h relies on
    assert max_lower <= 3 and max_nfd <= 4 and sum(len(d) for d in nfd.values()) < 65536
    assert max(cp for cp, _ in cruns) < 1 << 24
    assert min(b for _, b, _ in compose) >= 0x300   # attx_uc_compose's shortcut

    out = []
    out.append("/* unicode_data.c — GENERATED by tools/gen_unicode.py; do not edit.")
    out.append(" *")
    out.append(f" * Source: Unicode Character Database {version} (Debian package unicode-data,")
    out.append(" * /usr/share/unicode: UnicodeData.txt, SpecialCasing.txt, DerivedNormalizationProps.txt).")
    out.append(" * Regenerate with:  /usr/bin/python3 tools/gen_unicode.py")
    out.append(" * What each table holds, and how it is searched, is described in unicode.h. */")
    out.append('#include "unicode.h"')
    out.append("")
    out.append(f"const char attx_uc_version[] = \"{version}\";")
    out.append("")
    out.append("/* start << 8 | class; a run lasts until the next start. */")
    out.append("const uint32_t attx_uc_class_runs[] = {")
    emit_rows(out, [f"0x{s << 8 | c:x}," for s, c in cruns], 10)
    out.append("};")
    out.append("const size_t attx_uc_class_runs_len = sizeof attx_uc_class_runs / sizeof attx_uc_class_runs[0];")
    out.append("")
    out.append("/* {first, last, delta, step}: first, first + step, ... <= last map to cp + delta. */")
    out.append("const attx_uc_lower_run attx_uc_lower_runs[] = {")
    emit_rows(out, [f"{{0x{a:x},0x{b:x},{d},{s}}}," for a, b, d, s in lruns], 5)
    out.append("};")
    out.append("const size_t attx_uc_lower_runs_len = sizeof attx_uc_lower_runs / sizeof attx_uc_lower_runs[0];")
    out.append("")
    out.append("/* Lowercase mappings to more than one code point (SpecialCasing.txt, unconditional). */")
    out.append("const attx_uc_lower_multi attx_uc_lower_multis[] = {")
    emit_rows(out, ["{0x%x,%d,{%s}}," % (cp, len(m), ",".join("0x%x" % x for x in m)) for cp, m in lmulti], 3)
    out.append("};")
    out.append("const size_t attx_uc_lower_multis_len = sizeof attx_uc_lower_multis / sizeof attx_uc_lower_multis[0];")
    out.append("")
    out.append("/* {first, last, ccc}, canonical combining class != 0. */")
    out.append("const attx_uc_ccc_run attx_uc_ccc_runs[] = {")
    emit_rows(out, [f"{{0x{a:x},0x{b:x},{v}}}," for a, b, v in ccc_runs], 6)
    out.append("};")
    out.append("const size_t attx_uc_ccc_runs_len = sizeof attx_uc_ccc_runs / sizeof attx_uc_ccc_runs[0];")
    out.append("")
    pool, entries = [], []
    for cp in sorted(nfd):
        entries.append((cp, len(pool), len(nfd[cp])))
        pool.extend(nfd[cp])
    out.append("/* Full canonical decompositions: {cp, offset into attx_uc_nfd_pool, length}. */")
    out.append("const attx_uc_nfd_entry attx_uc_nfd_entries[] = {")
    emit_rows(out, [f"{{0x{cp:x},{o},{n}}}," for cp, o, n in entries], 6)
    out.append("};")
    out.append("const size_t attx_uc_nfd_entries_len = sizeof attx_uc_nfd_entries / sizeof attx_uc_nfd_entries[0];")
    out.append("const uint32_t attx_uc_nfd_pool[] = {")
    emit_rows(out, [f"0x{x:x}," for x in pool], 12)
    out.append("};")
    out.append("")
    out.append("/* Primary composites {first, second, composite}, sorted by (first, second). */")
    out.append("const attx_uc_pair attx_uc_compose_pairs[] = {")
    emit_rows(out, [f"{{0x{a:x},0x{b:x},0x{c:x}}}," for a, b, c in compose], 4)
    out.append("};")
    out.append("const size_t attx_uc_compose_pairs_len = sizeof attx_uc_compose_pairs / sizeof attx_uc_compose_pairs[0];")
    out.append("")
    stats = dict(class_runs=len(cruns), lower_runs=len(lruns), lower_multi=len(lmulti),
                 max_lower=max_lower, ccc_runs=len(ccc_runs), nfd=len(entries), nfd_pool=len(pool),
                 max_nfd=max_nfd, compose=len(compose))
    return "\n".join(out), stats


def check_against_python(chars):
    """Lists where these tables differ from the running Python's unicodedata (14.0.0 in
    Python 3.11), as the C tokenizer would see it: class, lowercase, NFD, ccc, NFC pairs."""
    import unicodedata
    classes, lower, ccc, nfd, compose = build_tables(chars)
    ages = read_ages()
    diffs = {}

    def note(what, cp, ours, py):
        diffs.setdefault(what, []).append((cp, ours, py, ages.get(cp, "unassigned")))

    for cp in range(0x110000):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        cat = unicodedata.category(ch)
        py_class = (CLASS_ZS if cat == "Zs" else CLASS_CONTROL if cat[0] == "C" else
                    CLASS_MN if cat == "Mn" else CLASS_PUNCT if cat[0] == "P" else
                    CLASS_SPACE_OTHER if ch.isspace() else CLASS_OTHER)
        if classes[cp] != py_class:
            note("class", cp, CLASS_NAMES[classes[cp]], CLASS_NAMES[py_class])
        ours_lower = lower.get(cp, [cp])
        py_lower = [ord(x) for x in ch.lower()]
        if ours_lower != py_lower:
            note("lower", cp, ours_lower, py_lower)
        if not HANGUL_S <= cp < HANGUL_S + HANGUL_COUNT:
            ours_nfd = nfd.get(cp, [cp])
            py_nfd = [ord(x) for x in unicodedata.normalize("NFD", ch)]
            if ours_nfd != py_nfd:
                note("nfd", cp, ours_nfd, py_nfd)
        if ccc.get(cp, 0) != unicodedata.combining(ch):
            note("ccc", cp, ccc.get(cp, 0), unicodedata.combining(ch))
    for a, b, c in compose:
        py = unicodedata.normalize("NFC", chr(a) + chr(b))
        if py != chr(c):
            note("compose", c, [a, b], [ord(x) for x in py])
    print(f"tables: UCD {ucd_version()}; Python unicodedata {unicodedata.unidata_version}")
    for what in ("class", "lower", "nfd", "ccc", "compose"):
        rows = diffs.get(what, [])
        by_age = {}
        for r in rows:
            by_age[r[3]] = by_age.get(r[3], 0) + 1
        print(f"{what}: {len(rows)} code points differ; by age of the code point: {by_age}")
        for cp, ours, py, age in rows:
            if age != ucd_version().rsplit(".", 1)[0]:
                print(f"  U+{cp:04X} (age {age}): tables {ours}, python {py}")
    return diffs


def read_ages():
    ages = {}
    with open(ucd_path("DerivedAge.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            rng, age = [x.strip() for x in line.split(";")]
            lo, _, hi = rng.partition("..")
            for cp in range(int(lo, 16), int(hi or lo, 16) + 1):
                ages[cp] = age
    return ages


def main():
    chars = read_unicode_data()
    if "--check" in sys.argv[1:]:
        check_against_python(chars)
        return
    text, stats = generate(chars, ucd_version())
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
        f.write("\n")
    print(f"wrote {os.path.normpath(OUT)} ({len(text) + 1} bytes): {stats}", file=sys.stderr)


if __name__ == "__main__":
    main()
