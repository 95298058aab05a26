"""BERT uncased WordPiece: the reference tokenizer (Hugging Face BertTokenizer semantics,
do_lower_case=True) and a small vocabulary learner.

The learner is the one Hugging Face's WordPieceTrainer uses: BPE over the words of the
basic tokenizer, where a word starts as [c0, ##c1, ##c2, ...] and merging (x, ##y)
gives x+y. The vocabulary is written in BERT's vocab.txt form: [PAD] [UNK] [CLS] [SEP]
[MASK], then every character and its ##-continuation, then the merges in order.
"""
import collections
import unicodedata

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or
            0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or
            0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text):
    """BasicTokenizer(do_lower_case=True, tokenize_chinese_chars=True, strip_accents=None)."""
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if _is_whitespace(ch):
            out.append(" ")
        elif _is_cjk(cp):
            out.append(" " + ch + " ")
        else:
            out.append(ch)
    words = []
    for tok in "".join(out).strip().split():
        tok = unicodedata.normalize("NFD", tok.lower())
        tok = "".join(c for c in tok if unicodedata.category(c) != "Mn")
        cur = []
        for c in tok:
            if _is_punctuation(c):
                if cur:
                    words.append("".join(cur))
                    cur = []
                words.append(c)
            else:
                cur.append(c)
        if cur:
            words.append("".join(cur))
    return words


class BertTokenizer:
    def __init__(self, vocab_list):
        self.vocab = {t: i for i, t in enumerate(vocab_list)}
        self.inv = list(vocab_list)
        for s in SPECIALS:
            setattr(self, s.strip("[]").lower() + "_id", self.vocab[s])

    def wordpiece(self, word):
        if len(word) > 100:
            return [self.unk_id]
        ids, start = [], 0
        while start < len(word):
            end, cur = len(word), None
            while start < end:
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in self.vocab:
                    cur = self.vocab[sub]
                    break
                end -= 1
            if cur is None:
                return [self.unk_id]
            ids.append(cur)
            start = end
        return ids

    def tokenize(self, text):
        """ids without [CLS]/[SEP]; the literal [MASK] is a special token (never split)."""
        ids = []
        for k, part in enumerate(text.split("[MASK]")):
            if k:
                ids.append(self.mask_id)
            for w in basic_tokenize(part):
                ids.extend(self.wordpiece(w))
        return ids

    def encode(self, text):
        return [self.cls_id] + self.tokenize(text) + [self.sep_id]

    def decode(self, ids):
        """HF's convert_tokens_to_string (" ".join, then " ##" removed), skipping specials."""
        toks = [self.inv[i] for i in ids if self.inv[i] not in SPECIALS]
        return " ".join(toks).replace(" ##", "").strip()


def train(texts, vocab_size, must_have=()):
    words = collections.Counter()
    for t in texts:
        words.update(basic_tokenize(t))
    chars = sorted({c for w in words for c in w} | set("abcdefghijklmnopqrstuvwxyz0123456789") |
                   {chr(c) for c in range(33, 127) if not chr(c).isupper()})
    vocab = SPECIALS + chars + ["##" + c for c in chars]
    seen = set(vocab)
    seqs = {w: [w[0]] + ["##" + c for c in w[1:]] for w in words}
    while len(vocab) < vocab_size:
        pairs = collections.Counter()
        for w, n in words.items():
            s = seqs[w]
            for i in range(len(s) - 1):
                pairs[(s[i], s[i + 1])] += n
        if not pairs:
            break
        a, b = min(pairs, key=lambda p: (-pairs[p], p))
        new = a + b[2:]
        for w in words:
            s = seqs[w]
            if len(s) < 2:
                continue
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
        if new not in seen:
            vocab.append(new)
            seen.add(new)
    for w in must_have:  # whole words the demo needs as single tokens
        if w not in seen:
            vocab.append(w)
            seen.add(w)
    return vocab


def hf_files(vocab, model_max_length):
    ids = {t: i for i, t in enumerate(vocab)}
    special = {s: {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                   "single_word": False, "special": True} for s in SPECIALS}
    tok_json = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [dict(id=ids[s], **special[s]) for s in SPECIALS],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [ids["[CLS]"]], "tokens": ["[CLS]"]},
                               "[SEP]": {"id": "[SEP]", "ids": [ids["[SEP]"]], "tokens": ["[SEP]"]}}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids}}
    return {
        "vocab.txt": "".join(t + "\n" for t in vocab),
        "tokenizer.json": tok_json,
        "tokenizer_config.json": {
            "added_tokens_decoder": {str(ids[s]): special[s] for s in SPECIALS},
            "clean_up_tokenization_spaces": True, "cls_token": "[CLS]", "do_basic_tokenize": True,
            "do_lower_case": True, "mask_token": "[MASK]", "model_max_length": model_max_length,
            "never_split": None, "pad_token": "[PAD]", "sep_token": "[SEP]", "strip_accents": None,
            "tokenize_chinese_chars": True, "tokenizer_class": "BertTokenizer", "unk_token": "[UNK]"},
        "special_tokens_map.json": {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                                    "cls_token": "[CLS]", "mask_token": "[MASK]"},
    }
