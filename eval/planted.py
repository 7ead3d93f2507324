"""Planted errors: true sentences of an article and copies with exactly one error each.

The errors are made by rule from real sentences, so the set can be built from any article
(including research-only ones read by path, never copied): a changed number or date, a swapped
name or place (taken from elsewhere in the same article, so the words exist in the source), a
flipped negation, a reversed relation (two names trade places), and an outside claim (a clause
with a fact the article does not hold). `eval check` must flag every one and accept the originals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.chunk import split_sentences
from rag.terms import names
from rag.types import Document

KINDS = ("number", "name", "negation", "relation", "outside")
_AUX = re.compile(
    r"(?<!\bto )\b(is|are|was|were|has|have|had|will|can|could|would|should|does|did)\b(?! not)"
)
_CALENDAR = set(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)
_NEG = re.compile(r"\b(is|are|was|were|has|have|had|will|can|could|would|should|does|did|do) not\b")


@dataclass(frozen=True)
class Planted:
    kind: str  # "true" or one of KINDS
    text: str
    original: str
    doc_id: str


def _capitalised(sentence: str) -> list[str]:
    """Capitalised words of the sentence that `names` counts as names, in order."""
    found = {n.lower() for n in names(sentence)}
    out = []
    for m in re.finditer(r"\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)*\b", sentence):
        if m.start() == 0:
            continue
        words = m.group(0).split()
        if all(w.lower() in found for w in words) and not _CALENDAR & {w.lower() for w in words}:
            out.append(m.group(0))
    return out


def _gap(sentence: str, a: str, b: str) -> int:
    """Words between the first occurrences of two names."""
    i, j = sorted((sentence.find(a), sentence.find(b)))
    first = a if sentence.find(a) == i else b
    return len(sentence[i + len(first) : j].split())


def plant(sentence: str, doc: Document) -> dict[str, str]:
    """One planted variant per kind that applies to this sentence."""
    out: dict[str, str] = {}
    num = re.search(r"(?<![\w.])(\d+(?:\.\d+)?)", sentence)
    if num:
        value = num.group(1)
        new = str(int(float(value)) + (2 if len(value) == 4 else 7))
        out["number"] = sentence[: num.start()] + new + sentence[num.end() :]
    names_here = _capitalised(sentence)
    # another entity, not another form of one already here (Ukraine for Ukrainian is no error)
    here = {w.lower()[:5] for n in names_here for w in n.split()}
    others = [
        n
        for n in dict.fromkeys(_capitalised(doc.text))
        if n not in names_here
        and n.lower() not in sentence.lower()
        and not here & {w.lower()[:5] for w in n.split()}
    ]
    if names_here and others:
        out["name"] = sentence.replace(names_here[0], others[0], 1)
    if _NEG.search(sentence):
        out["negation"] = _NEG.sub(lambda m: m.group(1), sentence, count=1)
    elif _AUX.search(sentence):
        out["negation"] = _AUX.sub(lambda m: f"{m.group(1)} not", sentence, count=1)
    # two names in different roles: adjacent ones are usually one title ("Spirit CEO Ted
    # Christie"), where a swap scrambles words rather than reversing who did what to whom
    distinct = list(dict.fromkeys(names_here))
    pair = next(
        (
            (a, b)
            for i, a in enumerate(distinct)
            for b in distinct[i + 1 :]
            if _gap(sentence, a, b) >= 3
        ),
        None,
    )
    if pair:
        a, b = pair
        swapped = sentence.replace(a, "\0").replace(b, a).replace("\0", b)
        if swapped != sentence:
            out["relation"] = swapped
    out["outside"] = (
        sentence.rstrip(".") + ", and officials in Canberra said 14 more shipments were planned."
    )
    return out


def planted_set(doc: Document, max_sentences: int = 6, min_words: int = 8) -> list[Planted]:
    """True sentences of `doc` and their planted copies.

    Sentences that add a kind of error not yet planted come first, so a short article still
    yields every kind it can; the rest fill up to `max_sentences` in article order.
    """
    candidates = []
    for s, e in split_sentences(doc.text):
        sentence = doc.text[s:e]
        if len(sentence.split()) < min_words or sentence.endswith("?"):
            continue
        variants = plant(sentence, doc)
        if len(variants) >= 2:
            candidates.append((sentence, variants))
    chosen: list[int] = []
    covered: set[str] = set()
    for i, (_, variants) in enumerate(candidates):
        if len(chosen) < max_sentences and set(variants) - covered:
            chosen.append(i)
            covered |= set(variants)
    for i in range(len(candidates)):
        if len(chosen) >= max_sentences:
            break
        if i not in chosen:
            chosen.append(i)
    items: list[Planted] = []
    for i in sorted(chosen):
        sentence, variants = candidates[i]
        items.append(Planted("true", sentence, sentence, doc.id))
        items.extend(Planted(k, v, sentence, doc.id) for k, v in variants.items())
    return items
