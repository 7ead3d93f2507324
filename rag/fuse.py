"""Weighted reciprocal-rank fusion of a dense and a lexical ranking.

Reciprocal-rank fusion needs no score calibration between cosine and BM25 and was the strongest
cheap combination on the RealTimeQA pool (DESIGN.md: BM25 0.73, dense 0.70, RRF 0.76 Recall@5).
With equal weights it is exactly Milvus's `RRFRanker(k)`, which the Milvus index uses to fuse
inside the database (rag/store/milvus.py); both break ties by the dense score.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def rrf(
    dense: Sequence[tuple[K, float]],
    lexical: Sequence[tuple[K, float]],
    rrf_k: int = 60,
    dense_weight: float = 1.0,
    lexical_weight: float = 1.0,
) -> list[tuple[K, float, float | None, float | None]]:
    """(key, fused score, dense score, lexical score), best first; ties by dense score."""
    scores: dict[K, float] = {}
    dense_of = dict(dense)
    lex_of = dict(lexical)
    for rank, (key, _) in enumerate(dense):
        scores[key] = scores.get(key, 0.0) + dense_weight / (rrf_k + rank + 1)
    for rank, (key, _) in enumerate(lexical):
        scores[key] = scores.get(key, 0.0) + lexical_weight / (rrf_k + rank + 1)
    order = sorted(scores, key=lambda r: (-scores[r], -dense_of.get(r, -1.0)))
    return [(key, scores[key], dense_of.get(key), lex_of.get(key)) for key in order]
