"""Refusal, decided from evidence in named steps; each returns the reason shown, or "".

The 1.5B model invents answers to unanswerable questions and refuses everything when pushed
to refuse, so the prompt does not decide. Before drafting, retrieval alone can refuse (nothing
indexed, nothing matching, nothing similar, a name or figure of the question found nowhere,
too little of the question covered); then the answerability gate (rag.pipeline). After
drafting, what was verified can refuse (no draft, the model found nothing, nothing supported,
the kind of answer asked for missing, the supporting passages about something else, the quoted
source contradicting the question's premise); then the answer check. The steps read the
question's terms worked out once (`Query.terms`, rag.query.analyse).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.constraints import number_text
from rag.polarity import negates, opposed
from rag.settings import Settings
from rag.terms import STOPWORDS, by_initials, has_negation, name_in, names, numbers, tokens, words
from rag.types import Document, Hit, Query, QuestionTerms, Sentence

# ---- what the question needs from the text -------------------------------------------------


def missing_question_terms(q: QuestionTerms, evidence_text: str) -> list[str]:
    """Names and numbers of the question that appear nowhere in the text."""
    low = evidence_text.lower()
    ev_names = names(evidence_text)
    missing = [n for n in q.required_names if not name_in(n, low, ev_names)]
    if missing:
        initials = by_initials(q.text, evidence_text)
        missing = [n for n in missing if n not in initials]
    ev_numbers = numbers(evidence_text)
    # years and figures asked about must be there; small counts ("two") are too common to judge
    missing += [number_text(n) for n in sorted(q.numbers) if n >= 10 and n not in ev_numbers]
    return missing


def question_coverage(q: QuestionTerms, evidence_text: str) -> float:
    """Share of the question's content words found in the text."""
    if not q.tokens:
        return 1.0
    return len(q.tokens & set(tokens(evidence_text))) / len(q.tokens)


_TIME_WORDS = re.compile(
    r"\b(yesterday|today|tomorrow|last|next|ago|since|century|decade|year|month|week|"
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.IGNORECASE,
)


def lacks_answer_type(
    kind: str, q_names: frozenset[str], q_numbers: frozenset[float], supported_text: str
) -> str:
    """`kind` (a number, a date or time, a name, a place) when the text does not hold one the
    question does not already contain; else ""."""
    if not kind:
        return ""
    new_numbers = numbers(supported_text) - q_numbers
    if kind == "a number":
        return "" if new_numbers else kind
    if kind == "a date or time":
        return "" if new_numbers or _TIME_WORDS.search(supported_text) else kind
    fresh = {n for n in names(supported_text) if n not in q_names}
    return "" if fresh else kind


def uncovered_parts(q: QuestionTerms, supported_text: str) -> list[str]:
    """The parts of a several-part question the supported text does not answer.

    "Who makes the missiles and when will they ship?" answered with who alone is a partial
    answer: it is given, and says which part the sources do not cover.
    """
    out = []
    for part, kind in q.parts:
        part_names = frozenset(names(part))
        missing = lacks_answer_type(kind, part_names, frozenset(numbers(part)), supported_text)
        if missing:
            out.append(f"{part} (no {missing.removeprefix('a ')} in the sources)")
    return out if len(out) < len(q.parts) else []


_NEG_PREFIX = ("non-", "non", "un", "dis", "in", "im", "ir", "il")


def premise_conflict(q: QuestionTerms, quoted: str) -> str:
    """Where the question presumes what the quoted source contradicts, say how; else ''.

    SQuAD 2.0's unanswerable questions are mostly written this way: copy a sentence's words and
    flip one ("Who disagrees with the timetable?" against "the Presiding Officer agrees the
    timetable", "respond in a specific way" against "non-specific"). An answer drawn from that
    sentence is well supported and still answers a question nobody asked. Also a wh-question
    whose answer is the source denying the very thing asked ("What is fully understood about γδ T
    cells?" – "…are not fully understood"), the denial in the clause about what is asked.
    """
    s_words = {w.lower() for w in words(quoted)}
    for w in sorted(q.words - s_words):
        if len(w) < 4 or w in STOPWORDS:
            continue
        for x in s_words:
            for p in _NEG_PREFIX:
                # "not … able" asks what "unable" says: the negation moved, not the meaning
                if (x == p + w and not q.negated) or (w == p + x and not has_negation(quoted)):
                    return f"the source says '{x}', not '{w}'"
        pair = opposed([w], list(s_words - q.words))
        if pair:
            return f"the source says '{pair[1]}', not '{pair[0]}'"
    if (
        q.wh
        and not q.negated
        and negates(quoted, q.text)
        and q.tokens
        and len(q.tokens & set(tokens(quoted))) / len(q.tokens) >= 0.8
    ):
        return "the source denies what the question asks about"
    return ""


# ---- before drafting: retrieval alone ------------------------------------------------------


@dataclass(frozen=True)
class Retrieved:
    query: Query
    hits: list[Hit]
    docs: dict[str, Document]
    empty: bool  # the index holds no document at all
    settings: Settings

    @property
    def text(self) -> str:
        return "\n".join(
            [h.chunk.text for h in self.hits]
            + list({self.docs[h.chunk.doc_id].title for h in self.hits})
        )


def index_is_empty(r: Retrieved) -> str:
    return "The index is empty: ingest some articles first." if r.empty else ""


def nothing_matches(r: Retrieved) -> str:
    if r.hits:
        return ""
    if not r.query.filters.is_empty():
        return "No indexed article matches the filters."
    return "Nothing in the indexed articles matches the question."


def nothing_similar(r: Retrieved) -> str:
    best = max((h.dense for h in r.hits if h.dense is not None), default=0.0)
    if best < r.settings.refuse_min_dense:
        return f"Nothing in the indexed articles is about this (best similarity {best:.2f})."
    return ""


def question_terms_absent(r: Retrieved) -> str:
    missing = missing_question_terms(r.query.terms, r.text)
    if missing:
        return "The retrieved articles do not mention " + ", ".join(f"'{m}'" for m in missing) + "."
    return ""


def question_barely_covered(r: Retrieved) -> str:
    cov = question_coverage(r.query.terms, r.text)
    if cov < r.settings.refuse_min_coverage:
        return f"The retrieved articles cover too little of the question ({cov:.0%} of its terms)."
    return ""


BEFORE_DRAFT: tuple[Callable[[Retrieved], str], ...] = (
    index_is_empty,
    nothing_matches,
    nothing_similar,
    question_terms_absent,
    question_barely_covered,
)


def refuse_before_draft(r: Retrieved) -> str:
    for step in BEFORE_DRAFT:
        if reason := step(r):
            return reason
    return ""


# ---- after drafting: what was verified -----------------------------------------------------


@dataclass(frozen=True)
class Drafted:
    query: Query
    draft: str
    sentences: list[Sentence]  # grounded, the model's "not found" sentences left out
    said_not_found: bool
    hits: list[Hit]
    docs: dict[str, Document]

    @property
    def supported(self) -> list[Sentence]:
        return [s for s in self.sentences if s.supported]


def no_draft(d: Drafted) -> str:
    return "" if d.draft else "The model wrote no answer."


def model_found_nothing(d: Drafted) -> str:
    if not d.sentences and d.said_not_found:
        return "The model found no answer in the retrieved passages."
    return ""


def nothing_supported(d: Drafted) -> str:
    return "" if d.supported else "Nothing the model drafted is supported by the retrieved text."


def answer_type_missing(d: Drafted) -> str:
    q = d.query.terms
    missing = lacks_answer_type(
        q.answer_type, q.names, q.numbers, " ".join(s.text for s in d.supported)
    )
    return f"The retrieved text does not give {missing} for this question." if missing else ""


def support_off_topic(d: Drafted) -> str:
    """The cited passages must be about what was asked: every name of the question appears in
    the answer, its quotes or the chunks they come from."""
    cited = {c.chunk_id for s in d.supported for c in s.citations}
    chunks = {h.chunk.id: h.chunk for h in d.hits}
    around = " ".join(
        [s.text for s in d.supported]
        + [chunks[c].text for c in cited if c in chunks]
        + [d.docs[chunks[c].doc_id].title for c in cited if c in chunks]
    )
    off = missing_question_terms(d.query.terms, around)
    if off:
        return (
            "The passages that support the draft are not about "
            + ", ".join(f"'{m}'" for m in off)
            + "."
        )
    return ""


def premise_contradicted(d: Drafted) -> str:
    """Judged on the quote that covers most of the question: the sentence the question was
    written from, when it was."""
    q = d.query.terms
    quotes = [c.quote for s in d.supported for c in s.citations]
    best = max(quotes, key=lambda x: question_coverage(q, x), default="")
    conflict = premise_conflict(q, best)
    return f"The question assumes what the sources contradict: {conflict}." if conflict else ""


AFTER_DRAFT: tuple[Callable[[Drafted], str], ...] = (
    no_draft,
    model_found_nothing,
    nothing_supported,
    answer_type_missing,
    support_off_topic,
    premise_contradicted,
)


def refuse_after_draft(d: Drafted) -> str:
    for step in AFTER_DRAFT:
        if reason := step(d):
            return reason
    return ""
