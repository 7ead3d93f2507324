"""Importing the public question sets into suites (skipped when NEWSRAG_DATA is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.cli import main
from rag.eval import metrics as m
from rag.eval.importers import import_suite
from rag.eval.suite import EvalError, load_suite
from rag.load import load_file
from tests.conftest import need_data

pytestmark = pytest.mark.data


def test_realtimeqa_gold_questions_keep_gold_articles() -> None:
    path = need_data("realtimeqa_news/questions.jsonl")
    cases = import_suite("realtimeqa", path, gold_only=True, limit=5)
    assert len(cases) == 5 and all(c.answerable for c in cases)
    first = cases[0]
    assert first.id == "20220617_0"
    assert first.reference_answer == "“Squid Game”" and first.extra["as_of"] == "2022-06-16"
    assert [e.doc_id for e in first.evidence] == ["rtqa_5b14cd16b6fe"]
    assert len(first.extra["choices"]) == 4 and "<a" not in first.extra["explanation"]
    sample = import_suite("realtimeqa", path, gold_only=True, limit=5, seed=3)
    assert sample == import_suite("realtimeqa", path, gold_only=True, limit=5, seed=3)
    assert len(import_suite("realtimeqa", path, gold_only=True)) == 135


def test_realtimeqa_evidence_resolves_to_loaded_gold_articles() -> None:
    path = need_data("realtimeqa_news/questions.jsonl")
    docs = load_file(need_data("realtimeqa_news/articles_gold.jsonl"))
    resolver = m.DocResolver(docs)
    cases = import_suite("realtimeqa", path, gold_only=True)
    resolved = [bool(resolver.docs(e.doc_id, None)) for c in cases for e in c.evidence]
    assert all(resolved)


def test_squad2_half_unanswerable_with_answer_sentences(tmp_path: Path) -> None:
    path = need_data("squad2_dev_half/questions.jsonl")
    cases = import_suite("squad2", path, limit=30, seed=7, unanswerable_share=0.5)
    assert len(cases) == 30 and sum(not c.answerable for c in cases) == 15
    paragraphs = {
        d.path.rsplit("#", 1)[1]: d for d in load_file(path.with_name("paragraphs.jsonl"))
    }
    for c in cases:
        (ev,) = c.evidence
        doc = paragraphs[ev.doc_id]
        if c.answerable:
            assert c.references() and any(r in ev.quote for r in c.references())
            assert ev.start is not None and doc.text[ev.start : ev.end] == ev.quote
        else:
            assert not ev.quote and c.extra["plausible_answers"]
    out = tmp_path / "squad.jsonl"
    argv = ["eval", "import", "squad2", str(path), "--out", str(out), "--limit", "4"]
    assert main([*argv, "--unanswerable-share", "0.5", "--seed", "1"]) == 0
    assert [c.answerable for c in load_suite(out)].count(False) == 2


def test_import_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "q.jsonl"
    bad.write_text(json.dumps({"question": "no ids here"}) + "\n")
    with pytest.raises(EvalError, match=r"q.jsonl: line 1: missing question_id"):
        import_suite("realtimeqa", bad)
    with pytest.raises(EvalError, match="unknown format"):
        import_suite("trivia", bad)
    with pytest.raises(EvalError, match="no such file"):
        import_suite("squad2", tmp_path / "missing.jsonl")
