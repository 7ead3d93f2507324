"""Grounding: every sentence tied to a quoted span of the retrieved text, or flagged with why.

One decision for answers, summaries, `eval check` and `bench checker`, in named steps:
  1. admissible text: sentences that instruct the assistant are never evidence
     (rag.instructions; dropped when the units are built, so the LLM never sees them either);
  2. align: the claim's candidate span among the units (rag.align);
  3. constraints: a number or a name of the claim that the span (or its article's title)
     lacks (rag.constraints) - exact checks the model cannot be trusted with;
  4. support: the trained support model (rag/weights/support, card.json) reads span and claim;
     below its threshold the claim is unsupported.
When a span of several sentences is accepted, its best sentence alone is scored too, and cited
alone when it is enough (tighter quotes for the reader). The LLM's own [n] markers only break
ties in the alignment.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from rag.align import align, span_text
from rag.constraints import violated
from rag.crossencoder import CrossEncoderModel
from rag.draft import split_answer
from rag.instructions import is_instruction
from rag.settings import Settings
from rag.terms import tokens
from rag.types import Citation, Document, Hit, Sentence, Unit

ALIGN_VERSION = "align/1"


@dataclass(frozen=True)
class Verdict:
    support: float  # the support model's probability for the cited span
    units: tuple[Unit, ...]
    reason: str  # why it is not supported; "" when it is

    @property
    def supported(self) -> bool:
        return not self.reason


def sentence_units(hits: Sequence[Hit], documents: dict[str, Document]) -> list[Unit]:
    """Every admissible sentence of the retrieved chunks (deduplicated across overlapping
    chunks): the evidence the LLM is shown and the spans answers may quote."""
    seen: set[tuple[str, int, int]] = set()
    units: list[Unit] = []
    for hit in hits:
        doc = documents[hit.chunk.doc_id]
        for s, e in hit.chunk.sentences:
            key = (doc.id, s, e)
            if key in seen or is_instruction(doc.text[s:e]):
                continue
            seen.add(key)
            units.append(Unit(doc.id, hit.chunk.id, s, e, doc.text[s:e], (len(units),)))
    return units


def document_units(documents: Sequence[Document]) -> tuple[list[Unit], dict[str, str]]:
    """Every admissible sentence of whole documents, with each document as context."""
    from rag.chunk import split_sentences

    units: list[Unit] = []
    context: dict[str, str] = {}
    for doc in documents:
        key = f"{doc.id}:doc"
        context[key] = f"{doc.stated_title}\n{doc.text}"
        for s, e in split_sentences(doc.text):
            if not is_instruction(doc.text[s:e]):
                units.append(Unit(doc.id, key, s, e, doc.text[s:e], (len(units),)))
    return units, context


class SupportChecker:
    """Decides whether retrieved text supports each sentence, and quotes the span that does."""

    def __init__(
        self,
        embedder: object | None,
        model: CrossEncoderModel | None = None,
        threshold: float | None = None,
        constraints: bool = True,
    ) -> None:
        self.embedder = embedder
        self.model = model or CrossEncoderModel("support")
        self.threshold = float(threshold if threshold is not None else self.model.threshold)
        self.constraints = constraints  # off only to measure what they add
        self._last_units: tuple[tuple[str, ...], np.ndarray | None] | None = None

    @classmethod
    def from_settings(cls, embedder: object | None, settings: Settings) -> SupportChecker:
        """The checker every entry point uses: `support_model` (a shipped name or a folder with
        a card) at `support_threshold` (None: the model's own)."""
        return cls(embedder, CrossEncoderModel(settings.support_model), settings.support_threshold)

    @property
    def version(self) -> str:
        bare = "" if self.constraints else "-constraints"
        return f"{self.model.version}/{ALIGN_VERSION}/t{self.threshold:g}{bare}"

    def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        if self.embedder is None or not texts:
            return None
        return self.embedder.embed(list(texts))  # type: ignore[attr-defined]

    def embed_units(self, texts: Sequence[str]) -> np.ndarray | None:
        """Like `embed`, remembering the last set: checking many texts against one article
        (eval check, a summary's sentences, a planted-error set) embeds the article once."""
        key = tuple(texts)
        last = self._last_units  # one read: threads may replace it meanwhile
        if last is not None and last[0] == key:
            return last[1]
        vecs = self.embed(texts)
        self._last_units = (key, vecs)
        return vecs

    def verdicts(
        self,
        claims: Sequence[str],
        units: Sequence[Unit],
        unit_vecs: np.ndarray | None = None,
        claim_vecs: np.ndarray | None = None,
        context: dict[str, str] | None = None,
        hints: Sequence[set[int]] | None = None,
        question_names: Collection[str] = (),
    ) -> list[Verdict]:
        """One verdict per claim; the model reads every (span, claim) pair in one batch.

        `context` maps chunk_id → its article's title, the chunk and the article's other
        retrieved chunks (first line the title); `hints` the unit indexes each claim's [n]
        markers pointed at; `question_names` the names of the question an answer replies to
        (rag.constraints)."""
        context = context or {}
        if not units:
            return [Verdict(0.0, (), "nothing was retrieved to support it") for _ in claims]
        if unit_vecs is None:
            unit_vecs = self.embed_units([u.text for u in units])
        if claim_vecs is None:
            claim_vecs = self.embed(list(claims))
        unit_tokens = [set(tokens(u.text)) for u in units]
        out: list[Verdict | None] = [None] * len(claims)
        spans: list[tuple[Unit, ...]] = [()] * len(claims)
        to_score: list[int] = []
        for i, claim in enumerate(claims):
            vec = claim_vecs[i] if claim_vecs is not None else None
            a = align(claim, units, unit_tokens, unit_vecs, vec, prefer=hints[i] if hints else None)
            if not a.units:
                out[i] = Verdict(0.0, (), "no checkable statement")
                continue
            spans[i] = tuple(units[k] for k in a.units)
            reason = self.constraints and violated(claim, spans[i], context, question_names)
            if reason:
                out[i] = Verdict(0.0, spans[i], reason)
            else:
                to_score.append(i)
        probs = self._score([(self._premise(spans[i], context), claims[i]) for i in to_score])
        # an accepted span of several sentences: its best-aligned sentence alone, if enough
        narrow: list[tuple[int, Unit]] = []
        for i, p in zip(to_score, probs, strict=True):
            if p >= self.threshold:
                out[i] = Verdict(float(p), spans[i], "")
                if len(spans[i]) > 1:
                    best = max(
                        spans[i],
                        key=lambda u: len(set(tokens(u.text)) & set(tokens(claims[i]))),
                    )
                    narrow.append((i, best))
            else:
                out[i] = Verdict(float(p), spans[i], "the source does not say this")
        alone = self._score([(self._premise((u,), context), claims[i]) for i, u in narrow])
        for (i, u), p in zip(narrow, alone, strict=True):
            if p >= self.threshold:
                out[i] = Verdict(float(p), (u,), "")
        return [v for v in out if v is not None]

    def check(
        self,
        claim: str,
        units: Sequence[Unit],
        unit_vecs: np.ndarray | None = None,
        claim_vec: np.ndarray | None = None,
        context: dict[str, str] | None = None,
        hint: set[int] | None = None,
        question_names: Collection[str] = (),
    ) -> Verdict:
        """The verdict for one claim (see `verdicts`)."""
        vecs = claim_vec[None, :] if claim_vec is not None else None
        return self.verdicts(
            [claim], units, unit_vecs, vecs, context, [hint or set()], question_names
        )[0]

    def _premise(self, span: Sequence[Unit], context: dict[str, str]) -> str:
        title = context.get(span[0].chunk_id, "").split("\n", 1)[0].replace("_", " ")
        return span_text(span, title)

    def _score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        return self.model.score(pairs) if pairs else np.zeros(0, dtype=np.float32)

    def ground(
        self,
        sentences: Sequence[tuple[str, set[int]]],
        units: Sequence[Unit],
        documents: dict[str, Document],
        context: dict[str, str],
        hint_map: dict[int, set[int]] | None = None,
        unit_vecs: np.ndarray | None = None,
        question_names: Collection[str] = (),
    ) -> list[Sentence]:
        """Ground each (sentence, marker numbers) against `units`."""
        if not sentences:
            return []
        hints = [
            set().union(*((hint_map or {}).get(m, set()) for m in markers))
            for _, markers in sentences
        ]
        claims = [t for t, _ in sentences]
        vs = self.verdicts(claims, units, unit_vecs, None, context, hints, question_names)
        return [self.sentence(t, v, documents) for t, v in zip(claims, vs, strict=True)]

    def sentence(self, text: str, v: Verdict, documents: dict[str, Document]) -> Sentence:
        """A Sentence from a verdict: cited when supported, flagged with the reason when not."""
        cites = tuple(_citation(u, documents[u.doc_id], v.support) for u in v.units)
        if v.supported:
            text = as_the_source_writes(text, " ".join(u.text for u in v.units))
        return Sentence(
            text=text,
            supported=v.supported,
            support=float(v.support),
            citations=cites if v.supported else (),
            reason=v.reason,
        )


def check_text(text: str, documents: Sequence[Document], checker: SupportChecker) -> list[Sentence]:
    """Check any text (an answer, a human summary) sentence by sentence against documents.

    The same checker the pipeline grounds answers with; [n] markers in the text are ignored.
    Citations carry `chunk_id` "<doc_id>:doc" since whole documents, not chunks, are searched.
    """
    units, context = document_units(documents)
    by_id = {d.id: d for d in documents}
    drafted = [(t, set()) for t, _ in split_answer(text)]
    return checker.ground(drafted, units, by_id, context)


def _citation(u: Unit, doc: Document, support: float) -> Citation:
    return Citation(
        doc_id=doc.id,
        chunk_id=u.chunk_id,
        title=doc.title,
        source=doc.source,
        published_at=doc.published_at,
        quote=doc.text[u.start : u.end],
        start=u.start,
        end=u.end,
        support=round(float(support), 4),
    )


# Typographic variants the model writes in ASCII ("1973-74" for the source's "1973–74");
# one character for one, so positions in the folded text are positions in the text
_TYPOGRAPHIC = str.maketrans(
    {c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"}
    | {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
)


def as_the_source_writes(text: str, span: str) -> str:
    """`text` with the span's own dashes and quote marks in the words it copies from the span.

    Why: a supported sentence is shown as the source's words, and the 1.5B model writes the
    en dash of "the winter of 1973–74" as a hyphen; a reader (or a benchmark's string match)
    comparing the answer with the article should see the article's characters. Only a word the
    span has, up to these variants ("1973-74", "it's"), is changed."""
    if span.isascii():
        return text
    folded_span = span.translate(_TYPOGRAPHIC)

    def restore(m: re.Match[str]) -> str:
        word = m.group(0)
        if not any(c in "-'\"" for c in word):
            return word
        found = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", folded_span)
        return span[found.start() : found.end()] if found else word

    return re.sub(r"\w+(?:[-'\"]+\w+)+", restore, text)
