#!/usr/bin/python3
"""gen_unicode.py — generate src/unicode_data.c from Python's unicodedata.

Usage (from the repository root, with Debian's python3):
    /usr/bin/python3 scripts/gen_unicode.py > src/unicode_data.c

The reference tokenizers took their character properties from the same place:
Hugging Face's BertTokenizer uses unicodedata (category, NFD, combining) and
str.lower(); the GPT-2 pre-tokenizer's \\p{L} / \\p{N} are general categories.
The tables state the Unicode version (uc_version()).

Tables (all sorted, searched by binary search in src/unicode.c):
  uc_cat_runs      start << 5 | category, one entry per run of equal category
  uc_lower_runs    simple lower-case mappings as runs: start, count, stride, delta
  uc_lower_special the few full lower-case mappings longer than one code point
  uc_decomp        one-level canonical decompositions: cp | first | second (21 bits each)
  uc_ccc_runs      start << 8 | canonical combining class, one entry per run
  uc_cased, uc_case_ignorable   ranges (Python's Final_Sigma rule needs them)

With --checksums the script prints FNV-1a checksums over all code points of
each property, which tests/native/test_unicode.c compares against.
"""
import sys
import unicodedata as ud

MAX = 0x110000

CATS = ["Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No",
        "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So",
        "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"]
CAT_ID = {c: i for i, c in enumerate(CATS)}

HANGUL_S0, HANGUL_SN = 0xAC00, 11172


def category(cp):
    return CAT_ID[ud.category(chr(cp))]


def cat_runs():
    runs, prev = [], None
    for cp in range(MAX):
        c = category(cp)
        if c != prev:
            runs.append((cp, c))
            prev = c
    return runs


def lower_maps():
    simple, special = {}, {}
    for cp in range(MAX):
        ch = chr(cp)
        lo = ch.lower()
        if lo == ch:
            continue
        if len(lo) == 1:
            simple[cp] = ord(lo)
        else:
            special[cp] = [ord(x) for x in lo]
    return simple, special


def lower_runs(simple):
    """Group (cp -> cp + delta) into runs of equal delta with stride 1 or 2."""
    cps = sorted(simple)
    runs, i = [], 0
    while i < len(cps):
        start, delta = cps[i], simple[cps[i]] - cps[i]
        best = (1, 1)
        for stride in (1, 2):
            n = 1
            while (i + n < len(cps) and cps[i + n] == start + n * stride
                   and simple[cps[i + n]] - cps[i + n] == delta and n < 255):
                n += 1
            if n > best[0]:
                best = (n, stride)
        n, stride = best
        runs.append((start, n, stride, delta))
        i += n
    return runs


def decomps():
    out = []
    for cp in range(MAX):
        d = ud.decomposition(chr(cp))
        if not d or d.startswith("<"):
            continue
        parts = [int(x, 16) for x in d.split()]
        assert 1 <= len(parts) <= 2, (hex(cp), d)
        out.append((cp, parts[0], parts[1] if len(parts) > 1 else 0))
    return out


def ccc_runs():
    runs, prev = [], None
    for cp in range(MAX):
        c = ud.combining(chr(cp))
        if c != prev:
            runs.append((cp, c))
            prev = c
    return runs


def case_props():
    """Cased / Case_Ignorable as Python's str.lower() sees them (Final_Sigma).

    Python does not expose these properties directly; they are recovered from
    str.lower()'s own Final_Sigma decisions:
      cased(c)  = c is Lowercase, Uppercase or Lt (str.islower/isupper/istitle)
      ('A' + c + 'Σ') lowers to final ς  <=>  ignorable(c) or cased(c)
      ('AΣ' + c)      lowers to final ς  <=>  ignorable(c) or not cased(c)
    """
    cased, ign = [], []
    for cp in range(MAX):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            cased.append(False)
            ign.append(False)
            continue
        is_cased = ch.islower() or ch.isupper() or ch.istitle()
        e3 = ("A" + ch + "\u03a3").lower().endswith("\u03c2")
        e2 = ("A\u03a3" + ch).lower()[1] == "\u03c2"
        cased.append(is_cased)
        ign.append(e2 if is_cased else e3)
    return to_ranges(cased), to_ranges(ign)


def to_ranges(flags):
    ranges, start = [], None
    for cp, f in enumerate(flags):
        if f and start is None:
            start = cp
        elif not f and start is not None:
            ranges.append((start, cp - 1))
            start = None
    if start is not None:
        ranges.append((start, len(flags) - 1))
    return ranges


def fnv(values):
    h = 0x811C9DC5
    for v in values:
        for k in range(4):
            h ^= (v >> (8 * k)) & 0xFF
            h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def checksums():
    """Checksums over every code point, recomputed by test_unicode.c."""
    cat = fnv(category(cp) for cp in range(MAX))

    def lower_vals():
        for cp in range(MAX):
            lo = chr(cp).lower() if not 0xD800 <= cp <= 0xDFFF else chr(cp)
            yield len(lo)
            for x in lo:
                yield ord(x)

    def nfd_vals():
        for cp in range(MAX):
            if 0xD800 <= cp <= 0xDFFF:
                d = [cp]
            else:
                d = [ord(x) for x in ud.normalize("NFD", chr(cp))]
            yield len(d)
            yield from d

    return {
        "category": cat,
        "lower": fnv(lower_vals()),
        "nfd": fnv(nfd_vals()),
        "ccc": fnv(ud.combining(chr(cp)) for cp in range(MAX)),
    }


def emit(out):
    runs = cat_runs()
    simple, special = lower_maps()
    lruns = lower_runs(simple)
    dec = decomps()
    cruns = ccc_runs()
    cased, ign = case_props()
    for cp, _, _ in dec:
        assert not HANGUL_S0 <= cp < HANGUL_S0 + HANGUL_SN

    w = out.write
    w("/* unicode_data.c — GENERATED by scripts/gen_unicode.py, do not edit.\n")
    w(" * Source: Python %s unicodedata, Unicode %s. */\n" % (sys.version.split()[0], ud.unidata_version))
    w("#include <stdint.h>\n\n")
    w('const char uc_data_version[] = "%s";\n\n' % ud.unidata_version)

    def table(ctype, name, items, per_line, fmt):
        w("const %s %s[%d] = {\n" % (ctype, name, len(items)))
        for i in range(0, len(items), per_line):
            w("    " + ", ".join(fmt(x) for x in items[i:i + per_line]) + ",\n")
        w("};\n")
        w("const int %s_n = %d;\n\n" % (name, len(items)))

    w("/* general category runs: start << 5 | category (enum uc_category) */\n")
    table("uint32_t", "uc_cat_runs", runs, 8, lambda r: "0x%08x" % (r[0] << 5 | r[1]))

    w("/* simple lower-case mappings: {start, count | stride << 8, delta};\n")
    w(" * cp = start + k*stride (k < count) lowers to cp + delta */\n")
    w("const int32_t uc_lower_runs[%d][3] = {\n" % len(lruns))
    for s, n, stride, d in lruns:
        w("    {0x%05x, %d | %d << 8, %d},\n" % (s, n, stride, d))
    w("};\n")
    w("const int uc_lower_runs_n = %d;\n\n" % len(lruns))

    w("/* full lower-case mappings longer than one code point: {cp, n, c1, c2, c3} */\n")
    items = sorted(special.items())
    w("const uint32_t uc_lower_special[%d][5] = {\n" % max(1, len(items)))
    for cp, seq in items:
        seq3 = seq + [0] * (3 - len(seq))
        w("    {0x%05x, %d, 0x%05x, 0x%05x, 0x%05x},\n" % (cp, len(seq), *seq3))
    w("};\n")
    w("const int uc_lower_special_n = %d;\n\n" % len(items))

    w("/* canonical decompositions (one level): cp | first << 21 | second << 42 */\n")
    table("uint64_t", "uc_decomp", dec, 4,
          lambda d: "0x%016xull" % (d[0] | d[1] << 21 | d[2] << 42))

    w("/* canonical combining class runs: start << 8 | ccc */\n")
    table("uint32_t", "uc_ccc_runs", cruns, 8, lambda r: "0x%08x" % (r[0] << 8 | r[1]))

    w("/* Cased and Case_Ignorable (for Final_Sigma): inclusive ranges {first, last} */\n")
    for name, rs in (("uc_cased", cased), ("uc_case_ignorable", ign)):
        w("const uint32_t %s[%d][2] = {\n" % (name, len(rs)))
        for i in range(0, len(rs), 4):
            w("    " + ", ".join("{0x%05x, 0x%05x}" % r for r in rs[i:i + 4]) + ",\n")
        w("};\n")
        w("const int %s_n = %d;\n\n" % (name, len(rs)))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--checksums":
        for k, v in checksums().items():
            print("%s 0x%08x" % (k, v))
    else:
        emit(sys.stdout)
