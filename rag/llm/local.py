"""Local backend: llama.cpp on the packaged Qwen2.5-Coder GGUF, through llama-index's LlamaCPP.

`model_path` is always passed (LlamaCPP otherwise downloads a default model) and prompts are
ChatML. Calls are serialised with a lock: one llama.cpp context serves one request at a time.
Every prompt starts from the saved context state that shares its longest prefix
(rag.llm.states): the system text, or passages the gate has read, are not read again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from rag.llm import ChatMessage, chatml, register
from rag.llm.replay import Replay
from rag.llm.states import PromptStates
from rag.models import llm_path
from rag.settings import Settings

STOP = ["<|im_end|>", "<|endoftext|>", "<|im_start|>"]


class LocalLLM:
    questions_at_once = 1  # one llama.cpp context: whole questions take turns (rag.turns)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = llm_path(settings.llm_model, settings.cache_dir)
        self.name = f"local:{self.path.name}"
        self._lock = threading.Lock()
        self.replay = Replay(settings.llm_replay) if settings.llm_replay else None
        self.states = PromptStates(settings.llm_prompt_cache_mb * 2**20)

    @cached_property
    def llama_index_llm(self) -> Any:
        from llama_index.llms.llama_cpp import LlamaCPP

        s = self.settings
        return LlamaCPP(
            model_path=str(self.path),
            temperature=s.llm_temperature,
            max_new_tokens=s.llm_max_tokens,
            context_window=s.llm_context,
            generate_kwargs={"stop": STOP, "top_k": 1 if s.llm_temperature == 0 else 40},
            model_kwargs={"n_threads": s.llm_threads, "n_batch": 512, "verbose": False},
            messages_to_prompt=chatml,
            completion_to_prompt=lambda p: chatml([ChatMessage(role="user", content=p)]),
            verbose=False,
        )

    @property
    def raw(self) -> Any:
        """The llama_cpp.Llama object, for token log-probabilities."""
        return self.llama_index_llm._model

    def stream(self, messages: list[ChatMessage], max_tokens: int) -> Iterator[str]:
        prompt = chatml(messages)
        key = None
        if self.replay is not None:
            s = self.settings
            key = Replay.key("reply", self.name, prompt, max_tokens, s.llm_temperature)
            recorded = self.replay.get(key)
            if recorded is not None:
                yield recorded
                return
        llm = self.llama_index_llm
        parts = []
        with self._lock:
            raw = self.raw
            tokens = raw.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
            # generate() reuses the prefix the context holds (and reads >= 1 token)
            reused = min(self.states.reuse(raw, tokens), len(tokens) - 1)
            self.states.count(len(tokens) - reused, reused)
            llm.generate_kwargs["max_tokens"] = max_tokens
            for r in llm.stream_complete(prompt, formatted=True):
                if r.delta:
                    parts.append(r.delta)
                    yield r.delta
            self.states.save(raw)
        if self.replay is not None and key is not None:
            self.replay.put(key, "".join(parts))

    def complete(self, messages: list[ChatMessage], max_tokens: int) -> str:
        return "".join(self.stream(messages, max_tokens))

    def prompt_tokens(self) -> tuple[int, int]:
        """(prefilled, reused) prompt tokens since the model was loaded (rag.llm.states); one
        context serves one question at a time, so a stage's difference is its own."""
        return self.states.prefilled, self.states.reused


register("local")(LocalLLM)
