"""Question generation: only verified cases survive; exact offsets; deterministic by seed.

A scripted stand-in LLM plays the model (right quotes, a fabricated quote, a non-answer) so the
real verification code runs fast; the real model generates in test_eval_e2e.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.cli import main
from rag.embed import Embedder
from rag.eval.generate import generate_suite, locate, parse_reply
from rag.eval.suite import load_suite
from rag.llm import ChatMessage
from rag.load import load_file
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.conftest import SEED


class ScriptedLLM:
    """Answers generation prompts by keyword, the way a small model might (right and wrong)."""

    name = "scripted"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def complete(self, messages: list[ChatMessage], max_tokens: int) -> str:
        prompt = str(messages[-1].content)
        self.prompts.append(prompt)
        if "Passage A:" in prompt:
            japan = (
                "In addition to the Patriot missiles, Japan is also considering exporting "
                "155mm artillery shells to the UK."
            )
            korea = "Seoul ordered 48 K9 howitzers from Hanwha in March."
            a, b = prompt.split("Passage B:")
            if japan not in a + b or korea not in a + b:
                return "Question: ?"
            first, second = (japan, korea) if japan in a else (korea, japan)
            return (
                "Question: Which artillery may Japan export to the UK, and what did Seoul "
                "order?\nAnswer: 155mm artillery shells; 48 K9 howitzers\n"
                f"Quote A: {first}\nQuote B: {second}"
            )
        if "Rewrite this question" in prompt:
            return "Question: Which firm builds the Patriot launchers for Hanwha Aerospace?"
        if "Mitsubishi" in prompt:
            # straight apostrophes and doubled spaces: verbatim up to normalisation
            return (
                "Question: Who manufactures the Patriot missiles in Japan?\n"
                "Answer: Mitsubishi Heavy Industries\n"
                "Quote: Patriot missiles in Japan are  manufactured by Mitsubishi Heavy "
                "Industries under license from US defense contractors Lockheed Martin and RTX."
            )
        if "155mm" in prompt:
            return (
                "Question: Where will Japan send 155mm shells?\nAnswer: France\n"
                "Quote: Japan will export 155mm artillery shells to France next year."
            )
        if "$60 billion" in prompt:
            return (
                "Question: How much aid did the US Congress fail to approve for Ukraine?\n"
                "Answer: $60 billion\n"
                "Quote: The US Congress recently failed to approve a $60 billion aid package "
                "for Ukraine, leading to concerns about ammunition shortages for Ukraine's defense."
            )
        return "Sorry, I can only help with code."

    def stream(self, messages: list[ChatMessage], max_tokens: int):
        yield self.complete(messages, max_tokens)


@pytest.fixture()
def gen_pipe(tmp_path: Path, embedder: Embedder) -> Pipeline:
    return Pipeline(Settings(index_dir=tmp_path / "i"), llm=ScriptedLLM(), embedder=embedder)


def test_locate_forgives_spacing_quotes_and_case_and_gives_exact_offsets() -> None:
    text = "He said “no”.\nJapan’s  National Security Council will decide. Next."
    start, end = locate("japan's national security council will decide.", text)
    assert text[start:end] == "Japan’s  National Security Council will decide."
    start, end = locate('He said "no"', text)
    assert text[start:end] == "He said “no”"
    assert locate("Japan will decide on tanks.", text) is None
    assert locate("short", text) is None


def test_parse_reply_needs_every_field() -> None:
    assert parse_reply("Question: Q?\n**Answer:** A\nQuote: x", ("Question", "Answer")) == {
        "Question": "Q?",
        "Answer": "A",
    }
    assert parse_reply("Question: Q?", ("Question", "Answer")) is None


def test_generated_cases_are_verified(gen_pipe: Pipeline) -> None:
    docs = load_file(SEED)
    cases = generate_suite(gen_pipe, docs, 4, seed=0)
    doc = docs[0]
    answerable = [c for c in cases if c.answerable]
    refs = {c.reference_answer for c in answerable}
    assert refs and refs <= {"Mitsubishi Heavy Industries", "$60 billion"}
    for c in answerable:
        (ev,) = c.evidence
        assert ev.doc_id == doc.id and doc.text[ev.start : ev.end] == ev.quote
        assert c.extra["support"] >= gen_pipe.checker.threshold
        assert c.extra["checker"] == gen_pipe.checker.version and c.extra["seed"] == 0
    assert not any("France" in (c.reference_answer or "") for c in cases)  # fabricated quote
    (un,) = [c for c in cases if not c.answerable]
    assert un.extra["absent_terms"] and "perturbed" in un.tags
    for term in un.extra["absent_terms"]:
        assert term not in doc.text.lower()
    assert len({c.id for c in cases}) == len(cases)


def test_same_seed_same_suite(gen_pipe: Pipeline, embedder: Embedder, tmp_path: Path) -> None:
    docs = load_file(SEED)
    again = Pipeline(Settings(index_dir=tmp_path / "j"), llm=ScriptedLLM(), embedder=embedder)
    assert generate_suite(gen_pipe, docs, 4, seed=5) == generate_suite(again, docs, 4, seed=5)


def test_multi_article_and_rewritten_unanswerable(gen_pipe: Pipeline, tmp_path: Path) -> None:
    other = tmp_path / "korea.txt"
    other.write_text(
        "South Korea expands its artillery exports\n\n"
        "Seoul ordered 48 K9 howitzers from Hanwha in March. The guns will be delivered "
        "over three years. Hanwha Aerospace said the order was its largest this year."
    )
    docs = load_file(SEED) + load_file(other)
    cases = generate_suite(gen_pipe, docs, 6, seed=1)
    multi = [c for c in cases if "multi" in c.tags]
    assert multi, [c.to_dict() for c in cases]
    (m,) = multi[:1]
    assert {e.doc_id for e in m.evidence} == {d.id for d in docs}
    for e in m.evidence:
        d = next(x for x in docs if x.id == e.doc_id)
        assert d.text[e.start : e.end] == e.quote


def test_cli_generate_with_extractive_backend(tmp_path: Path) -> None:
    out = tmp_path / "suite.jsonl"
    argv = ["eval", "generate", str(SEED), "--out", str(out), "--n", "4", "--seed", "2"]
    assert main([*argv, "--llm-backend", "extractive"]) == 0
    cases = load_suite(out)
    assert len(cases) == 4 and any(not c.answerable for c in cases)
    text = load_file(SEED)[0].text
    for c in cases:
        for e in c.evidence:
            assert text[e.start : e.end] == e.quote
