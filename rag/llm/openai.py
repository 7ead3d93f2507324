"""Opt-in backend: any OpenAI-compatible server, through llama-index's OpenAILike.

Base URL, model and the name of the environment variable holding the key come from settings
(`NEWSRAG_OPENAI_BASE_URL`, `NEWSRAG_OPENAI_MODEL`, `NEWSRAG_OPENAI_API_KEY_ENV`). With
`NEWSRAG_OPENAI_LOGPROBS` (and always behind `llm_backend = "server"`, rag.llm.server) the
yes/no judge (rag.judge) asks the server for the first answer token's top log-probabilities.
Every request asks for the usage record (`stream_options.include_usage` when streaming), whose
`prompt_tokens_details.cached_tokens` (OpenAI, vLLM, llama-server) says how much of the prompt
the server found already read: `prompt_tokens()` sums what this thread's requests prefilled and
reused, as the in-process model's states do, so the pipeline's per-stage counts hold for both.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from rag.errors import ModelError
from rag.llm import ChatMessage, register
from rag.settings import Settings

TOP_LOGPROBS = 20  # the most the OpenAI API gives; llama-server and vLLM give as many


class OpenAICompatibleLLM:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = f"openai:{settings.openai_model}@{settings.openai_base_url}"
        self.token_logprobs = settings.openai_logprobs  # rag.judge.gives_token_probabilities
        # per thread: the CLI, the library and the benches run a question's stages on one thread
        self._counts = threading.local()

    def prompt_tokens(self) -> tuple[int, int]:
        """(prefilled, reused) prompt tokens of this thread's requests so far, from the usage
        records the server returned (reused = its `cached_tokens`; 0 where it gives none)."""
        return getattr(self._counts, "prefilled", 0), getattr(self._counts, "reused", 0)

    def _count(self, usage: Any) -> None:
        if usage is None:
            return
        if not isinstance(usage, dict):  # the client's CompletionUsage
            usage = usage.model_dump()
        prompt = int(usage.get("prompt_tokens") or 0)
        cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        prefilled, reused = self.prompt_tokens()
        self._counts.prefilled = prefilled + prompt - cached
        self._counts.reused = reused + cached

    @cached_property
    def llama_index_llm(self) -> Any:
        from llama_index.llms.openai_like import OpenAILike

        s = self.settings
        return OpenAILike(
            model=s.openai_model,
            api_base=s.openai_base_url,
            api_key=os.environ.get(s.openai_api_key_env, "not-needed"),
            is_chat_model=True,
            context_window=s.llm_context,
            max_tokens=s.llm_max_tokens,
            temperature=s.llm_temperature,
            timeout=120,
        )

    def stream(self, messages: list[ChatMessage], max_tokens: int) -> Iterator[str]:
        stream = self.llama_index_llm.stream_chat(
            messages, max_tokens=max_tokens, stream_options={"include_usage": True}
        )
        for r in stream:
            usage = getattr(r.raw, "usage", None)  # the last chunk's (its choices are empty)
            if usage is not None:
                self._count(usage)
            if r.delta:
                yield r.delta

    def complete(self, messages: list[ChatMessage], max_tokens: int) -> str:
        return "".join(self.stream(messages, max_tokens))

    @cached_property
    def client(self) -> Any:
        """The plain OpenAI client on the same server, for what llama-index does not expose."""
        from openai import OpenAI

        s = self.settings
        return OpenAI(
            base_url=s.openai_base_url,
            api_key=os.environ.get(s.openai_api_key_env, "not-needed"),
            timeout=120,
        )

    def first_token_logprobs(self, messages: list[ChatMessage]) -> dict[str, float]:
        """The top log-probabilities of the first token of the reply to `messages`, by token
        text: one greedy token, asked with `logprobs` and `top_logprobs` (rag.judge reads its
        yes/no scores from them)."""
        response = self.client.chat.completions.create(
            model=self.settings.openai_model,
            messages=[{"role": m.role.value, "content": m.content or ""} for m in messages],
            max_tokens=1,
            temperature=0.0,
            logprobs=True,
            top_logprobs=TOP_LOGPROBS,
        )
        record = response.model_dump()
        self._count(record.get("usage"))
        return first_token_top_logprobs(record, self.name)


def first_token_top_logprobs(
    response: dict[str, Any], where: str = "the server"
) -> dict[str, float]:
    """{token text: log-probability} of the first generated token's `top_logprobs` in a chat
    completion's JSON (`choices[0].logprobs.content[0].top_logprobs`); a text seen twice (two
    tokens that print alike) gets their summed probability. ModelError when there are none:
    the server does not return log-probabilities (turn `openai_logprobs` off for it)."""
    import math

    try:
        first = response["choices"][0]["logprobs"]["content"][0]
        top = first["top_logprobs"] or []
    except (KeyError, IndexError, TypeError) as e:
        raise ModelError(
            f"{where} returned no token log-probabilities for a chat completion "
            "(set NEWSRAG_OPENAI_LOGPROBS=false for a server that cannot give them)"
        ) from e
    out: dict[str, float] = {}
    for t in top:
        token, logprob = t["token"], float(t["logprob"])
        if token in out:
            hi, lo = max(out[token], logprob), min(out[token], logprob)
            logprob = hi + math.log1p(math.exp(lo - hi))
        out[token] = logprob
    if not out:
        raise ModelError(f"{where} returned an empty top_logprobs list")
    return out


register("openai")(OpenAICompatibleLLM)
