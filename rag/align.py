"""Which source sentences a claim is judged against: its candidate span.

Alignment only *finds* the span; the trained support model (rag.ground) decides whether
it supports the claim. The same function builds the training pairs from long documents
(rag.train.pairs) and the pairs the checker scores at run time, so the model is trained on the
kind of span it is shown.

A unit's alignment score is half lexical coverage (the share of the claim's content words it
holds; names and numbers count double) and half MiniLM cosine, rescaled. The span is the best
unit plus, greedily, up to `max_units - 1` of the sentences right before or after it that add
claim words the span lacks (a claim that joins two facts told together). Only neighbours: two
far-apart sentences together let a chimera pass that puts a name from one into the fact of
the other ("allowing the shipment of Patriot missiles to the UK" quoting the Patriot sentence
and, four sentences on, the one about shells for the UK). Units come back in document order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.terms import names, stem, tokens
from rag.types import Unit


@dataclass(frozen=True)
class Alignment:
    units: tuple[int, ...]  # indexes into the unit list, in document order
    score: float  # alignment score of the best unit (0..1)
    coverage: float  # weighted share of the claim's content words the span holds


def claim_weights(claim: str) -> dict[str, float]:
    """Content tokens of a claim with their weights (names and numbers matter more)."""
    name_stems = {stem(n) for n in names(claim)}
    return {t: 2.0 if (t in name_stems or t[0].isdigit()) else 1.0 for t in tokens(claim)}


def unit_scores(
    weights: dict[str, float],
    unit_tokens: Sequence[set[str]],
    unit_vecs: np.ndarray | None,
    claim_vec: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(alignment score, lexical coverage) of every unit for one claim."""
    total = sum(weights.values()) or 1.0
    lex = np.array([sum(w for t, w in weights.items() if t in ut) / total for ut in unit_tokens])
    if unit_vecs is None or claim_vec is None or not len(unit_tokens):
        return lex, lex
    cos = unit_vecs @ claim_vec
    return 0.5 * lex + 0.5 * np.clip((cos - 0.2) / 0.6, 0.0, 1.0), lex


def align(
    claim: str,
    units: Sequence[Unit],
    unit_tokens: Sequence[set[str]],
    unit_vecs: np.ndarray | None,
    claim_vec: np.ndarray | None,
    max_units: int = 3,
    max_chars: int = 700,
    prefer: set[int] | None = None,
) -> Alignment:
    """The candidate span of `claim` among `units` (see the module docstring).

    `prefer`: unit indexes a caller has reason to favour (the LLM's [n] markers); they win ties.
    """
    if not units:
        return Alignment((), 0.0, 0.0)
    weights = claim_weights(claim)
    if not weights:
        return Alignment((), 0.0, 0.0)
    score, _ = unit_scores(weights, unit_tokens, unit_vecs, claim_vec)
    if prefer:
        score = score.copy()
        for i in prefer:
            if 0 <= i < len(score):
                score[i] += 0.02
    best = int(np.argmax(score))
    total = sum(weights.values())
    picked = [best]
    covered = set(unit_tokens[best]) & set(weights)
    chars = len(units[best].text)
    for j in [int(j) for j in np.argsort(-score)]:
        if len(picked) >= max_units:
            break
        if j in picked or not _adjacent(units[j], [units[i] for i in picked]):
            continue
        gain = sum(weights[t] for t in (unit_tokens[j] & set(weights)) - covered)
        if gain <= 0 or chars + len(units[j].text) > max_chars:
            continue
        # a unit that adds only one light word is more likely noise than the claim's other half
        if gain < 2.0 and score[j] < 0.5 * score[best]:
            continue
        picked.append(j)
        covered |= unit_tokens[j] & set(weights)
        chars += len(units[j].text)
    picked.sort(key=lambda i: units[i].start)
    coverage = sum(weights[t] for t in covered) / total
    return Alignment(tuple(picked), float(score[best]), float(coverage))


def _adjacent(u: Unit, span: Sequence[Unit]) -> bool:
    """Is `u` the sentence right before or after the span, in the same document?"""
    return any(
        v.doc_id == u.doc_id and (0 <= u.start - v.end <= 3 or 0 <= v.start - u.end <= 3)
        for v in span
    )


def span_text(units: Sequence[Unit], title: str = "") -> str:
    """The text the support model reads: the article's title (when it has one) and the span."""
    body = " ".join(" ".join(u.text.split()) for u in units)
    return f"{title.strip()}\n{body}" if title.strip() else body
