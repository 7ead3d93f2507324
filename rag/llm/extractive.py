"""Extractive backend: answers by copying the passages that share most words with the question.

It writes nothing the passages do not say, runs in microseconds and needs no model: a fast mode
for large evals, and the fake LLM the unit tests push through the real pipeline. It reads the
prompt layout that `rag.answer` and `rag.summarize` write (`[n] passage` lines, `Question:`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from rag.chunk import split_sentences
from rag.llm import ChatMessage, register
from rag.settings import Settings
from rag.terms import tokens

NOT_FOUND = "NOT IN SOURCES"
_PASSAGE = re.compile(r"^\[(\d+)\]\s*(.+)$", re.MULTILINE)


class ExtractiveLLM:
    name = "extractive"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings

    def complete(self, messages: list[ChatMessage], max_tokens: int) -> str:
        prompt = str(messages[-1].content)
        passages = _PASSAGE.findall(prompt)
        m = re.search(r"^Question:\s*(.+)$", prompt, re.MULTILINE)
        if m and passages:
            q = set(tokens(m.group(1)))
            scored = sorted(
                ((len(q & set(tokens(text))), -int(n), n, text) for n, text in passages),
                reverse=True,
            )
            best = [s for s in scored[:2] if s[0] > 0]
            if not best:
                return NOT_FOUND
            return " ".join(f"{text.strip()} [{n}]" for _, _, n, text in best)
        body = prompt.split("\n", 1)[-1]
        spans = split_sentences(body)
        if passages:  # a summary over numbered passages: lead sentences of the first ones
            return " ".join(f"{t.strip()} [{n}]" for n, t in passages[:3])
        return " ".join(body[s:e] for s, e in spans[:3])

    def stream(self, messages: list[ChatMessage], max_tokens: int) -> Iterator[str]:
        text = self.complete(messages, max_tokens)
        yield from re.findall(r"\S+\s*", text)


register("extractive")(ExtractiveLLM)
