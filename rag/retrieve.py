"""Fused, filtered ranking: dense ∪ lexical by weighted reciprocal rank (rag/fuse.py), then
recency and per-article diversity.

The index answers the fused first stage (`Index.hybrid`): FAISS and BM25 side by side in the
local index, one hybrid search inside Milvus in the shared one (rag/store/milvus.py). Filters
bind inside either search, so a filter never empties a top-k.
For questions about current events, articles close to the as-of date (or to the newest article)
are lifted; and no article may fill more than `per_doc_max` of the top places, so a long article
on a near-miss topic cannot crowd out the one that answers. A question naming several sources
is searched per source and the results interleaved, so every outlet asked about is heard.
"""

from __future__ import annotations

import time
from datetime import date

import numpy as np

from rag.embed import Embedder
from rag.index import Catalog, matches, named_titles
from rag.settings import Settings
from rag.terms import names
from rag.types import Filters, Hit, Query


class Retriever:
    def __init__(
        self, index: Catalog, embedder: Embedder, settings: Settings, reranker: object = None
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker  # rag.rerank.LLMReranker when settings.rerank_top > 0
        self.last_ms = 0.0

    def retrieve(self, query: Query, k: int | None = None) -> list[Hit]:
        t0 = time.perf_counter()
        k = k or self.settings.top_k
        qvec = self.embedder.embed([query.text])[0]
        if len(query.filters.sources) > 1:
            per = [
                self._rank(query, qvec, _only_source(query.filters, s), k)
                for s in query.filters.sources
            ]
            hits = _interleave(per, k)
        else:
            hits = self._rank(query, qvec, query.filters, k)
        if self.reranker is not None and self.settings.rerank_top > 1:
            titles = {h.chunk.doc_id: self.index.documents[h.chunk.doc_id].title for h in hits}
            hits = self.reranker.rerank(query.core or query.text, hits, titles)  # type: ignore[attr-defined]
        self.last_ms = (time.perf_counter() - t0) * 1000
        return hits

    def _rank(self, query: Query, qvec: np.ndarray, filters: Filters, k: int) -> list[Hit]:
        s = self.settings
        hits = self._fused(query.text, qvec, filters)
        if s.article_weight > 0:
            hits = article_evidence(hits, s.article_weight)
        if s.link_weight > 0 and hits:
            hits = self._title_links(hits, filters)
        if s.hops > 1 and hits:
            hits = self._second_hop(query, hits, filters)
        if query.current and s.recency_weight > 0:
            hits = self._recency(hits, query)
        return diversify(hits, k, s.per_doc_max)

    def _fused(self, text: str, qvec: np.ndarray, filters: Filters) -> list[Hit]:
        s = self.settings
        return self.index.hybrid(
            text, qvec, filters, s.candidates, s.rrf_k, s.dense_weight, s.lexical_weight
        )

    def _second_hop(self, query: Query, hits: list[Hit], filters: Filters) -> list[Hit]:
        """Ask again with the names of the best passage added, and fuse both rankings.

        A multi-hop question ("the spouse of the performer of X") names only the first hop; the
        passage found for it names the bridge (the performer), which the second query carries
        (only its names: the whole passage would pull in more passages like the first).
        The first ranking keeps its lead: the second only fills in below its best chunks.
        """
        s = self.settings
        asked = names(query.text)
        bridge = [n for n in names(hits[0].chunk.text) if n not in asked]
        if not bridge:
            return hits
        text = f"{query.text} {' '.join(sorted(bridge))}"
        second = self._fused(text, self.embedder.embed([text])[0], filters)
        score: dict[str, float] = {}
        by_id: dict[str, Hit] = {}
        for ranking, weight in ((hits, 1.0), (second, s.hop_weight)):
            for rank, h in enumerate(ranking):
                score[h.chunk.id] = score.get(h.chunk.id, 0.0) + weight / (s.rrf_k + rank + 1)
                by_id.setdefault(h.chunk.id, h)
        order = sorted(score, key=lambda c: -score[c])
        return [Hit(by_id[c].chunk, score[c], by_id[c].dense, by_id[c].lexical) for c in order]

    def _title_links(self, hits: list[Hit], filters: Filters) -> list[Hit]:
        """Lift the documents whose titles the best passages name.

        In a corpus of entity pages (Wikipedia, company or people profiles) a passage that
        names another page's title links to it, as a hyperlink would: "the performer of X"
        is found through X's page, which names the performer, whose page holds the answer.
        Costs no search: the passage's capitalised word runs are looked up among the titles.
        News headlines are longer than any such run, so a news corpus is left unchanged.
        A linked page takes `link_weight` x its linker's score, once (its best chunk), never
        rises above its linker, and a title shared by several pages lifts only the one the
        question already ranks best (none when none is among the candidates).
        """
        s = self.settings
        titles = self.index.titled()
        best: dict[str, int] = {}  # doc id -> position of its best chunk
        for i, h in enumerate(hits):
            best.setdefault(h.chunk.doc_id, i)
        lift: dict[str, tuple[float, float]] = {}  # doc id -> (lift, linker's score)
        for h in hits[: s.link_from]:
            for key in named_titles(h.chunk.text, titles):
                docs = [d for d in titles[key] if d != h.chunk.doc_id]
                if len(docs) > 1:
                    ranked = [d for d in docs if d in best]
                    docs = [min(ranked, key=best.__getitem__)] if ranked else []
                for d in docs:
                    if s.link_weight * h.score > lift.get(d, (0.0, 0.0))[0]:
                        lift[d] = (s.link_weight * h.score, h.score)
        if not lift:
            return hits
        out = list(hits)
        missing = []
        for d, (amount, cap) in lift.items():
            if d in best:  # lifted up to just below its linker, never lowered
                h = hits[best[d]]
                score = max(h.score, min(h.score + amount, cap * 0.999))
                out[best[d]] = Hit(h.chunk, score, h.dense, h.lexical)
            elif (first := self.index.first_chunk(d)) is not None:
                missing.append(Hit(first, min(amount, cap * 0.999), None, None))
        if missing and not filters.is_empty():  # filters bind linked pages too
            docs = self.index.documents
            missing = [h for h in missing if matches(docs[h.chunk.doc_id], filters)]
        out += missing
        out.sort(key=lambda h: -h.score)
        return out

    def _recency(self, hits: list[Hit], query: Query) -> list[Hit]:
        s = self.settings
        ref = query.as_of or self.index.newest_date()
        if not ref:
            return hits
        ref_day = date.fromisoformat(ref)
        out = []
        for h in hits:
            published = self.index.documents[h.chunk.doc_id].published_at
            if not published:
                out.append(h)
                continue
            age = max(0, (ref_day - date.fromisoformat(published)).days)
            boost = 1.0 + s.recency_weight * 0.5 ** (age / s.recency_halflife_days)
            out.append(Hit(h.chunk, h.score * boost, h.dense, h.lexical))
        out.sort(key=lambda h: -h.score)
        return out


def _only_source(filters: Filters, source: str) -> Filters:
    return Filters(filters.doc_ids, (source,), filters.date_from, filters.date_to, filters.titles)


def _interleave(ranked: list[list[Hit]], k: int) -> list[Hit]:
    out: list[Hit] = []
    seen: set[str] = set()
    for i in range(max((len(r) for r in ranked), default=0)):
        for r in ranked:
            if i < len(r) and r[i].chunk.id not in seen:
                seen.add(r[i].chunk.id)
                out.append(r[i])
    return out[:k]


def article_evidence(hits: list[Hit], weight: float) -> list[Hit]:
    """Lift each chunk by `weight` × the fused scores of its article's other candidate chunks.

    Questions are answered by articles, and an article that several chunks match is more
    likely the one asked about than one lucky chunk of an unrelated article; diversity later
    keeps only its best chunks, so the lift is what carries the article's other evidence.
    """
    total: dict[str, float] = {}
    for h in hits:
        total[h.chunk.doc_id] = total.get(h.chunk.doc_id, 0.0) + h.score
    out = [
        Hit(h.chunk, h.score + weight * (total[h.chunk.doc_id] - h.score), h.dense, h.lexical)
        for h in hits
    ]
    out.sort(key=lambda h: -h.score)
    return out


def diversify(hits: list[Hit], k: int, per_doc_max: int) -> list[Hit]:
    """The top `k` with at most `per_doc_max` chunks of one article (0 = no cap)."""
    if per_doc_max <= 0:
        return hits[:k]
    out: list[Hit] = []
    spill: list[Hit] = []
    count: dict[str, int] = {}
    for h in hits:
        n = count.get(h.chunk.doc_id, 0)
        if n < per_doc_max:
            count[h.chunk.doc_id] = n + 1
            out.append(h)
        else:
            spill.append(h)
        if len(out) >= k:
            return out
    return (out + spill)[:k]
