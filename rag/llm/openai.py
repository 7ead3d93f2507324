"""Opt-in backend: any OpenAI-compatible server, through llama-index's OpenAILike.

Base URL, model and the name of the environment variable holding the key come from settings
(`NEWSRAG_OPENAI_BASE_URL`, `NEWSRAG_OPENAI_MODEL`, `NEWSRAG_OPENAI_API_KEY_ENV`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from rag.llm import ChatMessage, register
from rag.settings import Settings


class OpenAICompatibleLLM:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = f"openai:{settings.openai_model}@{settings.openai_base_url}"

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
        for r in self.llama_index_llm.stream_chat(messages, max_tokens=max_tokens):
            if r.delta:
                yield r.delta

    def complete(self, messages: list[ChatMessage], max_tokens: int) -> str:
        return "".join(self.stream(messages, max_tokens))


register("openai")(OpenAICompatibleLLM)
