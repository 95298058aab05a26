"""English sentences for the BERT demo model: simple facts written many ways (capitals,
animal sounds, colours, animal babies and homes, opposites, jobs, order of days and
months, small sums), plus prose from Debian's /usr/share/common-licenses (base-files,
present on every Debian system). Deterministic.

Each relation has TRAIN templates and one HELD-OUT template never used in training:
held-out sentences state known facts in a new way, which is what the accuracy and
similarity numbers in models/README.md measure.

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
          ("horse", "neigh", "neighs"), ("rooster", "cock-a-doodle-doo", "crows"), ("bird", "tweet", "sings"),
          ("wolf", "awoo", "howls"), ("donkey", "hee-haw", "brays"), ("goat", "maa", "bleats")]
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

# relation -> (train templates, held-out template); {a} {b} are the two slots, * marks the answer slot
T = {
    "capital": (["the capital of {a} is *{b}.", "*{b} is the capital of {a}.",
                 "the capital city of {a} is *{b}.", "*{b} is the capital city of {a}.",
                 "*{b} is a city in {a}.", "the government of {a} sits in *{b}.",
                 "{a} has its capital in *{b}.", "i visited *{b}, the capital of {a}.",
                 "the main city of {a} is *{b}.", "in {a}, the capital is *{b}.",
                 "we flew to *{b}, which is the capital of {a}."],
                "the city of *{b} is the capital of {a}."),
    "continent": (["{a} is a country in *{b}.", "{a} is in *{b}.", "{a} lies in *{b}.",
                   "{a} is one of the countries of *{b}.", "you will find {a} in *{b}."],
                  "the country of {a} is part of *{b}."),
    "sound": (["the {a} says *{b}.", "a {a} says *{b}.", "what does the {a} say? it says *{b}.",
               "the {a} goes *{b}.", "*{b} is the sound a {a} makes.", "the {a} said *{b}.",
               "i heard the {a} say *{b}."],
              "when a {a} talks, it says *{b}."),
    "verb": (["the {a} *{b}.", "a {a} *{b} loudly.", "at night the {a} *{b}.", "the old {a} *{b} again.",
              "every morning the {a} *{b}.", "my {a} *{b} all day."],
             "listen, the {a} *{b}!"),
    "color": (["the {a} is *{b}.", "the color of the {a} is *{b}.", "a {a} is *{b}.",
               "*{b} is the color of the {a}.", "the {a} is always *{b}.", "what color is the {a}? it is *{b}.",
               "look at the *{b} {a}."],
              "most of the time, the {a} looks *{b}."),
    "baby": (["a baby {a} is called a *{b}.", "the baby of a {a} is a *{b}.", "a young {a} is a *{b}.",
              "a *{b} is a baby {a}.", "a *{b} grows up to be a {a}.", "the mother {a} fed her *{b}.",
              "a little {a} is called a *{b}."],
             "when a {a} has a baby, the baby is a *{b}."),
    "home": (["the {a} lives in a *{b}.", "a {a} lives in the *{b}.", "the home of a {a} is a *{b}.",
              "the {a} went back to its *{b}.", "a {a} makes its home in a *{b}.",
              "at night the {a} returns to the *{b}."],
             "every {a} sleeps in its *{b}."),
    "opposite": (["the opposite of {a} is *{b}.", "{a} is the opposite of *{b}.",
                  "*{b} is the opposite of {a}.", "{a} and *{b} are opposites.",
                  "the word {a} means the opposite of *{b}."],
                 "if it is not {a}, it is *{b}."),
    "job_place": (["a {a} works in a *{b}.", "the {a} goes to the *{b} every day.",
                   "you can find a {a} at the *{b}.", "the {a} works at the *{b}.",
                   "every {a} needs a *{b} to work in."],
                  "my aunt is a {a}, so she works at the *{b}."),
    "next_day": (["after {a} comes *{b}.", "the day after {a} is *{b}.", "today is {a}, tomorrow is *{b}.",
                  "{a} is followed by *{b}.", "the next day after {a} is *{b}."],
                 "if yesterday was {a}, today is *{b}."),
    "next_month": (["after {a} comes *{b}.", "the month after {a} is *{b}.", "{a} is followed by *{b}.",
                    "this month is {a}, next month is *{b}.", "the next month after {a} is *{b}."],
                   "when {a} ends, *{b} begins."),
    "produce": (["{a} make *{b}.", "we get *{b} from {a}.", "*{b} comes from {a}.", "{a} give us *{b}.",
                 "the {a} on the farm make *{b}."],
                "the farmer gets *{b} from the {a}."),
    "sum": (["{a} is *{b}.", "{a} equals *{b}.", "{a} makes *{b}.", "what is {a}? it is *{b}.",
             "{a} is the same as *{b}."],
            "if you add {a}, you get *{b}."),
}


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


def fill(template, a, b):
    """-> (sentence, answer word, character offset of the answer)."""
    pre, post = template.split("*")
    pre = pre.format(a=a, b=b)
    return pre + post.format(a=a, b=b), b, len(pre)


def job_sentences():
    return [f"a {j} {d}." for j, _, d in JOBS] + [f"the {j} {d} every day." for j, _, d in JOBS]


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
    """One sentence per fact in its relation's held-out template: [(sentence, answer, offset)]."""
    return [fill(T[rel][1], a, b) for rel, a, b in facts()]


def train_sentences(n, seed, license_share=0.15):
    """n sentences: facts in train templates (with the answer slot position), job
    descriptions, license prose. Returns [(sentence, answer or None, answer offset or None)]."""
    r = random.Random(seed)
    fs = facts()
    lic = license_sentences()
    jobs = job_sentences()
    out = []
    for _ in range(n):
        u = r.random()
        if u < license_share and lic:
            out.append((r.choice(lic), None, None))
        elif u < license_share + 0.03:
            out.append((r.choice(jobs), None, None))
        else:
            rel, a, b = r.choice(fs)
            s, ans, off = fill(r.choice(T[rel][0]), a, b)
            if r.random() < 0.5:  # sentence case, as people type it
                s = s[0].upper() + s[1:]
            out.append((s, ans, off))
    return out


# Similarity probes: (anchor, same fact said differently, unrelated)
def similarity_triplets():
    out = []
    for c, x in CAPITALS[:20]:
        out.append((f"the capital of {c} is {x}.", f"the city of {x} is the capital of {c}.", None))
    for a, s, v in SOUNDS:
        out.append((f"the {a} says {s}.", f"when a {a} talks, it says {s}.", None))
    for a, c in COLORS[:15]:
        out.append((f"the {a} is {c}.", f"most of the time, the {a} looks {c}.", None))
    # the unrelated sentence is another triplet's anchor (of a different relation)
    n = len(out)
    return [(a, p, out[(k + n // 2) % n][0]) for k, (a, p, _) in enumerate(out)]


TRAIN_SEED = 11

if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for s, a, off in train_sentences(n, TRAIN_SEED):
        print(s, "|", a, off)
    print(len(facts()), "facts,", len(license_sentences()), "license sentences")
