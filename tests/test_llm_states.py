"""Saved prompt states (rag.llm.states) with the real local model: a prompt read before is
restored, not read again, and scores the same; the answer check reuses what the gate read."""

from __future__ import annotations

import pytest

from rag.answerable import SYSTEM, USER
from rag.judge import yes_no
from rag.llm import ChatMessage, chatml
from rag.pipeline import Pipeline
from tests.conftest import SEED

pytestmark = pytest.mark.slow


def _prompt(question: str) -> str:
    text = SEED.read_text(encoding="utf-8")[:900]
    user = USER.format(title="Japan changes arms export rules", text=text, question=question)
    return chatml(
        [ChatMessage(role="system", content=SYSTEM), ChatMessage(role="user", content=user)]
    )


def test_a_prompt_read_before_is_restored_and_scores_the_same(real: Pipeline) -> None:
    llm = real.llm
    prompt = _prompt("Who manufactures the Patriot missiles in Japan?")
    n = len(llm.raw.tokenize(prompt.encode(), add_bos=False, special=True))
    first = yes_no(llm, prompt)
    llm.complete([ChatMessage(role="user", content="Say OK.")], 2)  # the context now holds this
    read, reused = llm.states.prefilled, llm.states.reused
    again = yes_no(llm, prompt)
    assert llm.states.prefilled - read == 1  # only the last token, for fresh logits
    assert llm.states.reused - reused == n - 1
    assert abs(again - first) < 0.2, (first, again)
    other = yes_no(llm, _prompt("What is the population of Tokyo?"))
    assert other < first  # a different question after the same passage is still judged


def test_the_answer_check_reuses_what_the_gate_read(real: Pipeline) -> None:
    a = real.ask("Who manufactures the Patriot missiles in Japan?")
    t = a.timings
    assert not a.refused
    # the check reads the gate's passage again (and the next one, where the gate stopped at the
    # first): restored, not read again, but for the check's own words
    gate_read = t["gate_prefill_tokens"] + t["gate_reused_tokens"]
    assert t["check_reused_tokens"] >= 0.8 * gate_read, t
