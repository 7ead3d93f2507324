"""Synthetic training pairs from real sentences: one fact changed, or only detail dropped.

Why: the human-labelled sets hold few of the edits that answers about news get wrong while
keeping the source's words: an implicative verb flipped ("failed to approve" → "approved"), a
prohibition made a permission, roles or a destination swapped, a scope widened ("some" →
"all"), a time moved ("plans to" → "did", "before" → "after"), a negation added or dropped. Each
edit here is made by a word-list rule on a real sentence; its unchanged sentence and a copy
that only drops detail (a trailing clause, a parenthesis, an "only") are the positives, so the
model learns that leaving out is allowed and changing is not. These rules make *training data
only*: the checker does not run them, and the planted-error test set
(tests/data/planted_by_hand.jsonl) was written by hand, not by them.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Iterator
from typing import Any

from rag.chunk import split_sentences

_IRREGULAR = {
    "be": "was",
    "become": "became",
    "begin": "began",
    "bring": "brought",
    "build": "built",
    "buy": "bought",
    "choose": "chose",
    "come": "came",
    "cut": "cut",
    "do": "did",
    "draw": "drew",
    "drive": "drove",
    "fall": "fell",
    "feel": "felt",
    "fight": "fought",
    "find": "found",
    "fly": "flew",
    "get": "got",
    "give": "gave",
    "go": "went",
    "grow": "grew",
    "have": "had",
    "hold": "held",
    "keep": "kept",
    "know": "knew",
    "lead": "led",
    "leave": "left",
    "lend": "lent",
    "lose": "lost",
    "make": "made",
    "meet": "met",
    "pay": "paid",
    "put": "put",
    "raise": "raised",
    "rise": "rose",
    "run": "ran",
    "say": "said",
    "see": "saw",
    "seek": "sought",
    "sell": "sold",
    "send": "sent",
    "set": "set",
    "shut": "shut",
    "speak": "spoke",
    "spend": "spent",
    "stand": "stood",
    "steal": "stole",
    "strike": "struck",
    "take": "took",
    "teach": "taught",
    "tell": "told",
    "think": "thought",
    "throw": "threw",
    "win": "won",
    "write": "wrote",
}


def past(verb: str) -> str:
    """Simple past of an English verb (irregulars listed, else the regular spelling rules)."""
    v = verb.lower()
    if v in _IRREGULAR:
        out = _IRREGULAR[v]
    elif v.endswith("e"):
        out = v + "d"
    elif re.search(r"[^aeiou]y$", v):
        out = v[:-1] + "ied"
    elif re.search(r"^[^aeiou]*[aeiou][bdgmnpt]$", v):
        out = v + v[-1] + "ed"
    else:
        out = v + "ed"
    return out.capitalize() if verb[:1].isupper() else out


def _sub(pattern: str, repl: str | Callable[[re.Match[str]], str]) -> Callable[[str], str | None]:
    rx = re.compile(pattern)  # case kept: "May" the month is not "may" the modal

    def edit(s: str) -> str | None:
        out, n = rx.subn(repl, s, count=1)
        return out if n and out != s else None

    return edit


def _swap(a: str, b: str) -> list[Callable[[str], str | None]]:
    return [_sub(rf"\b{a}\b", b), _sub(rf"\b{b}\b", a)]


def _to_past(m: re.Match[str]) -> str:
    return past(m.group(1))


EDITS: dict[str, list[Callable[[str], str | None]]] = {
    "implicative": [
        _sub(r"\bfailed to (\w+)", _to_past),
        _sub(r"\bfails to (\w+)", _to_past),
        _sub(r"\btried to (\w+)", _to_past),
        _sub(r"\battempted to (\w+)", _to_past),
        _sub(r"\bsought to (\w+)", _to_past),
        _sub(r"\bwanted to (\w+)", _to_past),
        _sub(r"\brefused to\b", "agreed to"),
        _sub(r"\bdeclined to\b", "agreed to"),
        _sub(r"\bagreed to\b", "refused to"),
        _sub(r"\bmanaged to\b", "failed to"),
        *_swap("denied", "confirmed"),
        *_swap("rejected", "approved"),
        _sub(r"\bdenies\b", "admits"),
    ],
    "permission": [
        *_swap("banned", "allowed"),
        *_swap("bans", "allows"),
        *_swap("prohibited", "permitted"),
        *_swap("prohibits", "permits"),
        *_swap("illegal", "legal"),
        *_swap("barred", "allowed"),
        *_swap("forbidden", "permitted"),
        _sub(r"\bmust not\b", "may"),
        _sub(r"\bmay not\b", "may"),
        _sub(r"\bcannot\b", "can"),
        _sub(r"\bcan't\b", "can"),
        _sub(r"\b(is|are) required to\b", r"\1 not required to"),
        _sub(r"\brequires\b", "does not require"),
        _sub(r"\bcan only\b", "can"),
        _sub(r"\brestricts\b", "expands"),
        _sub(r"\bblocked\b", "allowed"),
    ],
    "scope": [
        _sub(r"\bsome\b", "all"),
        _sub(r"\bmany (?=[a-z]+s\b)", "all "),
        _sub(r"\bseveral\b", "all"),
        _sub(r"\bmost (?=[a-z]+s\b)", "all "),
        _sub(r"\bone of the\b", "the only"),
        _sub(r"\bpartly\b", "entirely"),
        _sub(r"\bsometimes\b", "always"),
        _sub(r"\boften\b", "always"),
        _sub(r"\b(may|could|might)\b", "will"),
        _sub(r"\bat least\b", "at most"),
        _sub(r"\bup to\b", "at least"),
        _sub(r"\ba few\b", "all"),
    ],
    "time": [
        *_swap("before", "after"),
        *_swap("earlier", "later"),
        _sub(r"\bpreviously\b", "now"),
        _sub(r"\bformerly\b", "currently"),
        _sub(r"\bformer\b", "current"),
        _sub(r"\bprevious\b", "current"),
        _sub(r"\blast (year|week|month)\b", r"next \1"),
        _sub(r"\byesterday\b", "tomorrow"),
        _sub(
            r"\bwill (?!not\b|n't\b|then\b|also\b|now\b|still\b|soon\b|only\b|just\b|"
            r"never\b|\w+ly\b)([a-z]+)",
            _to_past,
        ),
        _sub(
            r"\b(?:plans|planned|intends|intended|hopes|hoped|is expected|are expected) to (\w+)",
            _to_past,
        ),
        _sub(r"\bis considering (\w+)ing\b", lambda m: "decided to " + m.group(1)),
        _sub(r"\bno longer\b", "still"),
        _sub(r"\bstill\b", "no longer"),
    ],
    "negation": [
        _sub(
            r"\b(is|are|was|were|will|can|could|would|should|has|have|had|does|did)\b(?! not)",
            r"\1 not",
        ),
        _sub(r"\b(is|are|was|were|will|can|could|would|should|has|have|had|does|did) not\b", r"\1"),
        _sub(r"\bnever\b", "always"),
    ],
}

_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*\b")
_NOT_NAMES = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday first the this that these those "
    "he she it we they i you his her their our its a an in on at but and or if when while "
    "after before however meanwhile".split()
)


def _names(s: str) -> list[re.Match[str]]:
    return [
        m
        for m in _NAME.finditer(s)
        if m.start() > 0
        and s[m.start() - 1] not in "\"“'‘("
        and m.group(0).split()[0].lower() not in _NOT_NAMES
    ]


_LIST_GAP = re.compile(r"^\W*(?:and|or|&|,)?\W*$")


def swap_roles(s: str, article_names: list[str], rng: random.Random) -> str | None:
    """Two names of the sentence trade places ("X sued Y" → "Y sued X"), unless they only sit
    side by side in a list; or one name after to/from/in/against becomes another name of the
    article (a changed destination or party)."""
    found = _names(s)
    for a, b in itertools.pairwise(found):
        if a.group(0) != b.group(0) and not _LIST_GAP.match(s[a.end() : b.start()]):
            return s[: a.start()] + b.group(0) + s[a.end() : b.start()] + a.group(0) + s[b.end() :]
    m = re.search(
        r"\b(to|from|in|into|against|toward|with|by) (the )?([A-Z][a-z]+(?: [A-Z][a-z]+)*)", s
    )
    if m:
        others = [n for n in article_names if n not in s and len(n) > 2]
        if others:
            return s[: m.start(3)] + rng.choice(others) + s[m.end(3) :]
    return None


_TRAIL = re.compile(
    r",\s+(?:which|who|leading|making|adding|according|as|while|after|"
    r"before|including|citing|saying)\b[^,]*[.!?]?$"
)


def drop_detail(s: str) -> str | None:
    """A copy that only leaves detail out (so the source still supports it)."""
    for rx, repl in (
        (_TRAIL, "."),
        (re.compile(r"\s*\([^()]{3,80}\)"), ""),
        (re.compile(r"^(?:However|Meanwhile|Additionally|Also|In addition|Still|But),\s+"), ""),
        (re.compile(r"\bonly\s+"), ""),
    ):
        out = rx.sub(repl, s, count=1).strip()
        if out and out != s and len(out.split()) >= 6:
            return out[0].upper() + out[1:]
    return None


def perturbed(text: str, rng: random.Random, per_article: int = 3) -> Iterator[dict[str, Any]]:
    """Up to `per_article` sentences of an article, each giving one edited (label 0) and one
    supported (label 1) claim."""
    spans = split_sentences(text)
    sents = [text[s:e] for s, e in spans]
    names = sorted({m.group(0) for s in sents for m in _names(s)})
    picks = [i for i, s in enumerate(sents) if 8 <= len(s.split()) <= 45 and s[-1:] in '.!?"”']
    rng.shuffle(picks)
    # sentences where a rare kind of edit applies first (few sentences hold "failed to" or "banned")
    rare = [f for c in ("implicative", "permission") for f in EDITS[c]]
    picks.sort(key=lambda i: not any(f(sents[i]) for f in rare))
    made = 0
    for i in picks:
        if made >= per_article:
            break
        s = " ".join(sents[i].split())
        # negation edits fit almost any sentence: tried last, so the rarer kinds get their share
        cats = [c for c in EDITS if c != "negation"] + ["destination_role"]
        rng.shuffle(cats)
        cats.sort(key=lambda c: c not in ("implicative", "permission"))
        cats.append("negation")
        edited, cat = None, ""
        for cat in cats:
            if cat == "destination_role":
                edited = swap_roles(s, names, rng)
            else:
                edits = EDITS[cat][:]
                rng.shuffle(edits)
                edited = next((e for e in (f(s) for f in edits) if e), None)
            if edited:
                break
        if not edited:
            continue
        made += 1
        yield {"claim": edited, "label": 0, "category": cat, "sentence": i}
        kept = drop_detail(s) or s
        yield {"claim": kept, "label": 1, "category": "kept", "sentence": i}
