"""The LLM's yes/no verdict on a prompt, read from log-probabilities, not from text.

One forward pass over a ChatML prompt; the score is log P(Yes) − log P(No) of the first answer
token, read from the logits llama.cpp leaves after evaluating the prompt: no text is generated
or parsed. A backend behind an OpenAI-compatible server that returns log-probabilities
(llama-server, rag.llm.server; or `openai_logprobs`) is asked the same prompt, as the chat
messages it was written from, for one token with its `top_logprobs`, and scored from those
(`logodds_from_top`). The answerability gate's LLM judge and the answer check (rag.answerable)
and the optional reranker (rag.rerank) ask through it. (As a judge of claims against their source it
was measured and dropped: eval/README.md, "measured and dropped".)
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from rag.llm import unchatml
from rag.llm.replay import Replay

YES = ("Yes", " Yes", "yes")
NO = ("No", " No", "no")


def gives_token_probabilities(llm: Any) -> bool:
    """Whether the backend exposes logits (the local llama.cpp one, checked on the class so
    that asking does not load the model) or a server's first-token log-probabilities (its
    `token_logprobs` flag; asking does not start the server)."""
    return _reads_logits(llm) or getattr(llm, "token_logprobs", False) is True


def _reads_logits(llm: Any) -> bool:
    return hasattr(type(llm), "raw")


def yes_no(llm: Any, prompt: str) -> float:
    """log P(Yes) − log P(No) of the first token the model would write after `prompt`."""
    return yes_no_many(llm, prompt, [""])[0]


def yes_no_many(llm: Any, prefix: str, suffixes: list[str]) -> list[float]:
    """`yes_no(prefix + s)` for each s, evaluating the shared prefix once.

    Why: judging several claims against one source costs one pass over the source and a few
    dozen tokens per claim, instead of the whole prompt per claim (the KV cache is cut back to
    the prefix before each suffix). A prefix read before (the gate's passage, read again by the
    answer check) is restored from its saved state (rag.llm.states) instead of read again. The
    tokens are those of the whole prompt; the scores differ from one-batch evaluation by ~0.1
    (llama.cpp's arithmetic depends on the batch split). A server is sent each whole prompt;
    llama-server reuses the prefix its slots have read by itself."""
    replay = getattr(llm, "replay", None)  # rag.llm.replay, opt-in for benchmarks
    keys: list[str] = []
    if replay is not None:
        keys = [Replay.key("yes_no", llm.name, prefix, s) for s in suffixes]
        recorded = [replay.get(k) for k in keys]
        if None not in recorded:
            return [float(v) for v in recorded]
    if _reads_logits(llm):
        out = _scores_from_logits(llm, prefix, suffixes)
    else:  # a server: the same prompts as chat messages, one token each with its top logprobs
        out = [logodds_from_top(llm.first_token_logprobs(unchatml(prefix + s))) for s in suffixes]
    if replay is not None:
        for k, v in zip(keys, out, strict=True):
            replay.put(k, v)
    return out


def _scores_from_logits(llm: Any, prefix: str, suffixes: list[str]) -> list[float]:
    """The in-process model's scores, from the logits after each prompt (see yes_no_many)."""
    model = llm.raw
    yes, no = _answer_tokens(model)
    head = model.tokenize(prefix.encode(), add_bos=False, special=True)
    out = []
    states = getattr(llm, "states", None)  # rag.llm.states: prefixes already read
    with llm._lock:  # one llama.cpp context serves one request at a time
        done = states.reuse(model, head) if states is not None else 0
        if done == len(head) and "" in suffixes:
            done -= 1  # the logits after the head are read: evaluate its last token again
        model.n_tokens = done  # eval() drops the cache past n_tokens
        if done < len(head):
            model.eval(head[done:])
            if states is not None:
                states.save(model)
        read = len(head) - done
        for suffix in suffixes:
            if suffix:
                model.n_tokens = len(head)
                tail = model.tokenize(suffix.encode(), add_bos=False, special=True)
                model.eval(tail)
                read += len(tail)
            logits = np.ctypeslib.as_array(model._ctx.get_logits(), shape=(model.n_vocab(),))
            logits = logits.astype(np.float64)
            logp = logits - np.logaddexp.reduce(logits)
            out.append(float(np.logaddexp.reduce(logp[yes]) - np.logaddexp.reduce(logp[no])))
        if states is not None:
            states.count(read, done)
    return out


def logodds_from_top(top: dict[str, float]) -> float:
    """log P(Yes) − log P(No) from a server's top log-probabilities of the first token, by
    token text (rag.llm.openai.first_token_top_logprobs).

    Each side is the summed probability of the tokens the local judge reads ("Yes", " Yes",
    "yes" against "No", " No", "no") among those listed. A side none of whose tokens is listed
    is given the lowest listed log-probability: an upper bound on each of its tokens (they
    rank below every listed one), so the score is then a bound, not a measurement (with 20
    listed, such a side is far below the other in practice)."""
    floor = min(top.values())

    def side(words: tuple[str, ...]) -> float:
        listed = [top[w] for w in words if w in top]
        return float(np.logaddexp.reduce(listed)) if listed else floor

    return side(YES) - side(NO)


@lru_cache(maxsize=4)
def _answer_tokens(model: Any) -> tuple[list[int], list[int]]:
    """Token ids of Yes/No, once per model (the reranker asks several times a question)."""

    def first(words: tuple[str, ...]) -> list[int]:
        ids = {model.tokenize(w.encode(), add_bos=False, special=False)[0] for w in words}
        return sorted(ids)

    return first(YES), first(NO)
