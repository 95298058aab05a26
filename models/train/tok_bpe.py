"""Byte-level BPE in GPT-2's format: a small trainer and the reference encoder
(Hugging Face GPT2Tokenizer semantics), writing vocab.json + merges.txt + tokenizer.json.

Vocabulary layout (as GPT-2's own): ids 0..255 are the 256 byte symbols in
bytes_to_unicode() order, then one id per merge in rank order, then <|endoftext|>.
"""
import collections
import json

import regex

PAT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
EOT = "<|endoftext|>"


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


B2U = bytes_to_unicode()
U2B = {v: k for k, v in B2U.items()}


def pretokenize(text):
    return ["".join(B2U[b] for b in w.encode("utf-8")) for w in PAT.findall(text)]


def train(texts, vocab_size):
    """Learn vocab_size - 257 merges; ties go to the smallest pair (string order)."""
    words = collections.Counter()
    for t in texts:
        words.update(pretokenize(t))
    seqs = {w: list(w) for w in words}
    merges = []
    while len(merges) < vocab_size - 257:
        pairs = collections.Counter()
        for w, n in words.items():
            s = seqs[w]
            for i in range(len(s) - 1):
                pairs[(s[i], s[i + 1])] += n
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        a, b = best
        for w in words:
            s = seqs[w]
            if len(s) < 2:
                continue
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    vocab = {B2U[b]: i for i, b in enumerate(B2U)}  # dict order = bytes_to_unicode order
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab[EOT] = len(vocab)
    return vocab, merges


class GPT2Tokenizer:
    """HF GPT2Tokenizer: <|endoftext|> split out first, regex pre-tokenizer, BPE by rank."""

    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.inv = {i: s for s, i in vocab.items()}
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.cache = {}

    def bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        s = list(word)
        while len(s) > 1:
            pairs = [(self.ranks.get((s[i], s[i + 1]), 1 << 30), i) for i in range(len(s) - 1)]
            r, _ = min(pairs)
            if r == 1 << 30:
                break
            a, b = s[[i for rr, i in pairs if rr == r][0]], s[[i for rr, i in pairs if rr == r][0] + 1]
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            s = out
        self.cache[word] = s
        return s

    def encode(self, text):
        ids = []
        parts = text.split(EOT)
        for k, part in enumerate(parts):
            if k:
                ids.append(self.vocab[EOT])
            for w in pretokenize(part):
                ids.extend(self.vocab[p] for p in self.bpe(w))
        return ids

    def decode(self, ids):
        data = bytearray()
        for i in ids:
            s = self.inv[i]
            if s == EOT:
                data += s.encode()
            else:
                data += bytes(U2B[ch] for ch in s)
        return data.decode("utf-8", errors="replace")


def hf_files(vocab, merges, model_max_length):
    eot = vocab[EOT]
    merges_txt = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
    tok_json = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": eot, "content": EOT, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": True, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]}}
    return {
        "vocab.json": vocab,
        "merges.txt": merges_txt,
        "tokenizer.json": tok_json,
        "tokenizer_config.json": {"tokenizer_class": "GPT2Tokenizer", "model_max_length": model_max_length,
                                  "add_prefix_space": False, "bos_token": EOT, "eos_token": EOT,
                                  "unk_token": EOT, "add_bos_token": False},
        "special_tokens_map.json": {"bos_token": EOT, "eos_token": EOT, "unk_token": EOT},
    }
