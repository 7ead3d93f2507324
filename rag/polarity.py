"""Polarity: opposite words and negated clauses, for the premise check (rag.refuse).

Why not the support model: a question's premise ("who disagrees…") is checked against the
quoted source before the answer is shown, and the question is not a claim the model was
trained to read; these two word-level tests are what `premise_conflict` needs. (They were part
of the edit rules that once patched the rule checker; those rules were deleted once the trained
model covered them - figures in eval/README.md.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.terms import has_negation, stem, tokens

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


def opposed(mine: Sequence[str], theirs: Sequence[str]) -> tuple[str, str] | None:
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


def negates(text: str, claim: str) -> bool:
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
