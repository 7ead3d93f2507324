"""Optional second stage: the local LLM re-orders the top candidates by Yes/No log-probability.

No reranker weights exist offline here (no cross-encoder on the package index), so the packaged
LLM judges "does this passage answer the question?" in one forward pass per passage (rag.judge).
Passages are cut to `rerank_chars` to bound the prompt; the LLM's order is fused with the first
stage's by reciprocal rank, so one odd judgement cannot bury a strong first-stage hit.
Off by default (`rerank_top` = 0): it costs about a second per passage on 2 cores; the figures
are in `newsrag bench retrieval` with `NEWSRAG_RERANK_TOP`.
"""

from __future__ import annotations

from typing import Any

from rag.judge import yes_no
from rag.types import Hit

PROMPT = (
    "<|im_start|>system\nYou judge whether a news passage answers a question.<|im_end|>\n"
    "<|im_start|>user\nPassage: {title}\n{text}\n\nQuestion: {question}\n\n"
    "Does the passage answer the question? Answer Yes or No.<|im_end|>\n<|im_start|>assistant\n"
)


class LLMReranker:
    def __init__(self, llm: Any, top: int, chars: int = 700, rrf_k: int = 5) -> None:
        self.llm = llm
        self.top = top
        self.chars = chars
        self.rrf_k = rrf_k

    def rerank(self, question: str, hits: list[Hit], titles: dict[str, str]) -> list[Hit]:
        """The first `top` hits re-ordered; the rest keep their places after them."""
        head, tail = hits[: self.top], hits[self.top :]
        if len(head) < 2:
            return hits
        scores = [
            yes_no(
                self.llm,
                PROMPT.format(
                    title=titles.get(h.chunk.doc_id, ""),
                    text=h.chunk.text[: self.chars],
                    question=question,
                ),
            )
            for h in head
        ]
        by_llm = sorted(range(len(head)), key=lambda i: -scores[i])
        llm_rank = {i: r for r, i in enumerate(by_llm)}
        fused = sorted(
            range(len(head)),
            key=lambda i: -(1 / (self.rrf_k + i + 1) + 1 / (self.rrf_k + llm_rank[i] + 1)),
        )
        return [head[i] for i in fused] + tail
