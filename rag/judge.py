"""The local LLM as a yes/no judge of a claim against its quoted span, read from log-probabilities.

One forward pass over a short ChatML prompt (span, claim, "Does the source state the claim?");
the score is log P(Yes) − log P(No) of the first answer token, read from the logits llama.cpp
leaves after evaluating the prompt: no text is generated or parsed. Greater = more supported.

Measured here (`newsrag bench checker --llm-judge N`): with the packaged 1.5B model the judge
ranks FaithBench summaries no better than chance (AUC ≈ 0.49 on 40 samples, whole-summary and
per-sentence prompts alike) at ~2.3 s per sentence on 2 cores, so the checker does not call it;
it stays available for a larger local or hosted model behind the same seam.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PROMPT = (
    "<|im_start|>system\nYou are a careful fact checker.<|im_end|>\n<|im_start|>user\n"
    "Source: {source}\n\nClaim: {claim}\n\nDoes the source state the claim? Answer Yes or No."
    "<|im_end|>\n<|im_start|>assistant\n"
)


def yes_no(llm: Any, prompt: str) -> float:
    """log P(Yes) − log P(No) of the first token the local model would write after `prompt`."""
    model = llm.raw
    yes, no = _answer_tokens(model)
    toks = model.tokenize(prompt.encode(), add_bos=False, special=True)
    with llm._lock:  # one llama.cpp context serves one request at a time
        model.reset()
        model.eval(toks)
        logits = np.ctypeslib.as_array(model._ctx.get_logits(), shape=(model.n_vocab(),))
        logits = logits.astype(np.float64)
    logp = logits - np.logaddexp.reduce(logits)
    return float(np.logaddexp.reduce(logp[yes]) - np.logaddexp.reduce(logp[no]))


def _answer_tokens(model: Any) -> tuple[list[int], list[int]]:
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
        prompt = PROMPT.format(source=source[: self.max_source_chars], claim=claim)
        return yes_no(self.llm, prompt)
