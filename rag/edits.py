"""Edit rules over words, from before the support model: kept only where they measure better.

A near-copy of a source sentence with one name put in another's place, a negation added or
dropped, or a word swapped for its opposite (previous/revised, rose/fell) is found by aligning
the two word sequences. The trained support model (rag.ground) now decides support; each rule
here is switched on only where `newsrag bench checker` shows it adding to the model on the
validation splits (figures in rag/ground.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from rag.terms import NEGATIONS, by_initials, has_negation, name_in, names, stem, tokens, words
from rag.types import Unit

RULES = frozenset({"relation", "negation", "opposites"})


def edit_reason(claim: str, picked: Sequence[Unit], rules: frozenset[str]) -> str:
    """The first edit rule (of `rules`) the claim breaks against its span, or ""."""
    if not rules or not picked:
        return ""
    span = " ".join(u.text for u in picked)
    edits = aligned_edits(claim, picked)
    if "relation" in rules and "name" in edits:
        return edits["name"]
    if "negation" in rules:
        negated = has_negation(claim)
        copied = negated and _copied_negation(claim, span)
        if not copied and all(_negates(u.text, claim) != negated for u in picked):
            return "negation differs from the source"
        if "negation" in edits:
            return edits["negation"]
    if "opposites" in rules and "opposite" in edits:
        return edits["opposite"]
    return ""


_CAP = re.compile(r"[A-Z]")


def aligned_edits(claim: str, picked: Sequence[Unit]) -> dict[str, str]:
    """Short edits that turn a quoted sentence into the claim: a name put in another's place,
    a negation added or dropped. Keys "name" / "negation", values the reason shown.

    Aligning the claim's words with a quoted sentence finds what word sets cannot: "Aztec" and
    "Mictecacihuatl" both occur in the source, but the claim put each in the other's place
    ("tribute to Aztec, the goddess of death"), or moved a name from the next sentence into this
    one; "it's not unknown" turned into "it has not been emerging" keeps a negation on both
    sides. Judged only for near-copies (most words aligned, the changed run short); a paraphrase
    reorders freely and is left to the other checks.
    """
    cw = words(claim)
    found: dict[str, str] = {}
    for u in picked:
        sw = words(u.text)
        if not cw or not sw:
            continue
        sm = SequenceMatcher(None, [w.lower() for w in cw], [w.lower() for w in sw], autojunk=False)
        matched = sum(b.size for b in sm.get_matching_blocks())
        if matched / len(cw) < 0.6:
            continue
        for op, i1, i2, j1, j2 in sm.get_opcodes():
            if op == "equal" or i2 - i1 > 4 or j2 - j1 > 4:
                continue
            mine, theirs = cw[i1:i2], sw[j1:j2]
            if _negations(mine) != _negations(theirs) and "negation" not in found:
                added = "adds" if _negations(mine) > _negations(theirs) else "drops"
                found["negation"] = f"{added} a negation the source does not have"
            if op == "replace" and "opposite" not in found and (pair := _opposed(mine, theirs)):
                found["opposite"] = f'says "{pair[0]}" where the source says "{pair[1]}"'
            # capitalised words; a sentence's first word only when it is a name, not "The"
            caps = [w for k, w in enumerate(mine, i1) if _CAP.match(w) and (k or names(w))]
            source_caps = [w for k, w in enumerate(theirs, j1) if _CAP.match(w) and (k or names(w))]
            if op != "replace" or not caps or not source_caps or "name" in found:
                continue
            low = " ".join(source_caps).lower()
            initials = by_initials(" ".join(mine), " ".join(theirs))
            new = [
                w
                for w in caps
                if not name_in(_name_key(w), low, names(" ".join(source_caps)))
                and w.lower() not in initials
            ]
            if new:
                found["name"] = f"name {new[0]} where the source says {' '.join(source_caps)}"
    return found


# Words that turn a copied sentence into its contrary when swapped for each other: before and
# after ("the previous rules allowed" against "the revised rules now allow"), up and down.
_OPPOSITES = [
    (
        "previous former formerly earlier old before past original once prior",
        "new revised current now updated latest after later recent",
    ),
    (
        "increase increased rise rose grow grew gain up higher more raise raised double doubled "
        "triple tripled",
        "decrease decreased fall fell drop dropped shrink shrank loss down lower less fewer cut",
    ),
    (
        "allow allowed permit permitted approve approved accept accepted lift lifted",
        "ban banned forbid forbade prohibit prohibited reject rejected block blocked "
        "impose imposed",
    ),
    ("win won victory", "lose lost defeat"),
    ("buy bought import imported", "sell sold export exported"),
    ("open opened start started begin began", "close closed end ended stop stopped"),
    ("largest biggest highest most maximum first best", "smallest lowest least minimum last worst"),
    ("north east northern eastern", "south west southern western"),
]
_OPPOSED = [({stem(w) for w in a.split()}, {stem(w) for w in b.split()}) for a, b in _OPPOSITES]


def _opposed(mine: Sequence[str], theirs: Sequence[str]) -> tuple[str, str] | None:
    """A word of `mine` and one of `theirs` from opposite sides of one pair, if any."""
    ms = {stem(w.lower()): w for w in mine}
    ts = {stem(w.lower()): w for w in theirs}
    for a, b in _OPPOSED:
        for x, y in ((a, b), (b, a)):
            hit_m = next((ms[k] for k in ms if k in x), None)
            hit_t = next((ts[k] for k in ts if k in y), None)
            if hit_m and hit_t and not (set(ms) & y) and not (set(ts) & x):
                return hit_m, hit_t
    return None


_CLAUSE = re.compile(r"[;:()\[\]—–]|,\s|\.\s")


def _negates(text: str, claim: str) -> bool:
    """Does `text` hold a negation in a clause about what the claim is about?

    A negation elsewhere in the quoted sentence ("… defined using Boolean circuits. #P is a
    class of counting problems (not decision problems)", "the yes/no answers") does not make
    the claim's polarity differ: the negated clause must share two content words with it, and
    be (or tie with) the clause the claim matches best, by the share of the clause's words it
    repeats - "Huguenot immigrants did not disperse or settle in different parts of the country,
    but rather, formed three societies …; another 21 miles north of New York in a town which
    they named New Rochelle" does not deny that they settled New Rochelle. A near-copy matches
    every clause alike, so a negation dropped from any of them still counts.
    """
    want = set(tokens(claim))
    clauses = []
    for c in _CLAUSE.split(text):
        own = set(tokens(c))
        if len(own & want) >= 2:
            clauses.append((len(own & want) / len(own), c))
    best = max((r for r, _ in clauses), default=0.0)
    return any(r >= best - 0.1 and has_negation(c) for r, c in clauses)


def _copied_negation(claim: str, span: str) -> bool:
    """Is every negated clause of the claim a negated clause of the span, word for word?

    Why: `_negates` counts a span's negation only in a clause that shares two content words
    with the claim, so a near-copy that keeps a short negated clause of its source ("…
    increasing aid to Islamic groups (…) that did not, but …") would otherwise read as a
    negation the source lacks."""

    def plain(c: str) -> str:
        return " ".join(w.lower() for w in words(c))

    theirs = {plain(c) for c in _CLAUSE.split(span) if has_negation(c)}
    mine = [plain(c) for c in _CLAUSE.split(claim) if has_negation(c)]
    return bool(mine) and all(c in theirs for c in mine)


def _negations(ws: Sequence[str]) -> int:
    return sum(w.lower().replace("’", "'") in NEGATIONS or w.lower().endswith("n't") for w in ws)


def _name_key(word: str) -> str:
    found = names(word)
    return next(iter(found)) if found else word.lower()
