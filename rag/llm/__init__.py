"""LLM seam: one small protocol, backends registered by name.

`local` (default) runs the packaged GGUF with llama.cpp, no network; `server` runs it in
llama.cpp's own server on loopback (parallel slots) and talks to it as `openai` does;
`openai` talks to any OpenAI-compatible server (Ollama, vLLM, llama.cpp server, LM Studio,
OpenAI) and is opt-in;
`extractive` writes no new words at all: it answers with the best evidence sentences, which
makes it a fast, model-free mode and the fake that tests run through the real code paths.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from llama_index.core.llms import ChatMessage

from rag.errors import ConfigError

if TYPE_CHECKING:
    from rag.settings import Settings

__all__ = ["LLM", "ChatMessage", "load_llm", "register"]


class LLM(Protocol):
    """What the pipeline needs from a language model."""

    name: str

    def stream(self, messages: list[ChatMessage], max_tokens: int) -> Iterator[str]:
        """Yield text deltas of the reply to `messages`."""
        ...

    def complete(self, messages: list[ChatMessage], max_tokens: int) -> str:
        """The whole reply to `messages`."""
        ...


_BACKENDS: dict[str, Callable[[Settings], LLM]] = {}


def register(name: str) -> Callable[[Callable[[Settings], LLM]], Callable[[Settings], LLM]]:
    def deco(factory: Callable[[Settings], LLM]) -> Callable[[Settings], LLM]:
        _BACKENDS[name] = factory
        return factory

    return deco


def load_llm(settings: Settings) -> LLM:
    """The backend named by `settings.llm_backend`."""
    from rag.llm import extractive, local, openai, server  # noqa: F401  (registration)

    name = settings.llm_backend
    if name not in _BACKENDS:
        raise ConfigError(
            f"llm_backend {settings.llm_backend!r}: unknown (use {sorted(_BACKENDS)})"
        )
    return _BACKENDS[name](settings)


def chatml(messages: list[ChatMessage]) -> str:
    """Qwen's ChatML prompt; ends open for the assistant's turn."""
    out = []
    for m in messages:
        out.append(f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>\n")
    out.append("<|im_start|>assistant\n")
    return "".join(out)


_TURN = re.compile(r"<\|im_start\|>(\w+)\n(.*?)<\|im_end\|>\n", re.DOTALL)


def unchatml(prompt: str) -> list[ChatMessage]:
    """The messages `chatml` wrote `prompt` from (it must end open for the assistant), so a
    prompt built for the in-process model can be asked of a chat API."""
    end = "<|im_start|>assistant\n"
    if not prompt.endswith(end):
        raise ValueError("not a ChatML prompt open for the assistant's turn")
    body = prompt[: -len(end)]
    turns = list(_TURN.finditer(body))
    if not turns or "".join(m.group(0) for m in turns) != body:
        raise ValueError("not a ChatML prompt: text outside <|im_start|>…<|im_end|> turns")
    return [ChatMessage(role=m.group(1), content=m.group(2)) for m in turns]
