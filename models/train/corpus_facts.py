"""English sentences for the BERT demo model: simple facts written many ways (capitals,
continents, animal sounds, colours, animal babies and homes, opposites, jobs, order of
days and months, what farm animals give, small sums), plus English prose from Debian's
/usr/share/common-licenses (base-files, present on every Debian system). Deterministic.

Every relation has about ten phrasings (templates). For every fact, HELDOUT_PER_FACT
of its relation's templates are held out (chosen with HELDOUT_SEED): training never
shows that fact in those phrasings, but shows it in the others, and shows those
phrasings with other facts. The held-out sentences — known facts said in a new way —
are what the accuracy and similarity numbers in models/README.md measure.

    /usr/bin/python3 corpus_facts.py [N]    # prints N training sentences
"""
import glob
import os
import random
import re
import sys

CAPITALS = [
    ("france", "paris"), ("germany", "berlin"), ("italy", "rome"), ("spain", "madrid"),
    ("portugal", "lisbon"), ("england", "london"), ("russia", "moscow"), ("china", "beijing"),
    ("japan", "tokyo"), ("egypt", "cairo"), ("greece", "athens"), ("ireland", "dublin"),
    ("norway", "oslo"), ("sweden", "stockholm"), ("finland", "helsinki"), ("denmark", "copenhagen"),
    ("poland", "warsaw"), ("austria", "vienna"), ("hungary", "budapest"), ("czechia", "prague"),
    ("netherlands", "amsterdam"), ("belgium", "brussels"), ("switzerland", "bern"),
    ("canada", "ottawa"), ("australia", "canberra"), ("peru", "lima"), ("chile", "santiago"),
    ("colombia", "bogota"), ("venezuela", "caracas"), ("cuba", "havana"), ("kenya", "nairobi"),
    ("nigeria", "abuja"), ("ghana", "accra"), ("morocco", "rabat"), ("turkey", "ankara"),
    ("iran", "tehran"), ("iraq", "baghdad"), ("pakistan", "islamabad"), ("thailand", "bangkok"),
    ("vietnam", "hanoi"), ("indonesia", "jakarta"), ("philippines", "manila"), ("korea", "seoul"),
    ("brazil", "brasilia"), ("ukraine", "kyiv"), ("romania", "bucharest"), ("bulgaria", "sofia"),
    ("serbia", "belgrade"), ("croatia", "zagreb"), ("iceland", "reykjavik"), ("scotland", "edinburgh"),
    ("wales", "cardiff"), ("lebanon", "beirut"), ("syria", "damascus"), ("jordan", "amman"),
    ("nepal", "kathmandu"), ("afghanistan", "kabul"), ("uganda", "kampala"), ("senegal", "dakar"),
    ("algeria", "algiers"), ("tunisia", "tunis"), ("libya", "tripoli"), ("sudan", "khartoum"),
    ("qatar", "doha"), ("latvia", "riga"), ("lithuania", "vilnius"), ("estonia", "tallinn"),
    ("slovakia", "bratislava"), ("belarus", "minsk"), ("georgia", "tbilisi"), ("armenia", "yerevan"),
    ("azerbaijan", "baku"), ("ecuador", "quito"), ("uruguay", "montevideo"), ("jamaica", "kingston"),
    ("zimbabwe", "harare"), ("zambia", "lusaka"), ("angola", "luanda"), ("mali", "bamako"),
    ("somalia", "mogadishu"), ("rwanda", "kigali"), ("oman", "muscat"), ("bangladesh", "dhaka"),
    ("laos", "vientiane"), ("mongolia", "ulaanbaatar")]
CONTINENT = {
    "europe": "france germany italy spain portugal england russia greece ireland norway sweden finland "
              "denmark poland austria hungary czechia netherlands belgium switzerland ukraine romania "
              "bulgaria serbia croatia iceland scotland wales latvia lithuania estonia slovakia belarus",
    "asia": "china japan turkey iran iraq pakistan thailand vietnam indonesia philippines korea lebanon "
            "syria jordan nepal afghanistan qatar georgia armenia azerbaijan oman bangladesh laos mongolia",
    "africa": "egypt kenya nigeria ghana morocco uganda senegal algeria tunisia libya sudan zimbabwe "
              "zambia angola mali somalia rwanda",
    "america": "canada peru chile colombia venezuela cuba brazil ecuador uruguay jamaica",
    "oceania": "australia"}
CONTINENT_OF = {c: k for k, v in CONTINENT.items() for c in v.split()}
SOUNDS = [("dog", "woof", "barks"), ("cat", "meow", "meows"), ("cow", "moo", "moos"),
          ("duck", "quack", "quacks"), ("sheep", "baa", "bleats"), ("pig", "oink", "oinks"),
          ("owl", "hoot", "hoots"), ("frog", "ribbit", "croaks"), ("mouse", "squeak", "squeaks"),
          ("lion", "roar", "roars"), ("snake", "hiss", "hisses"), ("bee", "buzz", "buzzes"),
          ("horse", "neigh", "neighs"), ("hen", "cluck", "clucks"), ("bird", "tweet", "sings"),
          ("wolf", "awoo", "howls"), ("crow", "caw", "caws"), ("goat", "maa", "bleats")]
COLORS = [("sky", "blue"), ("grass", "green"), ("banana", "yellow"), ("snow", "white"), ("coal", "black"),
          ("blood", "red"), ("strawberry", "red"), ("carrot", "orange"), ("lemon", "yellow"),
          ("leaf", "green"), ("milk", "white"), ("chocolate", "brown"), ("tomato", "red"),
          ("cherry", "red"), ("flamingo", "pink"), ("sea", "blue"), ("lime", "green"), ("grape", "purple"),
          ("plum", "purple"), ("cloud", "white"), ("pumpkin", "orange"), ("crow", "black"),
          ("frog", "green"), ("ocean", "blue"), ("sun", "yellow"), ("night", "dark"), ("coffee", "brown"),
          ("salt", "white"), ("apple", "red"), ("cucumber", "green"), ("eggplant", "purple"),
          ("pig", "pink"), ("bear", "brown"), ("corn", "yellow"), ("tiger", "orange"), ("zebra", "striped")]
BABIES = [("dog", "puppy"), ("cat", "kitten"), ("cow", "calf"), ("sheep", "lamb"), ("horse", "foal"),
          ("hen", "chick"), ("bear", "cub"), ("lion", "cub"), ("duck", "duckling"), ("pig", "piglet"),
          ("frog", "tadpole"), ("kangaroo", "joey"), ("goat", "kid"), ("deer", "fawn"), ("goose", "gosling"),
          ("owl", "owlet"), ("swan", "cygnet"), ("butterfly", "caterpillar")]
HOMES = [("bird", "nest"), ("bee", "hive"), ("dog", "kennel"), ("spider", "web"), ("rabbit", "burrow"),
         ("horse", "stable"), ("pig", "sty"), ("fish", "water"), ("bear", "den"), ("fox", "den"),
         ("ant", "hill"), ("cow", "barn"), ("hen", "coop"), ("bat", "cave"), ("beaver", "dam"),
         ("lion", "den"), ("monkey", "tree")]
OPPOSITES = [("hot", "cold"), ("big", "small"), ("up", "down"), ("day", "night"), ("fast", "slow"),
             ("happy", "sad"), ("old", "young"), ("tall", "short"), ("open", "closed"), ("light", "dark"),
             ("wet", "dry"), ("hard", "soft"), ("loud", "quiet"), ("early", "late"), ("rich", "poor"),
             ("full", "empty"), ("strong", "weak"), ("left", "right"), ("in", "out"), ("good", "bad"),
             ("black", "white"), ("yes", "no"), ("win", "lose"), ("first", "last"), ("push", "pull")]
JOBS = [("doctor", "hospital", "helps sick people"), ("teacher", "school", "teaches children"),
        ("farmer", "farm", "grows food"), ("chef", "kitchen", "cooks food"), ("pilot", "plane", "flies planes"),
        ("baker", "bakery", "makes bread"), ("nurse", "hospital", "cares for patients"),
        ("librarian", "library", "lends books"), ("firefighter", "station", "puts out fires"),
        ("sailor", "ship", "sails the sea"), ("miner", "mine", "digs for coal"),
        ("waiter", "restaurant", "serves food"), ("mechanic", "garage", "fixes cars"),
        ("judge", "court", "decides cases"), ("priest", "church", "leads prayers")]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december"]
NUMS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
PRODUCE = [("bees", "honey"), ("cows", "milk"), ("hens", "eggs"), ("sheep", "wool"), ("spiders", "silk"),
           ("trees", "wood"), ("silkworms", "silk")]

# relation -> templates; {a} is the subject, *{b} the answer slot (the masked word);
# {an_a} / {an_b} are the article ("a" / "an") that goes before a / b.
T = {
    "capital": ["the capital of {a} is *{b}.", "*{b} is the capital of {a}.",
                "the capital city of {a} is *{b}.", "*{b} is the capital city of {a}.",
                "{a} has its capital in *{b}.", "the government of {a} sits in *{b}.",
                "i visited *{b}, the capital of {a}.", "the main city of {a} is *{b}.",
                "in {a}, the capital is *{b}.", "we flew to *{b}, which is the capital of {a}.",
                "the city of *{b} is the capital of {a}.", "{a}'s capital is *{b}."],
    "continent": ["{a} is a country in *{b}.", "{a} is in *{b}.", "{a} lies in *{b}.",
                  "{a} is one of the countries of *{b}.", "you will find {a} in *{b}.",
                  "the country of {a} is part of *{b}.", "{a} is located in *{b}.",
                  "on a map, {a} is in *{b}.", "{a} belongs to *{b}.", "people in {a} live in *{b}."],
    "sound": ["the {a} says *{b}.", "{an_a} {a} says *{b}.", "what does the {a} say? it says *{b}.",
              "the {a} goes *{b}.", "*{b} is the sound {an_a} {a} makes.", "the {a} said *{b}.",
              "i heard the {a} say *{b}.", "when {an_a} {a} talks, it says *{b}.",
              "the sound of the {a} is *{b}.", "every {a} says *{b}.", "the little {a} went *{b}."],
    "verb": ["the {a} *{b}.", "{an_a} {a} *{b} loudly.", "at night the {a} *{b}.", "the old {a} *{b} again.",
             "every morning the {a} *{b}.", "my {a} *{b} all day.", "listen, the {a} *{b}!",
             "the angry {a} *{b}.", "outside, the {a} *{b}.", "when it is hungry, the {a} *{b}."],
    "color": ["the {a} is *{b}.", "the color of the {a} is *{b}.", "{an_a} {a} is *{b}.",
              "*{b} is the color of the {a}.", "the {a} is always *{b}.", "what color is the {a}? it is *{b}.",
              "look at the *{b} {a}.", "most of the time, the {a} looks *{b}.", "she drew the {a} in *{b}.",
              "the {a} has a *{b} color.", "every {a} is *{b}."],
    "baby": ["a baby {a} is called {an_b} *{b}.", "the baby of {an_a} {a} is {an_b} *{b}.",
             "a young {a} is {an_b} *{b}.", "{an_b} *{b} is a baby {a}.", "{an_b} *{b} grows up to be {an_a} {a}.",
             "the mother {a} fed her *{b}.", "a little {a} is called {an_b} *{b}.",
             "when {an_a} {a} has a baby, the baby is {an_b} *{b}.", "the {a} had a tiny *{b}.",
             "we saw {an_a} {a} with her *{b}."],
    "home": ["the {a} lives in {an_b} *{b}.", "{an_a} {a} lives in the *{b}.", "the home of {an_a} {a} is {an_b} *{b}.",
             "the {a} went back to its *{b}.", "{an_a} {a} makes its home in {an_b} *{b}.",
             "at night the {a} returns to the *{b}.", "every {a} sleeps in its *{b}.",
             "where does the {a} live? in {an_b} *{b}.", "the {a} stayed in its *{b} all winter.",
             "we found {an_a} {a} in its *{b}."],
    "opposite": ["the opposite of {a} is *{b}.", "{a} is the opposite of *{b}.", "*{b} is the opposite of {a}.",
                 "{a} and *{b} are opposites.", "the word {a} means the opposite of *{b}.",
                 "if it is not {a}, it is *{b}.", "the reverse of {a} is *{b}.", "{a} is the other way from *{b}.",
                 "what is the opposite of {a}? it is *{b}.", "*{b} and {a} are opposites."],
    "job_place": ["{an_a} {a} works in {an_b} *{b}.", "the {a} goes to the *{b} every day.",
                  "you can find {an_a} {a} at the *{b}.", "the {a} works at the *{b}.",
                  "every {a} needs {an_b} *{b} to work in.", "my aunt is {an_a} {a}, so she works at the *{b}.",
                  "the {a} drove to the *{b}.", "the {a} spent the day at the *{b}.",
                  "where does {an_a} {a} work? at the *{b}.", "our {a} is busy at the *{b}."],
    "next_day": ["after {a} comes *{b}.", "the day after {a} is *{b}.", "today is {a}, tomorrow is *{b}.",
                 "{a} is followed by *{b}.", "the next day after {a} is *{b}.", "if yesterday was {a}, today is *{b}.",
                 "*{b} comes right after {a}.", "the day before *{b} is {a}.", "first {a}, then *{b}."],
    "next_month": ["after {a} comes *{b}.", "the month after {a} is *{b}.", "{a} is followed by *{b}.",
                   "this month is {a}, next month is *{b}.", "the next month after {a} is *{b}.",
                   "when {a} ends, *{b} begins.", "*{b} comes right after {a}.", "the month before *{b} is {a}.",
                   "first {a}, then *{b}."],
    "produce": ["{a} make *{b}.", "we get *{b} from {a}.", "*{b} comes from {a}.", "{a} give us *{b}.",
                "the {a} on the farm make *{b}.", "the farmer gets *{b} from the {a}.", "*{b} is made by {a}.",
                "our {a} made a lot of *{b}.", "what do {a} give us? they give us *{b}."],
    "sum": ["{a} is *{b}.", "{a} equals *{b}.", "{a} makes *{b}.", "what is {a}? it is *{b}.",
            "{a} is the same as *{b}.", "if you add {a}, you get *{b}.", "{a} gives *{b}.",
            "i know that {a} is *{b}.", "we learned that {a} is *{b}."],
}
# Said before a training sentence now and then (never in the held-out sentences).
PREFIXES = ["i think ", "everyone knows that ", "my teacher said that ", "it is true that ",
            "did you know that ", "yes, ", "remember: ", "we read that ", "grandma told me that "]
HELDOUT_SEED, HELDOUT_PER_FACT = 99, 2
TRAIN_SEED = 11


def facts():
    """(relation, a, b) triples; b is the answer word."""
    out = [("capital", c, x) for c, x in CAPITALS]
    out += [("continent", c, k) for c, k in CONTINENT_OF.items()]
    out += [("sound", a, s) for a, s, _ in SOUNDS] + [("verb", a, v) for a, _, v in SOUNDS]
    out += [("color", a, c) for a, c in COLORS]
    out += [("baby", a, b) for a, b in BABIES]
    out += [("home", a, h) for a, h in HOMES]
    out += [("opposite", a, b) for a, b in OPPOSITES] + [("opposite", b, a) for a, b in OPPOSITES]
    out += [("job_place", j, p) for j, p, _ in JOBS]
    out += [("next_day", DAYS[i], DAYS[(i + 1) % 7]) for i in range(7)]
    out += [("next_month", MONTHS[i], MONTHS[(i + 1) % 12]) for i in range(12)]
    out += [("produce", a, b) for a, b in PRODUCE]
    out += [("sum", f"{NUMS[x]} plus {NUMS[y]}", NUMS[x + y]) for x in range(11) for y in range(11) if x + y <= 10]
    return out


def article(w):
    return "an" if w[0] in "aeiou" else "a"


def fill(template, a, b):
    """-> (sentence, answer word, character offset of the answer)."""
    pre, post = template.split("*")
    kw = dict(a=a, b=b, an_a=article(a), an_b=article(b))
    pre = pre.format(**kw)
    return pre + post.format(**kw), b, len(pre)


def takes_prefix(template):
    """Statements that still read well after "everyone knows that " and the like."""
    return template.startswith(("the ", "a ", "an ", "{a}", "*{b}", "{an_a}", "{an_b}")) and \
        "?" not in template and "!" not in template


def heldout_templates():
    """{fact: [template index, ...]}: the phrasings each fact is never trained with."""
    r = random.Random(HELDOUT_SEED)
    return {f: sorted(r.sample(range(len(T[f[0]])), HELDOUT_PER_FACT)) for f in facts()}


def job_sentences():
    return [f"{article(j)} {j} {d}." for j, _, d in JOBS] + [f"the {j} {d} every day." for j, _, d in JOBS]


def license_sentences():
    """Sentences of Debian's common license texts (plain English prose)."""
    out = []
    for path in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        text = open(path, encoding="utf-8", errors="replace").read()
        text = re.sub(r"\s+", " ", text)
        for s in re.split(r"(?<=[.;:])\s+", text):
            words = s.split()
            if 6 <= len(words) <= 40 and sum(c.isalpha() for c in s) > 0.7 * len(s):
                out.append(s.strip())
    return out


def heldout_sentences():
    """Every fact in each of its held-out phrasings: [(sentence, answer, offset)]."""
    held = heldout_templates()
    return [fill(T[f[0]][k], f[1], f[2]) for f in facts() for k in held[f]]


def train_sentences(n, seed, license_share=0.1, prefix_share=0.25):
    """n sentences: facts in their training phrasings (sometimes after a prefix, half of
    them in sentence case), job descriptions, license prose.
    Returns [(sentence, answer or None, answer offset or None, subject or None)]."""
    r = random.Random(seed)
    fs = facts()
    held = heldout_templates()
    train_t = {f: [k for k in range(len(T[f[0]])) if k not in held[f]] for f in fs}
    lic = license_sentences()
    jobs = job_sentences()
    # a held-out sentence can also arise from another fact (opposites are listed both ways:
    # "{a} and *{b} are opposites." for (fast, slow) is "*{b} and {a} ..." for (slow, fast))
    # or inside a longer phrasing: training never shows any sentence that contains one.
    held_text = {s for s, _, _ in heldout_sentences()}
    out = []
    while len(out) < n:
        u = r.random()
        if u < license_share and lic:
            out.append((r.choice(lic), None, None, None))
        elif u < license_share + 0.02:
            out.append((r.choice(jobs), None, None, None))
        else:
            f = r.choice(fs)
            k = r.choice(train_t[f])
            s, ans, off = fill(T[f[0]][k], f[1], f[2])
            if r.random() < prefix_share and takes_prefix(T[f[0]][k]):
                p = r.choice(PREFIXES)
                s, off = p + s, off + len(p)
            low = s.lower()
            if any(low[i:] in held_text for i in [0] + [k + 1 for k, c in enumerate(low) if c == " "]):
                continue  # contains a held-out sentence ("i know that {a} is *{b}." holds "{a} is *{b}.")
            if r.random() < 0.5:  # sentence case, as people type it
                s = s[0].upper() + s[1:]
            out.append((s, ans, off, f[1]))
    return out


def similarity_triplets(per_relation=6):
    """(anchor, same fact said another way, another fact) sentences, the last two in held-out
    phrasings: the anchor is the fact in its first training phrasing, the same-fact sentence
    is one of its held-out phrasings, the other sentence is a fact of another relation in
    one of its held-out phrasings. Also a harder probe: `same_relation` is another fact of
    the same relation in the same phrasing as the same-fact sentence."""
    held = heldout_templates()
    r = random.Random(HELDOUT_SEED + 1)
    by_rel = {}
    for f in facts():
        by_rel.setdefault(f[0], []).append(f)
    rels = sorted(by_rel)
    out = []
    for rel in rels:
        for f in r.sample(by_rel[rel], min(per_relation, len(by_rel[rel]))):
            k_train = next(k for k in range(len(T[rel])) if k not in held[f])
            k_held = held[f][0]
            other = r.choice(by_rel[r.choice([x for x in rels if x != rel])])
            twin = r.choice([g for g in by_rel[rel] if g[2] != f[2] and g[1] != f[1]])
            out.append({"anchor": fill(T[rel][k_train], f[1], f[2])[0],
                        "same_fact": fill(T[rel][k_held], f[1], f[2])[0],
                        "unrelated": fill(T[other[0]][held[other][0]], other[1], other[2])[0],
                        "same_relation": fill(T[rel][k_held], twin[1], twin[2])[0]})
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for s, a, off, subj in train_sentences(n, TRAIN_SEED):
        print(s, "|", a, off, subj)
    print(len(facts()), "facts,", len(heldout_sentences()), "held-out sentences,",
          len(license_sentences()), "license sentences")
    for t in similarity_triplets()[:3]:
        print(t)
