"""Question → Query: the text to search with and the filters that apply.

Filters set by hand (API argument, CLI flags, UI) always apply. From the words alone only what is
unambiguous is inferred here: a news source the index holds, named as the teller ("according to
CNN", "what did The Week report"). Dates in a question are usually part of the fact asked about
("the first change since 2014"), so they are not turned into filters without an explicit cue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.types import Filters, Query


def understand(
    text: str, filters: Filters | dict | None = None, known_sources: Iterable[str] = ()
) -> Query:
    explicit = Filters.from_dict(filters)
    question = " ".join(text.split())
    inferred: list[str] = []
    sources = list(explicit.sources)
    if not sources:
        for src in sorted({s for s in known_sources if s}, key=len, reverse=True):
            name = re.escape(src)
            cue = (
                rf"\b(according to|reported by|from|in|on|per)\s+(the\s+)?{name}\b"
                rf"|\b{name}\s+(report(s|ed)?|sa(ys|id)|wr(ote|ites)|article)"
            )
            if re.search(cue, question, re.IGNORECASE):
                sources.append(src)
                inferred.append(f"source: {src}")
    f = Filters(
        doc_ids=explicit.doc_ids,
        sources=tuple(sources),
        date_from=explicit.date_from,
        date_to=explicit.date_to,
        titles=explicit.titles,
    )
    return Query(text=question, filters=f, inferred=tuple(inferred))
