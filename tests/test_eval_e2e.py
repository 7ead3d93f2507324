"""The eval harness end to end with the real local LLM and embedder on the seed article. Slow.

Generates a small suite with the packaged model (every kept case verified), runs it through the
real pipeline, and checks the run's files, the checker version and the gate from the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.cli import main
from rag.eval.generate import generate_suite
from rag.eval.run import gate, run_suite
from rag.eval.suite import Case, Evidence, save_suite
from rag.load import load_file
from rag.pipeline import Pipeline
from tests.conftest import SEED

pytestmark = pytest.mark.slow


def test_generated_suite_runs_end_to_end(real: Pipeline, tmp_path: Path) -> None:
    docs = load_file(SEED)
    generated = generate_suite(real, docs, 4, seed=0)
    answerable = [c for c in generated if c.answerable]
    assert answerable, "the model produced no verifiable question"
    for c in answerable:
        (ev,) = c.evidence
        assert docs[0].text[ev.start : ev.end] == ev.quote
    # one case written by hand, so the run always has an answered question to measure: which
    # generated questions the refusal rules let through changes with the model's decoding
    text = docs[0].text
    quote = "Mitsubishi Heavy Industries"
    start = text.index(quote)
    by_hand = Case(
        id="by-hand-maker",
        question="Who manufactures the Patriot missiles in Japan?",
        reference_answer=quote,
        evidence=(Evidence(quote=quote, doc_id=docs[0].id, start=start, end=start + len(quote)),),
    )
    cases = [by_hand, *generated]
    suite = save_suite(cases, tmp_path / "suite.jsonl")

    summary = run_suite(real, cases, tmp_path / "run")
    assert summary["counts"]["cases"] == len(cases) and summary["counts"]["errors"] == 0
    assert summary["checker"] == real.checker.version
    assert summary["llm"].startswith("local:")
    assert summary["context_recall"] is not None
    if any(not c.answerable for c in cases):
        # a place no article names: refused from evidence, before the model is asked
        assert summary["refusal_accuracy"] == 1.0
    rows = [json.loads(x) for x in (tmp_path / "run" / "cases.jsonl").read_text().splitlines()]
    for r in rows:
        for c in r["answer"]["citations"]:
            assert real.index.documents[c["doc_id"]].text[c["start"] : c["end"]] == c["quote"]
    assert (tmp_path / "run" / "report.html").stat().st_size > 1000
    assert gate(summary, {"faithfulness": 0.0}) == []

    # the same suite from the CLI, as CI would call it: an impossible floor fails the gate
    argv = [
        "eval",
        "run",
        str(suite),
        "--index",
        str(real.settings.index_dir),
        "--quiet",
        "--limit",
        "1",
    ]
    code = main([*argv, "--out", str(tmp_path / "cli"), "--fail-under", "answer_f1=1.01"])
    assert code == 1
