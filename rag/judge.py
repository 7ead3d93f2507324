"""The local LLM as a yes/no judge of a claim against its quoted span, read from log-probabilities.

One forward pass over a short ChatML prompt (span, claim, "Does the source state the claim?");
the score is log P(Yes) − log P(No) of the first answer token, read from the logits llama.cpp
leaves after evaluating the prompt: no text is generated or parsed. Greater = more supported.

Measured here (`newsrag bench checker --llm-judge 30`): on 30 random FaithBench samples the
judge's worst sentence ranks summaries with AUC 0.67 where the checker's support has 0.52, and
checker-or-judge reaches 54.6 balanced accuracy against 51.9 for the checker alone on those 30 -
too few samples to trust, and an earlier exploratory 40-sample run with a whole-summary prompt
gave AUC 0.49. It costs ~1.5 s per sentence on 2 cores, so answers are not judged by it by
default; it stays available, and a larger model behind the same call may do better.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from rag.llm.replay import Replay

PROMPT = (
    "<|im_start|>system\nYou are a careful fact checker.<|im_end|>\n<|im_start|>user\n"
    "Source: {source}\n\nClaim: {claim}\n\nDoes the source state the claim? Answer Yes or No."
    "<|im_end|>\n<|im_start|>assistant\n"
)


def gives_token_probabilities(llm: Any) -> bool:
    """Whether the backend exposes logits (the local llama.cpp one), checked on the class so
    that asking does not load the model."""
    return hasattr(type(llm), "raw")


def yes_no(llm: Any, prompt: str) -> float:
    """log P(Yes) − log P(No) of the first token the local model would write after `prompt`."""
    return yes_no_many(llm, prompt, [""])[0]


def yes_no_many(llm: Any, prefix: str, suffixes: list[str]) -> list[float]:
    """`yes_no(prefix + s)` for each s, evaluating the shared prefix once.

    Why: judging several claims against one source costs one pass over the source and a few
    dozen tokens per claim, instead of the whole prompt per claim (the KV cache is cut back to
    the prefix before each suffix). The tokens are those of the whole prompt; the scores differ
    from one-batch evaluation by ~0.1 (llama.cpp's arithmetic depends on the batch split)."""
    replay = getattr(llm, "replay", None)  # rag.llm.replay, opt-in for benchmarks
    keys: list[str] = []
    if replay is not None:
        keys = [Replay.key("yes_no", llm.name, prefix, s) for s in suffixes]
        recorded = [replay.get(k) for k in keys]
        if None not in recorded:
            return [float(v) for v in recorded]
    model = llm.raw
    yes, no = _answer_tokens(model)
    head = model.tokenize(prefix.encode(), add_bos=False, special=True)
    out = []
    with llm._lock:  # one llama.cpp context serves one request at a time
        model.reset()
        model.eval(head)
        for suffix in suffixes:
            if suffix:
                model.n_tokens = len(head)  # eval() drops the cache past n_tokens
                model.eval(model.tokenize(suffix.encode(), add_bos=False, special=True))
            logits = np.ctypeslib.as_array(model._ctx.get_logits(), shape=(model.n_vocab(),))
            logits = logits.astype(np.float64)
            logp = logits - np.logaddexp.reduce(logits)
            out.append(float(np.logaddexp.reduce(logp[yes]) - np.logaddexp.reduce(logp[no])))
    if replay is not None:
        for k, v in zip(keys, out, strict=True):
            replay.put(k, v)
    return out


@lru_cache(maxsize=4)
def _answer_tokens(model: Any) -> tuple[list[int], list[int]]:
    """Token ids of Yes/No, once per model (the reranker asks several times a question)."""

    def first(words: tuple[str, ...]) -> list[int]:
        ids = {model.tokenize(w.encode(), add_bos=False, special=False)[0] for w in words}
        return sorted(ids)

    return first(("Yes", " Yes", "yes")), first(("No", " No", "no"))


class LLMJudge:
    """Scores claims with the local llama.cpp model (rag.llm.local.LocalLLM)."""

    def __init__(self, llm: Any, max_source_chars: int = 2000) -> None:
        self.llm = llm
        self.max_source_chars = max_source_chars

    def score(self, source: str, claim: str) -> float:
        """log P(Yes) − log P(No) for "does `source` state `claim`"."""
        return self.score_many(source, [claim])[0]

    def score_many(self, source: str, claims: list[str]) -> list[float]:
        """Each claim against the same source; the source is read once (see yes_no_many)."""
        if not claims:
            return []
        head, tail = PROMPT.split("Claim: ")  # cut after a line break: same tokens as whole
        prefix = head.format(source=source[: self.max_source_chars])
        return yes_no_many(self.llm, prefix, [("Claim: " + tail).format(claim=c) for c in claims])
