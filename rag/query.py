"""Question → Query: the text to search with and the filters that apply.

Filters set by hand (API argument, CLI flags, UI) always win. From the words, only what is
unambiguous is inferred, by patterns (fast, no LLM):
  - dates and ranges: "last week", "this month", "yesterday", "in October 2023",
    "on March 5, 2022", "before/after/since June 2022", relative to an as-of date;
  - a news source the index holds, named as the teller ("according to CNN", "USA Today reported");
  - an article title quoted in the question.
A bare year is left alone: in news questions it is usually part of the fact asked about
("the first change since 2014"), not a wish to filter. An as-of date (a question asked on a day
cannot see later articles) caps the range and turns on recency in the ranking.

A follow-up (`follows`: the earlier question's Query) keeps the filters that question's words
set ("What did CNN report last week?" → "And why?"), kind by kind, unless its own words or the
hand-set filters give that kind anew.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import date, timedelta

from rag.terms import has_negation, names, numbers, tokens, words
from rag.types import Filters, Query, QuestionTerms

# month names and abbreviations, lower-cased → month number (also read by rag.guess)
MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_CURRENT = re.compile(
    r"\b(recent(ly)?|latest|this (week|month|year)|last (week|month)|past (week|few days|month)|"
    r"yesterday|today|tonight|so far|currently|now|new(ly)?|just|upcoming|ongoing)\b",
    re.IGNORECASE,
)


def _month_range(year: int, month: int) -> tuple[str, str]:
    last = calendar.monthrange(year, month)[1]
    return date(year, month, 1).isoformat(), date(year, month, last).isoformat()


def _parse_day(text: str) -> date | None:
    m = re.match(rf"({MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})", text, re.I)
    if m:
        try:
            return date(int(m[3]), MONTHS[m[1].lower()], int(m[2]))
        except ValueError:
            return None
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", text)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
    return None


def infer_dates(
    question: str, as_of: date | None
) -> tuple[str | None, str | None, list[str], list[str]]:
    """(date_from, date_to, notes, phrases used) read from the question's words."""
    q = question.lower()
    notes: list[str] = []
    used: list[str] = []
    lo: str | None = None
    hi: str | None = None
    if as_of:
        rel = {
            "yesterday": (1, 1),
            "today": (0, 0),
            "this week": (7, 0),
            "past week": (7, 0),
            "last week": (14, 0),
            "past few days": (5, 0),
            "this month": (31, 0),
            "last month": (62, 0),
            "past month": (31, 0),
        }
        for phrase, (back, fwd) in rel.items():
            if re.search(rf"\b{phrase}\b", q):
                lo = (as_of - timedelta(days=back)).isoformat()
                hi = (as_of - timedelta(days=fwd)).isoformat()
                notes.append(f"dates: {phrase} ({lo} to {hi})")
                used.append(phrase)
                break
    for cue, span in re.findall(
        rf"\b(in|during|on|before|after|since|until)\s+((?:{MONTH_RE})\.?(?:\s+\d{{1,2}}(?:st|nd|rd|th)?,?)?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})",
        question,
        re.IGNORECASE,
    ):
        day = _parse_day(span)
        if day:
            a = b = day.isoformat()
        else:
            m = re.match(rf"({MONTH_RE})\.?\s+(\d{{4}})", span, re.I)
            if not m:
                continue
            a, b = _month_range(int(m[2]), MONTHS[m[1].lower()])
        cue = cue.lower()
        if cue in ("in", "during", "on"):
            lo, hi = a, b
        elif cue in ("after", "since"):
            lo = a
        else:
            hi = a
        notes.append(f"dates: {cue} {span}")
        used.append(f"{cue} {span}")
    return lo, hi, notes, used


def understand(
    text: str,
    filters: Filters | dict | None = None,
    known_sources: Iterable[str] = (),
    known_titles: Iterable[str] = (),
    as_of: date | str | None = None,
    follows: Query | None = None,
) -> Query:
    explicit = Filters.from_dict(filters)
    question = " ".join(text.split())
    if isinstance(as_of, str):
        as_of = date.fromisoformat(as_of)
    inferred: list[str] = []
    used: list[str] = []  # phrases that became filters: not part of what must be answered

    sources = list(explicit.sources)
    if not sources:
        for src in sorted({s for s in known_sources if s}, key=len, reverse=True):
            name = re.escape(src)
            cue = (
                rf"\b(according to|reported by|from|in|on|per|by)\s+(the\s+)?{name}\b"
                rf"|\b{name}('s)?\s+(report(s|ed)?|sa(ys|id)|wr(ote|ites)|article|stor(y|ies)|"
                rf"coverage|quiz)"
            )
            m = re.search(cue, question, re.IGNORECASE)
            if m and src not in sources:
                if any(src.lower() in s.lower() for s in sources):
                    continue
                sources.append(src)
                used.append(src)
                inferred.append(f"source: {src}")
        # "CNN and The Week reported": a source listed beside one already found
        for src in sorted({s for s in known_sources if s} - set(sources), key=len, reverse=True):
            for found in list(sources):
                a, b = re.escape(src), re.escape(found)
                joined = rf"\b{a}\s*(,|and|or)\s*(the\s+)?{b}\b|\b{b}\s*(,|and|or)\s*(the\s+)?{a}\b"
                if re.search(joined, question, re.IGNORECASE):
                    sources.append(src)
                    used.append(src)
                    inferred.append(f"source: {src}")
                    break

    titles = list(explicit.titles)
    if not titles:
        quoted = re.findall(r"[\"“]([^\"”]{8,})[\"”]", question)
        lower_titles = {t.lower(): t for t in known_titles if t}
        for q in quoted:
            hits = [t for lt, t in lower_titles.items() if q.lower() in lt]
            if len(hits) == 1:
                titles.append(q)
                inferred.append(f"title: {hits[0]}")

    date_from, date_to = explicit.date_from, explicit.date_to
    if not (date_from or date_to):
        # source names are not dates ("USA Today")
        dateless = question
        for src in known_sources:
            if src:
                dateless = re.sub(re.escape(src), " ", dateless, flags=re.IGNORECASE)
        date_from, date_to, notes, phrases = infer_dates(dateless, as_of)
        inferred.extend(notes)
        used.extend(phrases)
    if follows is not None:
        was = follows.read_filters
        earlier = " (from the earlier question)"
        if not sources and was.sources:
            sources = list(was.sources)
            inferred.extend(f"source: {x}{earlier}" for x in was.sources)
        if not titles and was.titles:
            titles = list(was.titles)
            inferred.extend(f"title: {x}{earlier}" for x in was.titles)
        if not (date_from or date_to) and (was.date_from or was.date_to):
            date_from, date_to = was.date_from, was.date_to
            inferred.append(f"dates: {date_from or '…'} to {date_to or '…'}{earlier}")
    read = Filters(
        sources=tuple(x for x in sources if x not in explicit.sources),
        date_from=None if explicit.date_from or explicit.date_to else date_from,
        date_to=None if explicit.date_from or explicit.date_to else date_to,
        titles=tuple(x for x in titles if x not in explicit.titles),
    )
    if as_of and (date_to is None or date_to > as_of.isoformat()):
        date_to = as_of.isoformat()
    f = Filters(
        doc_ids=explicit.doc_ids,
        sources=tuple(sources),
        date_from=date_from,
        date_to=date_to,
        titles=tuple(titles),
    )
    core = question
    for phrase in used:
        core = re.sub(re.escape(phrase), " ", core, flags=re.IGNORECASE)
    return Query(
        text=question,
        core=" ".join(core.split()),
        filters=f,
        inferred=tuple(inferred),
        read_filters=read,
        as_of=as_of.isoformat() if as_of else None,
        current=bool(as_of) or bool(_CURRENT.search(question)),
        terms=analyse(" ".join(core.split()) or question),
    )


# Weekdays and months are dates, not topics: the evidence need not name them.
CALENDAR = frozenset(m.lower() for m in list(calendar.month_name)[1:] + list(calendar.day_name))
_WH = re.compile(r"^\W*(what|which|who|whom|whose|when|where|why|how)\b", re.IGNORECASE)
_NUMBER_ASKED = re.compile(
    r"^(how (many|much|old|long|far)|what (percentage|share|number|amount)|"
    r"(in )?(what|which) year)\b"
)
_PART = re.compile(
    r"\?\s+|[,;]?\s+and\s+(?=(?:who|whom|when|where|how|which|what|in what|in which)\b)",
    re.IGNORECASE,
)


def _asking(question: str) -> str:
    """The question from its wh-word on, lower-cased: a leading clause ("According to CNN, how
    many …", "In 2023, who …") does not ask."""
    q = question.strip().lower()
    return re.sub(r"^[^,?]*?,\s+(?=(?:how|what|which|who|whom|whose|when|where|in)\b)", "", q)


def answer_type(question: str) -> str:
    """What kind of answer the words ask for: "how many" a number, "when" a date, "who" a
    name, "where" a place; "" when the question does not say."""
    q = _asking(question)
    if _NUMBER_ASKED.match(q):
        return "a number"
    if re.match(r"^when\b", q):
        return "a date or time"
    if re.match(r"^(who|whom|whose|where)\b", q):
        return "a place" if q.startswith("where") else "a name"
    return ""


def analyse(text: str) -> QuestionTerms:
    """The question's names, numbers, words, answer type and parts, once for every later step."""
    all_names = names(text)
    # a question's first word is capitalised by position ("Approximately how many…")
    first = text.split()[0] if text.split() else ""
    skip = set(CALENDAR) | ({first.lower()} if first and not first.isupper() else set())
    parts = [p.strip(" ?,;") for p in _PART.split(text) if p and p.strip(" ?,;")]
    return QuestionTerms(
        text=text,
        names=frozenset(all_names),
        required_names=tuple(sorted(n for n in all_names if n not in skip)),
        numbers=frozenset(numbers(text)),
        tokens=frozenset(tokens(text)),
        words=frozenset(w.lower() for w in words(text)),
        negated=has_negation(text),
        wh=bool(_WH.match(_asking(text))),
        answer_type=answer_type(text),
        parts=tuple((p, answer_type(p)) for p in parts) if len(parts) > 1 else (),
    )
