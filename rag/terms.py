"""Words, stems, numbers and names: the vocabulary shared by BM25 and the support checker.

One tokenizer for both, so "what BM25 matched" and "what the checker counts as the same word"
never disagree. Numbers are normalised ("$60 billion" → 60000000000, "2%" → 2, "two" → 2) so a
changed figure is caught even when it is written differently.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

_STEM = Stemmer.Stemmer("english")

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself no nor not of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves said says say according would could may might must shall us also one
    """.split()
)
NEGATIONS = frozenset(
    """
    not no never none nobody nothing neither nor without cannot can't won't don't doesn't
    didn't isn't aren't wasn't weren't hasn't haven't hadn't shouldn't wouldn't couldn't n't
    """.split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*[A-Za-z]|[A-Za-z]|\d[\d,.]*\d|\d")
_NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
    "dozen": 12,
    "half": 0.5,
    # ordinals are numbers too ("the fifth Session" is not "the fourth Session"); "first" is
    # left out: it is as often an adverb ("first reported") as a rank
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
}
_SCALE = {
    "thousand": 1e3,
    "million": 1e6,
    "billion": 1e9,
    "trillion": 1e12,
    "k": 1e3,
    "bn": 1e9,
    "m": 1e6,
}
_NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:\s*(thousand|million|billion|trillion|bn)\b)?",
    re.IGNORECASE,
)
_NUMWORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
_MULTIWORD = {
    "United States": "US",
    "United Kingdom": "UK",
    "United Nations": "UN",
    "European Union": "EU",
}
_ALIASES = {
    "us": "united_states",
    "u.s": "united_states",
    "usa": "united_states",
    "america": "united_states",
    "uk": "united_kingdom",
    "u.k": "united_kingdom",
    "britain": "united_kingdom",
    "un": "united_nations",
    "u.n": "united_nations",
    "eu": "european_union",
}


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _STEM.stemWord(word)


def words(text: str) -> list[str]:
    """Surface tokens (words and numbers) in order, case kept."""
    return [w.rstrip("'’") for w in _WORD.findall(text)]


def tokens(text: str) -> list[str]:
    """Lower-cased, stemmed content tokens without stopwords: what BM25 indexes."""
    out = []
    for w in words(text):
        lw = w.lower().replace("’", "'")
        if lw in STOPWORDS or (len(lw) == 1 and not lw.isdigit()):
            continue
        if lw.endswith("'s"):
            lw = lw[:-2]
        out.append(stem(lw.replace(",", "")) if not lw[0].isdigit() else lw.replace(",", ""))
    return out


def numbers(text: str, spelled: bool = True) -> set[float]:
    """Numeric values mentioned, normalised (scales applied, digits and, with `spelled`, small
    number words)."""
    found: set[float] = set()
    for m in _NUMBER.finditer(text):
        raw = m.group(1).replace(",", "")
        try:
            value = float(raw)
        except ValueError:
            continue
        if m.group(2):
            value *= _SCALE[m.group(2).lower()]
        found.add(round(value, 6))
    for m in _NUMWORD.finditer(text) if spelled else ():
        found.add(float(_NUMBER_WORDS[m.group(1).lower()]))
    return found


_YES_NO = re.compile(r"\byes/no\b", re.IGNORECASE)


def has_negation(text: str) -> bool:
    """A negating word in the text; "yes/no" ("the yes/no answers") names a kind, no denial."""
    text = _YES_NO.sub(" ", text)
    return any(w.lower().replace("’", "'") in NEGATIONS for w in re.findall(r"[\w'’]+", text)) or (
        "n't" in text or "n’t" in text
    )


# Capitalised only because they open a sentence or clause, never names.
_STARTERS = frozenset(
    """
    yes no however previously following meanwhile additionally furthermore moreover overall
    finally first second third today yesterday tomorrow last next earlier later recently
    currently now still instead thus therefore hence although though despite since while
    during after before because according based in on at by for from with without under over
    as also many several some most another both either neither each every all several
    """.split()
)


def fold(text: str) -> str:
    """Accents dropped (Möngke → Mongke): a question typed without them names the same man."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def names(text: str) -> set[str]:
    """Capitalised words that are not sentence-initial function words: people, places, groups.

    Returned lower-cased, without accents and aliased (U.S. → united_states) so spellings of one
    name agree.
    """
    out: set[str] = set()
    text = fold(text)
    for long, short in _MULTIWORD.items():
        text = text.replace(long, short)
    for m in re.finditer(r"\b[A-Z][A-Za-z.\-]*[A-Za-z]\b|\b[A-Z]{2,}\b", text):
        w = m.group(0).rstrip(".")
        if "-" in w and w.split("-", 1)[1].islower():
            w = w.split("-", 1)[0]  # "US-based" names the US, "Japan-made" Japan
        lw = w.lower()
        acronym = w.isupper() and len(w) >= 2
        if not acronym and (lw in STOPWORDS or lw in NEGATIONS or lw in _NUMBER_WORDS):
            continue
        if lw in _STARTERS:
            continue
        out.add(_ALIASES.get(lw, lw))
    return out


_DEMONYM = r"(?:ese|ians?|ans?|ish|eans?|is|i|ic)"


def name_in(name: str, text_lower: str, text_names: set[str]) -> bool:
    """Is this name in the text? Accepts aliases, accents and the forms of a place's name
    (Japan ~ Japanese, China ~ Chinese, Korean ~ Korea)."""
    name = fold(name)
    if name in text_names:
        return True
    text_lower = fold(text_lower)
    if "_" in name:  # an alias: look for any of its spellings
        spellings = [k for k, v in _ALIASES.items() if v == name] + [name.replace("_", " ")]
        return any(re.search(rf"\b{re.escape(k)}\b", text_lower) for k in spellings)
    if re.search(rf"\b{re.escape(name)}", text_lower):
        return True
    stemmed = stem(name)
    if len(stemmed) >= 4 and re.search(rf"\b{re.escape(stemmed)}", text_lower):
        return True
    base = re.sub(r"[aeiouy]+$", "", name)  # china → chin(ese), germany → german
    if base != name and len(base) >= 4:
        exact = "?" if len(base) >= 6 else ""
        if re.search(rf"\b{re.escape(base)}{_DEMONYM}{exact}\b", text_lower):
            return True
    m = re.fullmatch(rf"([a-z]{{4,}}?){_DEMONYM}", name)  # korean → korea, chinese → china
    return m is not None and re.search(rf"\b{m.group(1)}[aeiouy]*\b", text_lower) is not None


_RUN = re.compile(r"\b[A-Z][a-z]+(?:(?:\s+(?:of|on|the|for|and|de|du|von)){0,2}\s+[A-Z][a-z]+)+")


def spelled_out(text: str) -> dict[str, set[str]]:
    """Initials of each name of several words → its words ("Treaty on European Union" → TEU)."""
    out: dict[str, set[str]] = {}
    for m in _RUN.finditer(fold(text)):
        ws = [w for w in m.group(0).split() if w[0].isupper()]
        while ws and (ws[0].lower() in STOPWORDS or ws[0].lower() in _STARTERS):
            ws = ws[1:]  # "The Treaty of …": a sentence's first word is not part of the name
        if len(ws) >= 2:
            out.setdefault("".join(w[0] for w in ws), set()).update(w.lower() for w in ws)
    return out


def by_initials(text: str, other: str) -> set[str]:
    """Names of `text` that `other` writes as initials, or spells out: "the Treaty of European
    Union" is the TEU of a passage, and "the TEU" of a question its "Treaty on European Union"."""
    other_caps = {w for w in words(other) if w.isupper() and len(w) >= 2}
    out = {w for ini, ws in spelled_out(text).items() if ini in other_caps for w in ws}
    spelled = spelled_out(other)
    return out | {w.lower() for w in words(text) if w.isupper() and len(w) >= 2 and w in spelled}
