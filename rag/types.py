"""Core types passed between the steps of the pipeline.

Small frozen dataclasses, so every step can be tested alone and nothing downstream can mutate
what an earlier step produced. Character spans (`start`, `end`) always index the *document*
text, so a quote can be highlighted in the article exactly as it was stored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

Span = tuple[int, int]


@dataclass(frozen=True)
class Document:
    """One article: its full text and the metadata users filter and cite by."""

    id: str
    text: str
    title: str = ""
    source: str = ""
    published_at: str | None = None  # ISO date, YYYY-MM-DD
    url: str = ""
    authors: tuple[str, ...] = ()
    path: str = ""  # where it was loaded from (file, or file#record)
    # metadata read from the text, not stated by the file: "title", "published_at"
    guessed: tuple[str, ...] = ()

    @property
    def stated_title(self) -> str:
        """The title when the file or record states it; '' when it was guessed from the text
        (the text's own opening words: no news to an embedder or the support model, and a
        near-copy of a sentence before a span measurably confuses the support model)."""
        return "" if "title" in self.guessed else self.title

    def meta(self) -> dict[str, Any]:
        """Metadata without the text, as shown in listings and citations."""
        d = asdict(self)
        d.pop("text")
        d["authors"] = list(self.authors)
        d["guessed"] = list(self.guessed)
        d["chars"] = len(self.text)
        return d


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one document, sized to the embedder's window."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    sentences: tuple[Span, ...]  # sentence spans inside the document, in order
    position: int = 0  # index of the chunk in its document


@dataclass(frozen=True)
class Filters:
    """Metadata restrictions applied inside the stores, never after the top-k cut."""

    doc_ids: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    date_from: str | None = None  # inclusive ISO date
    date_to: str | None = None  # inclusive ISO date
    titles: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.doc_ids or self.sources or self.date_from or self.date_to or self.titles)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | Filters | None) -> Filters:
        if d is None:
            return cls()
        if isinstance(d, Filters):
            return d

        def _tuple(v: Any) -> tuple[str, ...]:
            if v is None:
                return ()
            return (v,) if isinstance(v, str) else tuple(v)

        return cls(
            doc_ids=_tuple(d.get("doc_ids") or d.get("doc_id")),
            sources=_tuple(d.get("sources") or d.get("source")),
            date_from=d.get("date_from"),
            date_to=d.get("date_to"),
            titles=_tuple(d.get("titles") or d.get("title")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_ids": list(self.doc_ids),
            "sources": list(self.sources),
            "date_from": self.date_from,
            "date_to": self.date_to,
            "titles": list(self.titles),
        }


@dataclass(frozen=True)
class QuestionTerms:
    """What later steps read of a question, worked out once (rag.query.analyse)."""

    text: str  # what must be answered: the question less the phrases that became filters
    names: frozenset[str] = frozenset()  # every name (rag.terms.names)
    required_names: tuple[str, ...] = ()  # names the evidence must hold (not its opener, no dates)
    numbers: frozenset[float] = frozenset()
    tokens: frozenset[str] = frozenset()  # stemmed content tokens
    words: frozenset[str] = frozenset()  # lower-cased surface words
    negated: bool = False
    wh: bool = False  # opens with what / which / who / when / where / why / how
    answer_type: str = ""  # "a number", "a date or time", "a name", "a place" or ""
    parts: tuple[tuple[str, str], ...] = ()  # (part, its answer type) of a several-part question


@dataclass(frozen=True)
class Query:
    """A question with the filters that apply to it (given by hand or read from its words)."""

    text: str
    filters: Filters = field(default_factory=Filters)
    inferred: tuple[str, ...] = ()  # human-readable notes on filters guessed from the words
    read_filters: Filters = field(default_factory=Filters)  # the part of `filters` so guessed
    as_of: str | None = None  # ISO date the question is asked on; later articles are unseen
    core: str = ""  # the question less the phrases that became filters (what must be answered)
    current: bool = False  # about current events: recency counts in the ranking
    terms: QuestionTerms = field(default_factory=lambda: QuestionTerms(""))


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with the scores that ranked it."""

    chunk: Chunk
    score: float  # fused score used for the ranking
    dense: float | None = None  # cosine similarity, when the dense retriever saw it
    lexical: float | None = None  # BM25 score, when the lexical retriever saw it


@dataclass(frozen=True)
class Evidence:
    """One evidence sentence shown to the LLM as a numbered passage."""

    number: int
    doc_id: str
    chunk_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Unit:
    """A quotable span of a document: one sentence of a retrieved chunk (or of a whole document)."""

    doc_id: str
    chunk_id: str
    start: int
    end: int
    text: str
    parts: tuple[int, ...]  # indexes of the sentences (in the unit list) it is made of


@dataclass(frozen=True)
class Citation:
    """A quoted span of a document that supports a sentence; quote == doc.text[start:end]."""

    doc_id: str
    chunk_id: str
    title: str
    source: str
    published_at: str | None
    quote: str
    start: int
    end: int
    support: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Sentence:
    """One sentence of an answer or summary, with the citations the system verified for it."""

    text: str
    supported: bool
    support: float
    citations: tuple[Citation, ...] = ()
    reason: str = ""  # why it is unsupported, when it is

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "supported": self.supported,
            "support": round(self.support, 4),
            "reason": self.reason,
            "citations": [c.to_dict() for c in self.citations],
        }


def distinct_citations(sentences: tuple[Sentence, ...]) -> list[Citation]:
    """All distinct citations in order of first use."""
    seen: set[tuple[str, int, int]] = set()
    out: list[Citation] = []
    for s in sentences:
        for c in s.citations:
            key = (c.doc_id, c.start, c.end)
            if key not in seen:
                seen.add(key)
                out.append(c)
    return out


@dataclass(frozen=True)
class Answer:
    """The grounded answer: what was said, what backs each sentence, or why it was refused."""

    question: str
    text: str
    sentences: tuple[Sentence, ...]
    refused: bool
    refusal_reason: str = ""
    retrieved: tuple[Hit, ...] = ()
    titles: dict[str, str] = field(default_factory=dict)  # doc_id -> title, for `retrieved`
    timings: dict[str, float] = field(default_factory=dict)
    draft: str = ""  # the LLM's text before grounding (markers and all)
    query: Query | None = None
    not_covered: tuple[str, ...] = ()  # parts of the question the sources do not answer

    @property
    def citations(self) -> list[Citation]:
        return distinct_citations(self.sentences)

    def to_dict(self) -> dict[str, Any]:
        """The `ask --json` object."""
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "refusal_reason": self.refusal_reason,
            "not_covered": list(self.not_covered),
            "sentences": [s.to_dict() for s in self.sentences],
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [
                {
                    "chunk_id": h.chunk.id,
                    "doc_id": h.chunk.doc_id,
                    "title": self.titles.get(h.chunk.doc_id, ""),
                    "score": round(h.score, 6),
                }
                for h in self.retrieved
            ],
            "filters": self.query.filters.to_dict() if self.query else None,
            "inferred": list(self.query.inferred) if self.query else [],
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
        }


@dataclass(frozen=True)
class Topic:
    """One topic of a digest: related articles and the checked sentences that summarise them."""

    label: str
    doc_ids: tuple[str, ...]
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True)
class Summary:
    """A summary of one or many documents; every sentence checked against their text.

    A digest of the collection (no ids, no query) also groups its sentences by `topics`."""

    text: str
    sentences: tuple[Sentence, ...]
    doc_ids: tuple[str, ...]
    query: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    topics: tuple[Topic, ...] = ()

    @property
    def citations(self) -> list[Citation]:
        return distinct_citations(self.sentences)

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.text,
            "doc_ids": list(self.doc_ids),
            "query": self.query,
            "sentences": [s.to_dict() for s in self.sentences],
            "citations": [c.to_dict() for c in self.citations],
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
            "topics": [
                {
                    "label": t.label,
                    "doc_ids": list(t.doc_ids),
                    "sentences": [x.text for x in t.sentences],
                }
                for t in self.topics
            ],
        }
