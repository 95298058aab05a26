"""Synthetic text-to-text tasks for the T5 demo model, each behind a task prefix:

    spell: 1234              -> one thousand two hundred thirty-four    (0 to 9999)
    date: 5 March 2021       -> 2021-03-05      (also "March 5, 2021" and "5 Mar 2021"; 1900-2099)
    reverse: a b c           -> c b a          (3 to 7 distinct letters or short words)
    sort: 9 2 5              -> 2 5 9          (3 to 7 digits, repeats allowed)

The difficulty is bounded so that a small model can learn each task exactly, and
every list item (letter, word, digit) is one token of the tokenizer (train_t5.py
checks it): lists are short enough for T5's exact relative-position buckets.

Deterministic: GEN[task](rng) draws one (input, target) pair. The held-out set
(HELDOUT_SEED, HELDOUT_PER_TASK distinct inputs per task; spell numbers uniform
in 0-9999) is excluded from training by input text.

    /usr/bin/python3 corpus_t5.py [N]      # prints N random examples per task
"""
import random
import sys

TASKS = ["spell", "date", "reverse", "sort"]
HELDOUT_SEED, HELDOUT_PER_TASK = 777, 300
MIN_ITEMS, MAX_ITEMS = 3, 7

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
        "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
DAYS_IN = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
WORDS = ["cat", "dog", "sun", "red", "blue", "tree", "milk", "book", "fish", "bird", "star", "rain",
         "cake", "moon", "ball", "hat", "car", "box", "cup", "pen", "egg", "map", "key", "bee",
         "yes", "no", "up", "down", "hot", "cold", "big", "small", "apple", "water", "green",
         "house", "happy", "light"]
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]


def spell_number(n):
    """0 <= n <= 9999, American style without "and": 1234 -> one thousand two hundred thirty-four."""
    if n < 20:
        return ONES[n]
    if n < 100:
        t, o = divmod(n, 10)
        return TENS[t] + ("-" + ONES[o] if o else "")
    if n < 1000:
        h, rest = divmod(n, 100)
        return ONES[h] + " hundred" + (" " + spell_number(rest) if rest else "")
    th, rest = divmod(n, 1000)
    return spell_number(th) + " thousand" + (" " + spell_number(rest) if rest else "")


def ex_spell(r):
    """Training numbers: every length is common (small numbers are few, so seen often)."""
    digits = r.choice([1, 2, 3, 3, 4, 4, 4, 4])
    n = r.randrange(0 if digits == 1 else 10 ** (digits - 1), 10 ** digits)
    return f"spell: {n}", spell_number(n)


def ex_spell_heldout(r):
    n = r.randrange(10000)
    return f"spell: {n}", spell_number(n)


def ex_date(r):
    y = r.randrange(1900, 2100)
    m = r.randrange(12)
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    d = r.randrange(1, DAYS_IN[m] + (1 if m == 1 and leap else 0) + 1)
    fmt = r.randrange(3)
    if fmt == 0:
        text = f"{d} {MONTHS[m]} {y}"
    elif fmt == 1:
        text = f"{MONTHS[m]} {d}, {y}"
    else:
        text = f"{d} {MONTHS[m][:3]} {y}"
    return f"date: {text}", f"{y:04d}-{m + 1:02d}-{d:02d}"


def ex_reverse(r):
    n = r.randrange(MIN_ITEMS, MAX_ITEMS + 1)
    pool = r.choice([LETTERS, WORDS, LETTERS + WORDS])
    items = r.sample(pool, n)  # distinct items: the order is then read off the input unambiguously
    return "reverse: " + " ".join(items), " ".join(reversed(items))


def ex_sort(r):
    n = r.randrange(MIN_ITEMS, MAX_ITEMS + 1)
    items = [r.randrange(10) for _ in range(n)]
    return "sort: " + " ".join(map(str, items)), " ".join(map(str, sorted(items)))


GEN = {"spell": ex_spell, "date": ex_date, "reverse": ex_reverse, "sort": ex_sort}
GEN_HELDOUT = dict(GEN, spell=ex_spell_heldout)


def heldout():
    """{task: [[input, target], ...]} — distinct inputs, fixed seed."""
    r = random.Random(HELDOUT_SEED)
    out = {}
    for t in TASKS:
        seen, xs = set(), []
        while len(xs) < HELDOUT_PER_TASK:
            i, o = GEN_HELDOUT[t](r)
            if i not in seen:
                seen.add(i)
                xs.append([i, o])
        out[t] = xs
    return out


def tokenizer_text(s):
    """What the tokenizer trainer sees of a text: numbers as separate digits ("2021" ->
    "2 0 2 1"), so it learns '▁7'-style pieces and no multi-digit ones: every number
    is then tokenized digit by digit, and a lone digit is a single piece."""
    out = []
    for k, ch in enumerate(s):
        if ch.isdigit() and k and s[k - 1].isdigit():
            out.append(" ")
        out.append(ch)
    return "".join(out)


class TrainStream:
    """Endless training examples, tasks in turn, never a held-out input."""

    def __init__(self, seed, exclude):
        self.r = random.Random(seed)
        self.exclude = exclude
        self.k = 0

    def __next__(self):
        while True:
            t = TASKS[self.k % len(TASKS)]
            i, o = GEN[t](self.r)
            if i not in self.exclude:
                self.k += 1
                return i, o

    def __iter__(self):
        return self


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    r = random.Random(0)
    for t in TASKS:
        for _ in range(n):
            print(*GEN[t](r), sep="  ->  ")
