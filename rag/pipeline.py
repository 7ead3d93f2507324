"""`rag.Pipeline`: the one facade the CLI, the app and the eval harness stand on.

    p = rag.Pipeline(rag.Settings(index_dir="my-index"))
    p.ingest(["articles/"])            # → IngestReport (added / replaced / unchanged / errors)
    a = p.ask("Who makes Patriot missiles in Japan?")
    for sentence in a.sentences: print(sentence.text, [c.quote for c in sentence.citations])

Models load lazily: listing documents needs neither model, asking needs both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.answer import build_messages, number_evidence, select_evidence
from rag.answerable import answerable_logodds, checked_logodds, passage_holds_answer
from rag.chunk import chunk_document
from rag.crossencoder import CrossEncoderModel
from rag.draft import says_not_found, split_answer
from rag.embed import Embedder
from rag.errors import ConfigError, IndexStoreError, LoadError, NewsragError
from rag.ground import SupportChecker, sentence_units
from rag.index import Catalog, Index
from rag.judge import gives_token_probabilities
from rag.llm import LLM, ChatMessage, load_llm
from rag.load import expand_paths, load_file
from rag.query import understand
from rag.refuse import (
    Drafted,
    Retrieved,
    refuse_after_draft,
    refuse_before_draft,
    uncovered_parts,
)
from rag.retrieve import Retriever
from rag.settings import Settings
from rag.turns import Turns
from rag.types import Answer, Document, Filters, Hit, Query, Sentence, Summary, Unit


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # old ids replaced by a changed file
    unchanged: list[str] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "errors": [{"path": e.path, "problem": e.problem} for e in self.errors],
            "chunks": self.chunks,
            "seconds": round(self.seconds, 2),
        }


ProgressFn = Callable[[int, int, str], None]


class Pipeline:
    """Ingest, ask, stream, summarise, list and delete over one index directory."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        llm: LLM | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        base = settings or Settings()
        self._llm = llm
        self._embedder = embedder
        if base.shared_store:  # the build settings are kept in Milvus beside the data
            self.settings = base
            self.settings = base.adopt(self.index.stored_settings(), base.store_name)
        else:
            self.settings = base.adopt_index(Path(base.index_dir))
        if embedder is not None and embedder.identity != self.settings.embedder:
            raise ConfigError(
                f"{self.settings.store_name}: the embedder given is {embedder.identity}, but the "
                f"index is searched with {self.settings.embedder}"
            )
        # held by every write, and by reads that walk several index tables (a question's
        # retrieval, a summary's chunks): one user's upload never changes them mid-read
        self.lock = threading.RLock()
        self._turns = Turns()  # questions' turns on the model (rag.turns)
        self.status = "cold"  # → "loading" → "ready" (or "failed: why") as `warm` runs
        self._digest: tuple[str, Summary] | None = None  # (corpus hash, digest of it)
        self._digest_lock = threading.Lock()  # written once, by the app's start or a click

    # ---- parts ---------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            s = self.settings
            self._embedder = Embedder.from_settings(s)
        return self._embedder

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            self._llm = load_llm(self.settings)
        return self._llm

    @cached_property
    def index(self) -> Catalog:
        """The local index in `index_dir`, or the shared one in Milvus (`vector_store`)."""
        s = self.settings
        if s.shared_store:
            try:
                from rag.store.milvus import MilvusIndex
            except ImportError as e:  # pymilvus is the optional `milvus` extra
                raise ConfigError(
                    f"store {s.vector_store!r} needs pymilvus and milvus-lite "
                    f"(pip install 'newsrag[milvus]'): {e}"
                ) from e
            return MilvusIndex.open(s.vector_store, s.collection, self.embedder.dim, s.milvus_index)
        return Index.open(Path(s.index_dir), self.embedder.dim, s.vector_store)

    @cached_property
    def answerable_model(self) -> CrossEncoderModel:
        return CrossEncoderModel("answerable")

    @cached_property
    def retriever(self) -> Retriever:
        reranker = None
        if self.settings.rerank_top > 1 and gives_token_probabilities(self.llm):
            from rag.rerank import LLMReranker

            reranker = LLMReranker(self.llm, self.settings.rerank_top)
        return Retriever(self.index, self.embedder, self.settings, reranker)

    @cached_property
    def checker(self) -> SupportChecker:
        return SupportChecker.from_settings(self.embedder, self.settings)

    def warm(self) -> None:
        """Load every model a question needs and run each once, so the first question does
        not pay for it (the app calls this in the background at start; `status` tells)."""
        self.status = "loading"
        try:
            self.embedder.embed(["warm up"])
            self.llm.complete([ChatMessage(role="user", content="Say OK.")], max_tokens=1)
            self.checker.model.score([("Warm up.", "Warm up.")])
            if self.settings.answerable_judge in ("model", "both"):
                self.answerable_model.score([("Warm up.", "Warm up?")])
            _ = self.retriever
        except Exception as e:  # shown in the page; the first question reports it again
            self.status = f"failed: {e}"
            raise
        self.status = "ready"

    # ---- library -------------------------------------------------------------------------
    def documents(self) -> list[dict[str, Any]]:
        """Metadata of every indexed document, with its chunk count (read under the write
        lock: an upload by another user would otherwise change the tables mid-read)."""
        with self.lock:
            self.index.refresh()
            counts = self.index.chunk_counts()
            docs = list(self.index.documents.values())
        out = []
        for d in sorted(docs, key=lambda d: (d.published_at or "", d.title)):
            m = d.meta()
            m["chunks"] = counts.get(d.id, 0)
            out.append(m)
        return out

    def document(self, doc_id: str) -> Document:
        with self.lock:
            if doc_id not in self.index.documents:
                self.index.refresh()
            doc = self.index.documents.get(doc_id)
        if doc is None:
            raise NewsragError(f"no document with id {doc_id!r} in {self.settings.store_name}")
        return doc

    def ingest(
        self, paths: Iterable[str | Path], progress: ProgressFn | None = None
    ) -> IngestReport:
        """Load, chunk, embed and index files; bad files are reported, good ones indexed.

        Re-ingesting unchanged content is a no-op; a file whose content changed replaces its old
        document. The index on disk changes in one atomic commit at the end.
        """
        t0 = time.perf_counter()
        s = self.settings
        report = IngestReport()
        docs: list[Document] = []
        for path in expand_paths(paths):
            try:
                docs.extend(load_file(path, s.max_file_mb, s.max_unpacked_mb))
            except LoadError as e:
                report.errors.append(e)
        self.ingest_documents(docs, progress, report)
        report.seconds = time.perf_counter() - t0
        return report

    def ingest_documents(
        self,
        docs: Iterable[Document],
        progress: ProgressFn | None = None,
        report: IngestReport | None = None,
    ) -> IngestReport:
        """Index already-loaded documents (same rules as `ingest`)."""
        t0 = time.perf_counter()
        report = report if report is not None else IngestReport()
        s = self.settings
        index = self.index
        # Chunk and embed outside the lock (minutes for a big upload) so questions keep being
        # answered; the index itself changes only under the lock, in one commit.
        with self.lock:
            index.refresh()
            known = set(index.documents)
        fresh: list[Document] = []
        seen: set[str] = set()
        for doc in docs:
            if doc.id in known or doc.id in seen:
                report.unchanged.append(doc.id)
                continue
            seen.add(doc.id)
            fresh.append(doc)
        pending = [
            (
                doc,
                chunk_document(
                    doc, self.embedder.count_tokens, s.chunk_tokens, s.chunk_overlap_sentences
                ),
            )
            for doc in fresh
        ]
        texts = [self.embed_text(doc, c.text) for doc, chunks in pending for c in chunks]
        total = len(texts)
        vecs = np.zeros((total, index.dim), dtype=np.float32)
        if progress:
            progress(0, total, "embedding")
        # batches across documents keep the embedder's batches full
        step = max(s.embed_batch * 8, 64)
        for i in range(0, total, step):
            vecs[i : i + step] = self.embedder.embed(texts[i : i + step])
            if progress:
                progress(min(total, i + step), total, "embedding")
        with self.lock:
            index.refresh()  # what another server committed meanwhile
            by_path = index.doc_by_path()
            pos = 0
            changed = False
            for doc, chunks in pending:
                block = vecs[pos : pos + len(chunks)]
                pos += len(chunks)
                if doc.id in index.documents:  # added meanwhile by another ingest
                    report.unchanged.append(doc.id)
                    continue
                old = by_path.get(doc.path)
                if old and old != doc.id and old in index.documents:
                    index.delete([old])
                    report.replaced.append(old)
                index.add(doc, chunks, block)
                report.added.append(doc.id)
                changed = True
            report.chunks = total
            if changed:
                self._commit()
        report.seconds = time.perf_counter() - t0
        return report

    def embed_text(self, doc: Document, text: str) -> str:
        """What is embedded for a chunk: its text, after its article's stated title."""
        titled = self.settings.embed_title and doc.stated_title
        return f"{doc.title}\n{text}" if titled else text

    def delete(self, doc_ids: Iterable[str]) -> list[str]:
        """Remove documents from every store; returns the ids that were indexed."""
        with self.lock:
            self.index.refresh()
            gone = self.index.delete(list(doc_ids))
            if gone:
                self._commit()
        return gone

    def _commit(self) -> None:
        """Write the index (under the write lock). When the disk refuses, the last committed
        state is reloaded, so memory never answers from what the disk does not hold."""
        try:
            self.index.commit()
            if self.settings.shared_store:
                self.index.record_settings(self.settings.index_fields())  # type: ignore[attr-defined]
            else:
                self.settings.write(Path(self.settings.index_dir))
        except (IndexStoreError, OSError) as e:
            for name in ("index", "retriever"):
                self.__dict__.pop(name, None)
            if isinstance(e, IndexStoreError):
                raise
            raise IndexStoreError(f"{self.settings.store_name}: settings not written ({e})") from e

    # ---- asking --------------------------------------------------------------------------
    def questions_ahead(self) -> int:
        """Questions holding or waiting for a turn on the model (rag.turns) when a question
        asked now would wait behind them; 0 when it would go straight in."""
        width = getattr(self._llm, "questions_at_once", None)
        waiting = self._turns.waiting
        return waiting if width and waiting >= width else 0

    def query(
        self,
        question: str,
        filters: Filters | dict | None = None,
        as_of: str | None = None,
        follows: Query | None = None,
    ) -> Query:
        """The question with its filters: given by hand, read from its words, or (for a
        follow-up, `follows` being the earlier question's Query) kept from the earlier words."""
        with self.lock:
            self.index.refresh()  # a shared index: what other servers wrote since the last one
            docs = list(self.index.documents.values())
        return understand(
            question, filters, {d.source for d in docs}, {d.title for d in docs}, as_of, follows
        )

    def retrieve(
        self, question: str, filters: Filters | dict | None = None, as_of: str | None = None
    ) -> list[Hit]:
        return self._snapshot(self.query(question, filters, as_of))[0]

    def ask(
        self,
        question: str,
        filters: Filters | dict | None = None,
        as_of: str | None = None,
        follows: Query | None = None,
    ) -> Answer:
        """Answer with every sentence grounded in a quoted span, or refuse with a reason."""
        answer = None
        for event in self.stream(question, filters, as_of, follows):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        filters: Filters | dict | None = None,
        as_of: str | None = None,
        follows: Query | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer's text as the LLM writes it, then the grounded Answer.

        `as_of` (YYYY-MM-DD): the day the question is asked; later articles are not seen and
        recency counts in the ranking. `follows`: the Query of the question this one follows up.
        """
        if not question or not question.strip():
            raise NewsragError("empty question")
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        query = self.query(question, filters, as_of, follows)
        hits, docs, empty = self._snapshot(query)
        timings["retrieve_ms"] = self.retriever.last_ms
        titles = {h.chunk.doc_id: docs[h.chunk.doc_id].title for h in hits}

        def finish(sentences: list[Sentence], reason: str, draft: str) -> Answer:
            timings["total_ms"] = (time.perf_counter() - t0) * 1000
            timings.setdefault("first_token_ms", timings["total_ms"])
            gaps: list[str] = []
            if reason:
                text = f"The indexed articles do not answer this. {reason}".strip()
            else:
                text = " ".join(s.text for s in sentences)
                gaps = uncovered_parts(
                    query.terms, " ".join(s.text for s in sentences if s.supported)
                )
                if gaps:
                    text += " The sources do not say: " + "; ".join(gaps) + "."
            return Answer(
                question=question,
                text=text,
                sentences=tuple(sentences),
                refused=bool(reason),
                refusal_reason=reason,
                retrieved=tuple(hits),
                titles=titles,
                timings=timings,
                draft=draft,
                query=query,
                not_covered=tuple(gaps),
            )

        w0 = time.perf_counter()
        # a model that serves a few requests at a time: whole questions queue (rag.turns)
        width = getattr(self.llm, "questions_at_once", None)
        with self._turns.take(width) if width else nullcontext():
            timings["wait_ms"] = (time.perf_counter() - w0) * 1000
            reason = refuse_before_draft(
                Retrieved(query, hits, docs, empty, self.settings)
            ) or self._gate(query, hits, titles, timings)
            if reason:
                yield finish([], reason, "")
                return

            units, unit_vecs, hint_map, messages = self._evidence(query, hits, docs)
            timings["prompt_chars"] = float(sum(len(str(m.content)) for m in messages))
            parts: list[str] = []
            read = self._tokens_read()
            for delta in self.llm.stream(messages, self.settings.llm_max_tokens):
                if not parts:
                    timings["first_token_ms"] = (time.perf_counter() - t0) * 1000
                parts.append(delta)
                yield delta
            draft = "".join(parts).strip()
            self._count_tokens("draft", read, timings)
            timings["generate_ms"] = (time.perf_counter() - t0) * 1000 - timings["retrieve_ms"]

            g0 = time.perf_counter()
            drafted = split_answer(draft, pointers=True)
            sentences = self._ground(drafted, units, unit_vecs, hits, hint_map, docs, query)
            timings["ground_ms"] = (time.perf_counter() - g0) * 1000
            said_not_found = any(says_not_found(x.text) for x in sentences)
            sentences = [x for x in sentences if not says_not_found(x.text)]
            reason = refuse_after_draft(
                Drafted(query, draft, sentences, said_not_found, hits, docs)
            ) or self._check_answer(
                query, [x for x in sentences if x.supported], hits, titles, timings
            )
            yield finish(sentences, reason, draft)

    def _tokens_read(self) -> tuple[int, int]:
        """Prompt tokens the model has read and found already read (the in-process model's
        rag.llm.states, a server's usage records): a stage's difference is what it read and
        what it reused. (0, 0) for a backend that reads no prompt (extractive)."""
        counts = getattr(self._llm, "prompt_tokens", None)
        return counts() if counts is not None else (0, 0)

    def _count_tokens(self, stage: str, before: tuple[int, int], timings: dict[str, float]) -> None:
        now = self._tokens_read()
        timings[f"{stage}_prefill_tokens"] = float(now[0] - before[0])
        timings[f"{stage}_reused_tokens"] = float(now[1] - before[1])

    def _gate(
        self, query: Query, hits: list[Hit], titles: dict[str, str], timings: dict[str, float]
    ) -> str:
        """'' when the answerability judge (`answerable_judge`: the trained model, the LLM, or
        both) finds the answer in the passages, or cannot judge; else why not."""
        s = self.settings
        if not s.answerable_gate:
            return ""
        g0 = time.perf_counter()
        read = self._tokens_read()
        reason = ""
        if s.answerable_judge in ("model", "both"):
            p = passage_holds_answer(
                self.answerable_model, query.text, hits, titles, s.answerable_chunks
            )
            timings["answerable_p"] = p
            bar = (
                self.answerable_model.threshold
                if s.answerable_model_min is None
                else s.answerable_model_min
            )
            if p < bar:
                reason = (
                    "The retrieved passages do not contain the answer, as the answerability "
                    f"model judges them (probability {p:.2f}, below {bar:.2f})."
                )
        if s.answerable_judge in ("llm", "both"):
            odds = self._answerable(query, hits, titles, s.answerable_min)
            if odds is not None:
                timings["answerable_logodds"] = odds
                if odds < s.answerable_min and not reason:
                    reason = (
                        "The retrieved passages do not contain the answer, as the LLM judges "
                        f"them (yes/no log-odds {odds:.1f}, below {s.answerable_min})."
                    )
        timings["gate_ms"] = (time.perf_counter() - g0) * 1000
        self._count_tokens("gate", read, timings)
        return reason

    def _check_answer(
        self,
        query: Query,
        supported: list[Sentence],
        hits: list[Hit],
        titles: dict[str, str],
        timings: dict[str, float],
    ) -> str:
        """'' when the model, shown the passages again, confirms the drafted answer; else why."""
        s = self.settings
        if not s.answer_check:
            return ""
        t0 = time.perf_counter()
        read = self._tokens_read()
        answer = " ".join(x.text for x in supported)
        parts = checked_logodds(self.llm, query.text, answer, hits, titles, s.answerable_chunks)
        timings["check_ms"] = (time.perf_counter() - t0) * 1000
        self._count_tokens("check", read, timings)
        if parts is None:
            return ""
        odds = sum(parts)
        timings["answer_check_logodds"] = odds
        timings["answer_check_gate"], timings["answer_check_correct"] = parts
        if odds >= s.answer_check_min:
            return ""
        return (
            "The model, shown the passages again, does not confirm the drafted answer (yes/no "
            f"log-odds {odds:.1f} for 'the passages hold the answer' plus 'this answer is "
            f"correct', below {s.answer_check_min})."
        )

    def _evidence(
        self, query: Query, hits: list[Hit], docs: dict[str, Document]
    ) -> tuple[list[Unit], np.ndarray, dict[int, set[int]], list[Any]]:
        """The evidence sentences, their vectors, [n] → unit hints and the answer prompt."""
        units = sentence_units(hits, docs)
        unit_vecs = self.embedder.embed([u.text for u in units])
        qvec = self.embedder.embed([query.text])[0]
        chunk_rank = {h.chunk.id: r for r, h in enumerate(hits)}
        selected = select_evidence(
            query.text,
            units,
            unit_vecs,
            qvec,
            [chunk_rank[u.chunk_id] for u in units],
            self.settings.evidence_sentences,
            self.settings.evidence_chars,
        )
        evidence = number_evidence(selected)
        hint_map = {ev.number: {idx} for ev, (_, idx) in zip(evidence, selected, strict=True)}
        return units, unit_vecs, hint_map, build_messages(query.text, evidence, docs)

    def answerability(
        self, question: str, filters: Filters | dict | None = None, as_of: str | None = None
    ) -> float | None:
        """The gate's log-odds that the passages found for `question` hold its answer.

        Reads every passage the gate may read (no early stop) and drafts nothing; None when
        retrieval alone refuses or the backend gives no token probabilities. For studying the
        threshold (`answerable_min`).
        """
        query = self.query(question, filters, as_of)
        hits, docs, empty = self._snapshot(query)
        if refuse_before_draft(Retrieved(query, hits, docs, empty, self.settings)):
            return None
        titles = {d: docs[d].title for d in docs}
        return self._answerable(query, hits, titles, enough=float("inf"))

    def _snapshot(self, query: Query) -> tuple[list[Hit], dict[str, Document], bool]:
        """Hits, their documents and whether the index is empty, taken under the write lock:
        an upload or delete by another user cannot change what an answer is grounded in
        halfway through."""
        with self.lock:
            hits = self.retriever.retrieve(query)
            docs = {h.chunk.doc_id: self.index.documents[h.chunk.doc_id] for h in hits}
            return hits, docs, not self.index.documents

    def _answerable(
        self, query: Query, hits: list[Hit], titles: dict[str, str], enough: float
    ) -> float | None:
        s = self.settings
        return answerable_logodds(self.llm, query.text, hits, titles, s.answerable_chunks, enough)

    def _ground(
        self,
        drafted: list[tuple[str, set[int]]],
        units: list[Unit],
        unit_vecs: np.ndarray,
        hits: list[Hit],
        hint_map: dict[int, set[int]],
        docs: dict[str, Document],
        query: Query,
    ) -> list[Sentence]:
        # each quoted chunk's context: its title, itself, then the other retrieved chunks of its
        # article (same title: a name the span gives in part, "Kublai", may be written in full,
        # "Kublai Khan", a paragraph away; SQuAD's paragraphs are documents of one article)
        same: dict[str, list[str]] = {}
        for h in hits:
            same.setdefault(docs[h.chunk.doc_id].stated_title, []).append(h.chunk.text)
        context = {}
        for h in hits:
            title = docs[h.chunk.doc_id].stated_title
            rest = [t for t in same[title] if t != h.chunk.text] if title else []
            context[h.chunk.id] = "\n".join([title, h.chunk.text, *rest])
        # a draft sentence that only points at evidence ("Passage [4]") says what [4] says
        drafted = [
            (
                text or " ".join(units[i].text for m in sorted(nums) for i in hint_map.get(m, ())),
                nums,
            )
            for text, nums in drafted
        ]
        drafted = [(text, nums) for text, nums in drafted if text]
        return self.checker.ground(
            drafted, units, docs, context, hint_map, unit_vecs, query.terms.names
        )

    # ---- summaries -----------------------------------------------------------------------
    def summarize(
        self,
        doc_ids: Iterable[str] | None = None,
        query: str | None = None,
        filters: Filters | dict | None = None,
    ) -> Summary:
        """A cited summary of documents (by id), of what a query retrieves, or with neither a
        digest of the newest articles by topic (kept until the collection changes)."""
        from rag.summarize import digest, summarize

        with self.lock:
            self.index.refresh()
        if doc_ids or query:
            return summarize(self, list(doc_ids) if doc_ids else None, query, filters)
        with self._digest_lock:
            cached = self.cached_digest()
            if cached is None:
                key = self.index.corpus_hash()
                cached = digest(self)
                self._digest = (key, cached)
            return cached

    def cached_digest(self) -> Summary | None:
        """The digest of the collection as it is now, if one was written; else None."""
        held = self._digest
        return held[1] if held is not None and held[0] == self.index.corpus_hash() else None
