"""Opt-in LLM judge: a second opinion from a stronger model on an OpenAI-compatible server.

Off by default (everything else runs offline); `eval run --judge` turns it on with the server
of the `NEWSRAG_OPENAI_*` settings. It never replaces the system's metrics: it adds one,
`judge_faithfulness`, the share of answer sentences the judge says their quotes support (or,
for a sentence without quotes, the retrieved passages), so a reader can see where the support
checker and a strong model disagree. The local 1.5B model is not offered as a judge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rag.llm import ChatMessage
from rag.types import Answer, Document

SYSTEM = "You check whether a sentence is fully supported by source text. Reply yes or no."
PROMPT = (
    "Source text:\n{source}\n\nSentence:\n{sentence}\n\n"
    "Is every claim of the sentence (names, numbers, dates, what happened) stated by the source "
    "text? Reply with one word: yes or no."
)
MAX_SOURCE_CHARS = 4000


class Judge:
    """Asks an LLM, sentence by sentence, whether the cited text supports the sentence."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.name = getattr(llm, "name", "judge")

    def supported(self, sentence: str, source: str) -> bool | None:
        """True/False from the judge's reply; None when it answers neither."""
        messages = [
            ChatMessage(role="system", content=SYSTEM),
            ChatMessage(
                role="user",
                content=PROMPT.format(source=source[:MAX_SOURCE_CHARS], sentence=sentence),
            ),
        ]
        reply = self.llm.complete(messages, 4).strip().lower()
        if reply.startswith("yes"):
            return True
        if reply.startswith("no"):
            return False
        return None

    def faithfulness(
        self, answer: Answer, documents: Mapping[str, Document], chunks: Mapping[str, str]
    ) -> float | None:
        """Share of sentences the judge finds supported (unreadable verdicts left out)."""
        if answer.refused or not answer.sentences:
            return None
        retrieved = "\n\n".join(chunks.get(h.chunk.id, h.chunk.text) for h in answer.retrieved)
        verdicts: Sequence[bool | None] = [
            self.supported(
                s.text, "\n".join(c.quote for c in s.citations) if s.citations else retrieved
            )
            for s in answer.sentences
        ]
        known = [v for v in verdicts if v is not None]
        return sum(known) / len(known) if known else None


def openai_judge(settings: Any) -> Judge:
    """The judge on the OpenAI-compatible server named by the settings (opt-in)."""
    from rag.llm.openai import OpenAICompatibleLLM

    return Judge(OpenAICompatibleLLM(settings.with_overrides(llm_temperature=0.0)))
