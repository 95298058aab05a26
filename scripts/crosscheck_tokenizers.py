#!/usr/bin/env python3
"""crosscheck_tokenizers.py — compare our GPT-2 BPE and SentencePiece BPE with
reference implementations on random strings (a development check, not a test:
the product never needs Python).

    cmake -S . -B build-rel && cmake --build build-rel -j2      # builds tools/tok_cli
    python3 scripts/crosscheck_tokenizers.py [--seed N] [--count N] [--kit DIR]

Checks (each prints "<name>: <mismatches> mismatches of <n>"):
  gpt2-pretok  tok_cli pretok   vs the `regex` module running GPT-2's pattern
  gpt2-encode  tok_cli encode   vs GPT-2's BPE (bytes_to_unicode + lowest-rank merges,
                                 all occurrences left to right), written out below from
                                 the published algorithm, on the real vocab.json/merges.txt
  llama-encode tok_cli encode   vs sentencepiece's encode on the real tokenizer.model
  llama-decode tok_cli decode 3 vs sentencepiece's decode (random ids: pieces, byte
                                 pieces, <s>, </s>; <unk> is left out: SKIP_SPECIAL drops
                                 it while sentencepiece prints " ⁇ ")
  pretok-<id>  tok_cli - split <id> vs the pre-tokenizer's regexes (tokenizer.json's, or
                                 llama.cpp's list where the model uses several) applied in
                                 sequence with the `regex` module, for every BPE
                                 pre-tokenizer family of tok_bpe.c (PRETOKENIZERS below)
  --goldens DIR writes DIR/<id>.jsonl ({"text", "pieces"}) for the C tests from the same
                reference (the fixture texts + random + adversarial strings)
Needs: `regex` (pretok/encode) and `sentencepiece` (llama); a check whose module is
missing is skipped. The kit is the shared fixture folder (vocab.json, merges.txt,
tokenizer.model and the vocab-only GGUFs).
"""
import argparse
import json
import os
import random
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

WORDS = ["the", "ing", "tion", " hello", "aaaa", "ababab", "!!!", "...", "  ", "\n\n", "12345", "ﬁ", "Ⅻ",
         "über", "naïve", "😀😀", "中文字", "Привет", "'ll", "'s", "'S", " '", "\t", "▁", "<s>", "</s>", "<0x41>"]
CHARS = list(" aeiostnrlhZST'.,!?0123456789\n\t\r\x0b\x0c") + [
    "é", "ß", "中", "ж", "ا", "😀", "🏽", "\u0301", "\u00a0", "\u3000", "\u2028", "\u0085", "\x1c", "\u200d",
    "\u200b", "\ufeff", "ǅ", "ʰ", "٣", "½", "Ⅳ", "\U0001d518", "\x00", "\x7f"]


# Pre-tokenizer families of tok_bpe.c: regexes applied one after the other, each splitting
# the pieces of the previous one (unmatched text kept as pieces), as llama.cpp's
# unicode_regex_split and Hugging Face's Sequence of Split pre-tokenizers do.
# Single-regex families use tokenizer.json's regex (case-insensitive contractions,
# GPT-4o's letter-case classes with \p{M}); multi-regex ones llama.cpp's list.
LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
O200K_UP = r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"
O200K_LO = r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"
O200K_C = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
PRETOKENIZERS = {
    "gpt2": [GPT2_PATTERN],
    "llama3": [LLAMA3],
    "qwen2": [LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")],
    "starcoder": [r"\p{N}", GPT2_PATTERN],
    "falcon": [r"[\p{P}\$\+<=>\^~\|`]+", GPT2_PATTERN, r"[0-9][0-9][0-9]"],
    "gpt-4o": [r"[^\r\n\p{L}\p{N}]?" + O200K_UP + "*" + O200K_LO + "+" + O200K_C + r"|[^\r\n\p{L}\p{N}]?" + O200K_UP + "+" +
               O200K_LO + "*" + O200K_C + r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"],
    "tekken": [r"[^\r\n\p{L}\p{N}]?" + O200K_UP + "*" + O200K_LO + r"+|[^\r\n\p{L}\p{N}]?" + O200K_UP + "+" + O200K_LO +
               r"*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"],
    "deepseek-coder": [r"[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+", r"\p{N}"],
}
PRE_CHARS = CHARS_EXTRA = list("AZaz'/$+<=>^~|`_-\r\n ") + [
    "ſ", "É", "é", "Ǆ", "ǅ", "ǆ", "ʰ", "ˆ", "ª", "中", "가", "ࠀ", "　", "。", "、", "\u0301", "\u093e", "\u20dd", "İ", "ı",
    "Σ", "ς", "K", "ﬀ", "٣", "²", "Ⅻ", "𝟙", "'S", "'LL", "'Re", "'ve", "'ſ", "HELLO", "World", "wORLD", "ÉCOLE", "naïve",
    "e\u0301", "\r\n", " \n", "\n ", "//", "123", "12345", " 1", "a1", "...", " !", "\u2028", "\x0b", "\x85", "\xa0"]


def pre_split(patterns, text, regex):
    pieces = [text]
    for pat in patterns:
        out = []
        for p in pieces:
            pos = 0
            for m in regex.finditer(pat, p):
                if m.start() > pos:
                    out.append(p[pos:m.start()])
                if m.end() > m.start():
                    out.append(m.group())
                pos = m.end()
            if pos < len(p):
                out.append(p[pos:])
        pieces = out
    return pieces


def pre_texts(rng, count, kit):
    """The shared fixture texts, random mixes of CHARS / PRE_CHARS / WORDS, adversarial runs."""
    out = []
    golden = os.path.join(kit, "gpt2.jsonl")
    if os.path.exists(golden):
        out += [json.loads(line)["text"] for line in open(golden, encoding="utf-8") if line.strip()]
    pool = CHARS + PRE_CHARS + WORDS
    for _ in range(count):
        out.append("".join(rng.choice(pool) for _ in range(rng.randint(0, 16))))
    out += ["1" * n for n in (1, 2, 3, 4, 7)] + ["'s", "'", "''s", " 's", "\r\n\r\n", " \r\n x", "  \n  ", "a /\n/",
            "ABCdef", "abcDEF", "ǅa", "\u0301", " \u0301", "x\u0301\u0301", "ª\u0301A", "\tx", "\t\tx", "  x"]
    return out


def random_texts(rng, count):
    out = []
    for _ in range(count):
        k = rng.randint(0, 14)
        out.append("".join(rng.choice(WORDS) if rng.random() < 0.4 else rng.choice(CHARS) for _ in range(k)))
    out += ["a" * n for n in (1, 2, 3, 5, 17, 100)] + ["ab" * 50, " " * 9, "!" * 33, "😀" * 7, " x", "  x ", "x  "]
    return out


def run_cli(cli, gguf, args, lines):
    inp = "".join(line + "\n" for line in lines).encode()
    res = subprocess.run([cli, gguf] + args, input=inp, capture_output=True, check=True)
    return res.stdout.decode().split("\n")[: len(lines)]


def report(name, pairs, show=5):
    bad = [(a, w, g) for a, w, g in pairs if w != g]
    for a, w, g in bad[:show]:
        print("  %r\n    want %r\n    got  %r" % (a, w, g))
    print("%s: %d mismatches of %d" % (name, len(bad), len(pairs)))
    return len(bad)


def gpt2_reference(kit):
    enc = json.load(open(os.path.join(kit, "gpt2-vocab.json"), encoding="utf-8"))
    merges = open(os.path.join(kit, "gpt2-merges.txt"), encoding="utf-8").read().split("\n")[1:]
    ranks = {tuple(m.split()): i for i, m in enumerate(m for m in merges if m)}
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    byte_char = {b: chr(c) for b, c in zip(bs, cs)}

    def bpe(word):
        word = tuple(word)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
            if best not in ranks:
                break
            a, b = best
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = tuple(merged)
        return [enc[t] for t in word]

    return byte_char, bpe


def find_kit():
    """shared/fixtures/tokenizers in the repository's folder or one of its parents."""
    d = ROOT
    while True:
        kit = os.path.join(d, "shared", "fixtures", "tokenizers")
        if os.path.isdir(kit) or os.path.dirname(d) == d:
            return kit
        d = os.path.dirname(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--kit", default=find_kit())
    ap.add_argument("--cli", default=os.path.join(ROOT, "build-rel", "tok_cli"))
    ap.add_argument("--goldens", help="write <id>.jsonl pre-tokenizer goldens to this folder and exit")
    ap.add_argument("--only", help="run only checks whose name starts with this")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    if a.goldens:
        import regex
        os.makedirs(a.goldens, exist_ok=True)
        texts = pre_texts(random.Random(a.seed), 150, a.kit)
        for pid, pats in PRETOKENIZERS.items():
            with open(os.path.join(a.goldens, pid + ".jsonl"), "w", encoding="utf-8") as f:
                for t in texts:
                    f.write(json.dumps({"text": t, "pieces": pre_split(pats, t, regex)}, ensure_ascii=False) + "\n")
            print("wrote %s (%d texts)" % (os.path.join(a.goldens, pid + ".jsonl"), len(texts)))
        return
    if a.only and a.only.startswith("pretok-"):
        import regex
        failures = 0
        texts = pre_texts(rng, a.count, a.kit)
        for pid, pats in PRETOKENIZERS.items():
            if not ("pretok-" + pid).startswith(a.only):
                continue
            got = run_cli(a.cli, "-", ["split", pid], [t.encode().hex() for t in texts])
            failures += report("pretok-" + pid, [(t, [len(x.encode()) for x in pre_split(pats, t, regex)],
                                                  [int(x) for x in g.split()]) for t, g in zip(texts, got)])
        sys.exit(1 if failures else 0)
    texts = random_texts(rng, a.count)
    hexed = [t.encode().hex() for t in texts]
    gpt2_gguf = os.path.join(a.kit, "ggml-vocab-gpt-2.gguf")
    llama_gguf = os.path.join(a.kit, "ggml-vocab-llama-spm.gguf")
    failures = 0
    try:
        import regex
    except ImportError:
        regex = None
        print("gpt2: skipped (no regex module)")
    if regex:
        pat = regex.compile(GPT2_PATTERN)
        got = run_cli(a.cli, gpt2_gguf, ["pretok"], hexed)
        failures += report("gpt2-pretok", [(t, [len(m.encode()) for m in pat.findall(t)],
                                            [int(x) for x in g.split()]) for t, g in zip(texts, got)])
        byte_char, bpe = gpt2_reference(a.kit)
        got = run_cli(a.cli, gpt2_gguf, ["encode"], hexed)
        want = [[i for m in pat.findall(t) for i in bpe("".join(byte_char[b] for b in m.encode()))] for t in texts]
        failures += report("gpt2-encode", [(t, w, [int(x) for x in g.split()]) for t, w, g in zip(texts, want, got)])
    try:
        import sentencepiece as spm
    except ImportError:
        spm = None
        print("llama: skipped (no sentencepiece module)")
    if spm:
        sp = spm.SentencePieceProcessor(model_file=os.path.join(a.kit, "llama-tokenizer.model"))
        got = run_cli(a.cli, llama_gguf, ["encode"], hexed)
        failures += report("llama-encode", [(t, sp.encode(t), [int(x) for x in g.split()]) for t, g in zip(texts, got)])
        seqs = []
        for _ in range(a.count):
            seqs.append([rng.randint(3, 258) if r < 0.4 else rng.choice([1, 2]) if r < 0.5 else rng.randint(259, 31999)
                         for r in (rng.random() for _ in range(rng.randint(0, 8)))])
        got = run_cli(a.cli, llama_gguf, ["decode", "3"], [" ".join(map(str, s)) for s in seqs])
        failures += report("llama-decode", [(s, sp.decode(s), bytes.fromhex(g).decode("utf-8"))
                                            for s, g in zip(seqs, got)])
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
