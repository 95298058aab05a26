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
    a = ap.parse_args()
    rng = random.Random(a.seed)
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
