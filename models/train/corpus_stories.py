"""Short children's stories from a template grammar (TinyStories-like), for the
GPT-2 and LLaMA demo models. Deterministic: story i of seed s is always the same.

    /usr/bin/python3 corpus_stories.py [N] [SEED]    # prints N stories, one per line
"""
import random
import sys

GIRLS = ["Lily", "Mia", "Sara", "Emma", "Lucy", "Anna", "Zoe", "Ella", "Amy", "Rosie", "Kate",
         "Sophie", "Maya", "Nina", "Ruby", "Grace", "Chloe", "Daisy", "Molly", "Julia"]
BOYS = ["Tom", "Ben", "Max", "Sam", "Jack", "Leo", "Tim", "Finn", "Noah", "Jake", "Alex",
        "Oliver", "Toby", "Luke", "Harry", "Peter", "Danny", "Eli", "Ollie", "Charlie"]
ANIMALS = [("dog", "woof"), ("cat", "meow"), ("bunny", None), ("bird", "tweet"), ("duck", "quack"),
           ("frog", "ribbit"), ("bear", None), ("fox", None), ("mouse", "squeak"), ("puppy", "woof"),
           ("kitten", "meow"), ("owl", "hoot"), ("pig", "oink"), ("lamb", "baa"), ("cow", "moo")]
ANIMAL_NAMES = ["Spot", "Fluffy", "Buddy", "Coco", "Pip", "Sunny", "Bubbles", "Whiskers", "Patch",
                "Rocky", "Honey", "Snowy", "Ginger", "Pebble", "Biscuit"]
ADJ = ["little", "small", "happy", "kind", "curious", "brave", "shy", "playful", "friendly", "clever",
       "cheerful", "gentle"]
COLORS = ["red", "blue", "green", "yellow", "pink", "purple", "orange", "white", "shiny", "big",
          "soft", "tiny"]
TOYS = ["ball", "kite", "teddy bear", "toy car", "doll", "hat", "book", "balloon", "boat", "drum",
        "puzzle", "train", "robot", "scarf", "bucket", "blanket", "spoon", "box"]
PLACES = [("park", "in the park"), ("garden", "in the garden"), ("forest", "in the forest"),
          ("beach", "at the beach"), ("farm", "on the farm"), ("yard", "in the yard"),
          ("lake", "by the lake"), ("hill", "on the hill"), ("meadow", "in the meadow"),
          ("playground", "at the playground")]
HIDING = ["under a big tree", "behind a rock", "under the bench", "in the tall grass", "near the pond",
          "under a pile of leaves", "behind the bushes", "next to a flower", "in a muddy puddle",
          "under the slide"]
FEARS = [("the dark", "dark"), ("the big waves", "waves"), ("thunder", "thunder"),
         ("the tall slide", "slide"), ("the big dog next door", "dog"), ("the deep water", "water")]
FOODS = [("cookies", "The cookies were yummy."), ("a cake", "The cake was yummy."),
         ("muffins", "The muffins were yummy."), ("pancakes", "The pancakes were yummy."),
         ("bread", "The bread was warm and soft."), ("a pie", "The pie was yummy."),
         ("cupcakes", "The cupcakes were yummy.")]
SKILLS = [("ride a bike", "rode", "bike"), ("swim", "swam", "water"), ("climb the tree", "climbed", "tree"),
          ("jump rope", "jumped", "rope"), ("fly a kite", "flew the kite", "kite"),
          ("skate", "skated", "skates")]
FEEL_GOOD = ["happy", "glad", "proud", "excited", "joyful"]
FEEL_BAD = ["sad", "upset", "worried", "scared"]
WEATHER = ["rain", "snow", "wind"]
TIMES = ["One day", "One morning", "One sunny day", "One afternoon", "Later that day", "The next day"]
OPENERS = ["Once upon a time", "Once upon a time", "One day", "Long ago", "In a small town"]
ADULTS = [("mom", "she", "her"), ("dad", "he", "his"), ("grandma", "she", "her"), ("grandpa", "he", "his")]


class Char:
    def __init__(self, name, noun, he):
        self.name, self.noun = name, noun
        self.he = he
        self.him = "her" if he == "she" else "him"
        self.his = "her" if he == "she" else "his"

    def He(self):
        return self.he.capitalize()

    def His(self):
        return self.his.capitalize()


def pick(r, xs):
    return xs[r.randrange(len(xs))]


def a_an(word):
    return ("an " if word[0] in "aeiou" else "a ") + word


def make_char(r, exclude=()):
    k = r.random()
    if k < 0.35:
        name, noun, he = pick(r, GIRLS), "girl", "she"
    elif k < 0.7:
        name, noun, he = pick(r, BOYS), "boy", "he"
    else:
        name, noun, he = pick(r, ANIMAL_NAMES), pick(r, ANIMALS)[0], pick(r, ["he", "she"])
    if name in exclude:
        return make_char(r, exclude)
    return Char(name, noun, he)


def intro(r, c, toy, color, place):
    adj = pick(r, ADJ)
    o = pick(r, OPENERS)
    s = r.randrange(4)
    if s == 0:
        first = f"{o}, there was {a_an(adj)} {c.noun} named {c.name}."
    elif s == 1:
        first = f"{o}, {a_an(adj)} {c.noun} named {c.name} lived near a {place[0]}."
    elif s == 2:
        first = f"{c.name} was {a_an(adj)} {c.noun}."
    else:
        first = f"{o}, there lived {a_an(adj)} {c.noun}. {c.His()} name was {c.name}."
    love = pick(r, [f"{c.He()} loved to play with {c.his} {color} {toy}.",
                    f"{c.He()} had {a_an(color)} {toy} that {c.he} loved very much.",
                    f"{c.His()} favorite toy was {a_an(color)} {toy}.",
                    f"Every day, {c.he} played {place[1]}."])
    return [first, love]


def plot_lost(r, c, f, toy, color, place):
    s = [f"{pick(r, TIMES)}, {c.name} went to play {place[1]} with {c.his} {color} {toy}."]
    s.append(pick(r, [f"{c.He()} played and played until the sun went down.",
                      f"{c.He()} ran and laughed all afternoon.",
                      f"{c.He()} had so much fun."]))
    s.append(pick(r, [f"When it was time to go home, {c.name} could not find {c.his} {toy}.",
                      f"But then {c.he} saw that {c.his} {toy} was gone!",
                      f"Suddenly, {c.name} noticed that {c.his} {toy} was missing."]))
    s.append(f"{c.name} felt very {pick(r, FEEL_BAD)}.")
    s.append(pick(r, [f"\"Where is my {toy}?\" {c.he} cried.", f"\"Oh no! I lost my {toy}!\" said {c.name}."]))
    s.append(pick(r, [f"{f.name} the {f.noun} saw {c.name} and asked, \"Why are you sad?\"",
                      f"{c.His()} friend {f.name} came to help."]))
    h1, h2 = r.sample(HIDING, 2)
    s.append(f"They looked {h1}, but the {toy} was not there.")
    s.append(f"Then {f.name} looked {h2}. \"I found it!\" {f.he} said.")
    s.append(pick(r, [f"{c.name} was so {pick(r, FEEL_GOOD)}. {c.He()} gave {f.name} a big hug.",
                      f"{c.name} smiled and said, \"Thank you, {f.name}! You are a good friend.\""]))
    s.append(pick(r, [f"From that day on, {c.name} always took good care of {c.his} {toy}.",
                      "They played together until it was time to go home.",
                      f"{c.name} learned that friends help each other."]))
    return s


def plot_share(r, c, f, toy, color, place):
    s = [f"{pick(r, TIMES)}, {c.name} was playing with {c.his} {color} {toy} {place[1]}."]
    s.append(f"{f.name} the {f.noun} came and asked, \"Can I play with your {toy} too?\"")
    s.append(pick(r, [f"\"No, it is mine!\" said {c.name}.", f"{c.name} did not want to share. \"No!\" {c.he} said."]))
    s.append(f"{f.name} felt {pick(r, ['sad', 'upset'])} and walked away.")
    s.append(pick(r, [f"Soon, {c.name} did not have fun anymore. Playing alone was boring.",
                      f"{c.name} looked at {c.his} {toy}. {c.He()} did not feel happy."]))
    s.append(f"{c.He()} ran to {f.name} and said, \"I am sorry. Do you want to play with my {toy}?\"")
    s.append(f"{f.name} smiled and said, \"Yes, thank you!\"")
    s.append(pick(r, [f"They played with the {toy} together and had lots of fun.",
                      f"They took turns with the {toy} all day."]))
    s.append(pick(r, [f"{c.name} learned that sharing is fun.",
                      "Sharing made them both happy.",
                      f"From that day on, {c.name} and {f.name} were best friends."]))
    return s


def plot_fear(r, c, f, toy, color, place):
    fear, short = pick(r, FEARS)
    a, ahe, ahis = pick(r, ADULTS)
    s = [f"{c.name} was afraid of {fear}."]
    s.append(pick(r, [f"Every time {c.he} thought about it, {c.he} felt scared.",
                      f"{c.He()} did not like {fear} at all."]))
    s.append(f"{pick(r, TIMES)}, {c.his} {a} said, \"There is nothing to be afraid of. I am here with you.\"")
    s.append(f"{c.name} held {c.his} {a}'s hand and took a deep breath.")
    s.append(pick(r, [f"{c.He()} looked at {fear} and was very brave.",
                      f"Slowly, {c.he} stepped closer to {fear}."]))
    s.append(pick(r, [f"It was not scary at all! It was fun.", f"Soon {c.he} was not scared anymore."]))
    s.append(f"{c.name} smiled. \"I was brave!\" {c.he} said.")
    s.append(pick(r, [f"{c.His()} {a} gave {c.him} a big hug and said, \"I am so proud of you.\"",
                      f"After that day, {c.name} was never afraid of {fear} again."]))
    return s


def plot_weather(r, c, f, toy, color, place):
    w = pick(r, WEATHER)
    a, ahe, ahis = pick(r, ADULTS)
    s = [f"{pick(r, TIMES)}, {c.name} wanted to go to the {place[0]} to play with {c.his} {color} {toy}."]
    if w == "rain":
        s.append("But it started to rain. The rain fell on the windows.")
    elif w == "snow":
        s.append("But it was snowing and it was very cold outside.")
    else:
        s.append("But the wind was very strong and the trees were shaking.")
    s.append(f"{c.name} was {pick(r, ['sad', 'upset'])}. \"Now I can not play outside,\" {c.he} said.")
    food, yum = pick(r, FOODS)
    k = r.randrange(3)
    if k == 0:
        s.append(f"{c.His()} {a} had an idea. \"Let's bake {food} together!\"")
        s.append(f"They mixed flour, eggs and sugar in a big bowl. It was messy and fun.")
        s.append(f"Soon the house smelled very good. {yum}")
    elif k == 1:
        s.append(f"{c.His()} {a} said, \"Let's build a fort with blankets!\"")
        s.append("They made a big fort in the living room and read books inside.")
    else:
        s.append(f"{c.His()} {a} said, \"Let's draw a picture of the {place[0]}!\"")
        s.append(f"{c.name} drew the sun, a tree and {c.his} {toy}. It was a beautiful picture.")
    s.append(pick(r, ["Then the sun came out again.", "After a while, the sky was blue again."]))
    s.append(f"{c.name} ran to the {place[0]} and played with {c.his} {toy}. It was the best day ever.")
    return s


def plot_help(r, c, f, toy, color, place):
    animal, sound = pick(r, ANIMALS)
    s = [f"{pick(r, TIMES)}, {c.name} was walking {place[1]}."]
    trouble = pick(r, [f"stuck in a tree", "with a hurt leg", "all alone and crying", "caught in a net"])
    s.append(f"{c.He()} saw a little {animal} {trouble}.")
    if sound:
        s.append(f"\"{sound.capitalize()}, {sound}!\" said the {animal}. It needed help.")
    else:
        s.append(f"The {animal} looked very {pick(r, ['sad', 'scared'])}. It needed help.")
    s.append(pick(r, [f"{c.name} wanted to help. {c.He()} went to get {f.name}.",
                      f"\"Do not worry, I will help you,\" said {c.name}."]))
    if "tree" in trouble:
        s.append(f"{c.name} climbed up slowly and carried the {animal} down.")
    elif "leg" in trouble:
        s.append(f"{c.name} put a soft bandage on its leg.")
    elif "net" in trouble:
        s.append(f"{c.name} opened the net very carefully.")
    else:
        s.append(f"{c.name} helped the {animal} find its family.")
    s.append(f"The {animal} was happy. It looked at {c.name} and smiled.")
    s.append(pick(r, [f"From that day on, the {animal} and {c.name} were best friends.",
                      f"{c.name} felt {pick(r, FEEL_GOOD)} because {c.he} helped someone in need.",
                      f"Every day, the {animal} came to play with {c.name} {place[1]}."]))
    return s


def plot_learn(r, c, f, toy, color, place):
    skill, did, thing = pick(r, SKILLS)
    s = [f"{c.name} wanted to learn to {skill}."]
    s.append(f"{pick(r, TIMES)}, {c.he} tried, but {c.he} fell down.")
    s.append(f"\"I can not do it,\" said {c.name}. {c.He()} felt {pick(r, ['sad', 'upset'])}.")
    s.append(pick(r, [f"{f.name} said, \"Try again! You can do it!\"",
                      f"{c.His()} friend {f.name} said, \"Do not give up.\""]))
    s.append(f"So {c.name} tried again, and again, and again.")
    s.append(f"At last, {c.he} {did} all by {'herself' if c.he == 'she' else 'himself'}!")
    s.append(f"\"I did it!\" {c.name} shouted. {c.He()} was so {pick(r, FEEL_GOOD)}.")
    s.append(pick(r, [f"{c.name} learned that if you keep trying, you can do anything.",
                      f"{c.name} and {f.name} played together until dinner time."]))
    return s


PLOTS = [plot_lost, plot_share, plot_fear, plot_weather, plot_help, plot_learn]


def story(r):
    c = make_char(r)
    f = make_char(r, exclude=(c.name,))
    toy, color, place = pick(r, TOYS), pick(r, COLORS), pick(r, PLACES)
    return " ".join(intro(r, c, toy, color, place) + pick(r, PLOTS)(r, c, f, toy, color, place))


def stories(n, seed):
    r = random.Random(seed)
    return [story(r) for _ in range(n)]


# Held-out text is generated with these seeds; training uses seed 1.
TRAIN_SEED, HELDOUT_SEED = 1, 1000003

if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else TRAIN_SEED
    for s in stories(n, seed):
        print(s)
