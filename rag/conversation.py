"""Follow-up question → standalone question, so retrieval sees what the user means.

"Who makes them?" after "Is Japan exporting Patriot missiles?" retrieves nothing useful on its
own: the pronoun carries the topic. Without an LLM (a rewrite call would double the latency of
every follow-up on 2 cores), a follow-up is recognised by its form (a pronoun with no name of
its own, a continuation like "and"/"what about", or no content word at all) and gets the key
terms of the previous standalone question appended as context: names first, then figures and
content words. A question that stands on its own is never changed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.terms import STOPWORDS, names, stem, words

# Words that point back to something said before. Possessives ("its", "their") only count when
# the question names nothing itself: "Did Japan change its rules?" stands alone.
_POINTERS = frozenset("it they them he him she this these those such".split())
# "that" is mostly a relative pronoun ("the law that banned ..."); it points back only at the
# end of a question or next to these words ("Why did they do that?", "What does that mean?").
_THAT_NEIGHBOURS = frozenset(
    "do did does about of after before by with for on in is was mean means happen happened".split()
)
_POSSESSIVES = frozenset("its their theirs his her hers".split())
_CONTINUATIONS = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|what else|anything else|why not|"
    r"what if|same for|and what|and how|and why|and when|and who)\b",
    re.IGNORECASE,
)
# Words a question is made of that say nothing about its topic.
_GENERIC = frozenset(
    """
    many much happen happened happens else tell know think mean means meant get got give gave
    make made go went going thing things something anything way ways really exactly more less
    kind sort like did does do done being been true false right wrong yes no please explain
    detail details why when where who which what how whose
    """.split()
)
MAX_TERMS = 6


@dataclass(frozen=True)
class Rewrite:
    """The question to search with, and what (if anything) was carried from earlier turns."""

    text: str
    follow_up: bool = False
    carried: tuple[str, ...] = ()


def content_words(question: str) -> list[str]:
    """Topic words of a question: no stopwords, no question scaffolding."""
    out = []
    for w in words(question):
        lw = w.lower().replace("’", "'").removesuffix("'s")
        if lw in STOPWORDS or lw in _GENERIC or stem(lw) in _GENERIC or len(lw) < 2:
            continue
        out.append(w)
    return out


def is_follow_up(question: str) -> bool:
    """Does this question lean on an earlier one for its meaning?"""
    q = question.strip()
    if not q:
        return False
    if _CONTINUATIONS.match(q):
        return True
    lowered = [w.lower().replace("’", "'") for w in words(q)]
    has_names = bool(names(q))
    # "Is it true that ..." is an expletive "it", not a pointer
    pointers = [w for i, w in enumerate(lowered) if _points_back(lowered, i)]
    if pointers and not has_names:
        return True
    if pointers and any(w in {"it", "they", "them", "he", "him", "she"} for w in pointers):
        # a subject/object pronoun with a name elsewhere: only a follow-up when the name is not
        # what the pronoun could stand for (the question is short and the name is its object)
        return len(content_words(q)) <= 2
    if not has_names and any(w in _POSSESSIVES for w in lowered):
        return True
    return not content_words(q)


def _points_back(lowered: list[str], i: int) -> bool:
    w = lowered[i]
    nxt = lowered[i + 1] if i + 1 < len(lowered) else ""
    prev = lowered[i - 1] if i > 0 else ""
    if w == "that":
        return not nxt or prev in _THAT_NEIGHBOURS or nxt in _THAT_NEIGHBOURS
    if w == "it":  # "Is it true that ..." is an expletive "it", not a pointer
        return not (prev in {"is", "was"} and nxt in {"true", "possible", "likely", "known"})
    return w in _POINTERS


_NAME_PHRASE = re.compile(
    r"[A-Z][\w'’\-]*(?:\.[A-Z]\.?)*(?:\s+(?:of\s+(?:the\s+)?)?[A-Z][\w'’\-]*(?:\.[A-Z]\.?)*)*"
)


def key_terms(question: str) -> list[str]:
    """Names (as multi-word phrases), figures, then content words of a question, in order."""
    found: list[tuple[bool, str]] = []
    for m in _NAME_PHRASE.finditer(question):
        parts = m.group(0).split()
        # drop capitalised scaffolding: "Did Japan" → "Japan", "Who" → nothing
        while parts and not names(parts[0]) and not _is_abbrev(parts[0]):
            parts.pop(0)
        if parts:
            found.append((True, " ".join(parts).rstrip(".'’")))
    for w in words(question):
        if w[0].isdigit() and len(w.replace(",", "")) >= 2:
            found.append((False, w))
    for w in content_words(question):
        if not w[0].isdigit() and not w[0].isupper():
            found.append((False, w))
    return _dedupe([t for named, t in found if named] + [t for named, t in found if not named])


def _is_abbrev(w: str) -> bool:
    # U.S., UK and friends are names too, even though names() reports them aliased
    return sum(c.isupper() for c in w) >= 2


def _dedupe(terms: list[str]) -> list[str]:
    out: list[str] = []
    for t in terms:
        key = t.lower()
        if not any(key == o.lower() or key in o.lower().split() for o in out):
            out.append(t)
    return out


def standalone(question: str, previous: Sequence[str]) -> Rewrite:
    """The question as retrieval should see it, given the earlier standalone questions.

    `previous` holds the earlier turns' standalone questions, oldest first; only the last one
    is used, and since it already carries its own context a chain of follow-ups keeps the topic.
    """
    q = " ".join(question.split())
    if not previous or not is_follow_up(q):
        return Rewrite(q)
    mine = {stem(w.lower()) for w in words(q)}
    earlier, context = _split_context(previous[-1])
    named = [t for t in key_terms(earlier) if t[0].isupper()]
    rest = [t for t in key_terms(earlier) if not t[0].isupper()]
    context_named = [t for t in context if t[0].isupper()]
    context_rest = [t for t in context if not t[0].isupper()]
    carried = [
        t
        for t in _dedupe(named + context_named + rest + context_rest)
        if not all(stem(p.lower()) in mine for p in t.split())
    ][:MAX_TERMS]
    if not carried:
        return Rewrite(q, follow_up=True)
    return Rewrite(f"{q} (context: {', '.join(carried)})", follow_up=True, carried=tuple(carried))


def _split_context(question: str) -> tuple[str, list[str]]:
    """An earlier rewrite split into its own words and the context terms it carried."""
    m = re.match(r"^(.*) \(context: (.*)\)$", question)
    return (m[1], m[2].split(", ")) if m else (question, [])
