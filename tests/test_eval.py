"""The eval harness: suite format, metrics on hand-made cases, planted errors, runs, gate, report.

Runs through the real pipeline with the extractive backend (no LLM); the real-model run is in
test_eval_e2e.py.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from rag.cli import main
from rag.eval import metrics as m
from rag.eval.report import case_changes, render, write_report
from rag.eval.run import gate, parse_thresholds, run_suite
from rag.eval.suite import Case, EvalError, Evidence, load_suite, save_suite
from rag.pipeline import Pipeline
from rag.types import Answer, Citation, Sentence

QUOTE_MAKER = (
    "Patriot missiles in Japan are manufactured by Mitsubishi Heavy Industries under license "
    "from US defense contractors Lockheed Martin and RTX."
)


def _cases() -> list[Case]:
    return [
        Case(
            "maker",
            "Who manufactures the Patriot missiles in Japan?",
            True,
            "Mitsubishi Heavy Industries",
            (Evidence(quote=QUOTE_MAKER),),
            ("single",),
        ),
        Case(
            "aid",
            "How much aid did the US Congress fail to approve for Ukraine?",
            True,
            "$60 billion",
        ),
        Case("mars", "How many satellites did Brazil launch to Mars in 1995?", False),
    ]


# ---- suite format --------------------------------------------------------------------------


def test_suite_round_trip_keeps_unknown_fields(tmp_path: Path) -> None:
    c = Case(
        "a1",
        "Q?",
        True,
        "A",
        (Evidence(quote="q", doc_id="d1", title="T", start=3, end=4),),
        ("x",),
        {"choices": ["A", "B"], "as_of": "2022-06-16"},
    )
    path = save_suite([c, Case("u1", "Other?", False)], tmp_path / "s.jsonl")
    back = load_suite(path)
    assert back[0] == c
    assert back[1].answerable is False and back[1].evidence == ()
    assert json.loads(path.read_text().splitlines()[0])["choices"] == ["A", "B"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "malformed JSON"),
        ('{"id": "x"}', "missing or empty 'question'"),
        (
            '{"id": "x", "question": "Q?", "answerable": "yes"}',
            "'answerable' must be true or false",
        ),
        ('{"id": "x", "question": "Q?", "evidence": [{}]}', "evidence item 0"),
        ('{"id": "x", "question": "Q?", "tags": "a"}', "'tags' must be a list"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"id": "ok", "question": "Fine?"}\n\n' + line + "\n")
    with pytest.raises(EvalError) as e:
        load_suite(p)
    assert f"{p}: line 3" in str(e.value) and problem in str(e.value)


def test_duplicate_ids_and_empty_suite_rejected(tmp_path: Path) -> None:
    p = tmp_path / "dup.jsonl"
    p.write_text('{"id": "a", "question": "Q?"}\n{"id": "a", "question": "R?"}\n')
    with pytest.raises(EvalError, match="line 2: duplicate id"):
        load_suite(p)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(EvalError, match="no cases"):
        load_suite(tmp_path / "empty.jsonl")


# ---- metric functions on hand-made values --------------------------------------------------


def test_answer_correctness_squad_style() -> None:
    assert m.normalize_answer("The  “Squid Game”!") == "squid game"
    assert m.token_f1("the cat sat", "a cat sat on the mat") == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert m.token_f1("dog", "cat") == 0.0
    assert m.contains_answer("It was “Squid Game”, Netflix said.", ["“Squid Game”"])
    assert not m.contains_answer("Game of Thrones", ["Game"[:2]])  # whole words only
    assert m.contains_answer("The missile is the Patriot.", ["Patriot missiles"])  # stems
    assert not m.contains_answer("It was $60 million.", ["$60 billion"])
    assert not m.contains_answer("Japan's foreign ministry said so.", ["the defense ministry"])
    assert m.answer_correctness("about $60 billion in aid", ["$60 billion", "60bn"]) == (
        1.0,
        pytest.approx(2 * (2 / 5) * 1.0 / (2 / 5 + 1.0)),  # 5 tokens: $ is punctuation
    )
    assert m.answer_correctness("anything", []) == (0.0, 0.0)


def test_context_precision_is_rank_aware() -> None:
    assert m.context_precision([True, False, True]) == pytest.approx((1 + 2 / 3) / 2)
    assert m.context_precision([False, True]) == pytest.approx(0.5)
    assert m.context_precision([True, True, False]) == 1.0
    assert m.context_precision([False, False]) == 0.0
    assert m.context_precision([]) is None
    assert m.context_recall([True, False, False, True]) == 0.5


def test_sentence_and_citation_shares() -> None:
    assert m.faithfulness([True, True, False, True]) == 0.75
    assert m.faithfulness([]) is None
    assert m.citation_recall([True, False]) == 0.5
    assert m.citation_precision([[True, False], [True], []]) == pytest.approx(2 / 3)
    assert m.citation_precision([[], []]) is None
    acc, false_rate = m.refusal_rates(
        [True, True, False, False, False], [True, False, True, True, False]
    )
    assert acc == pytest.approx(2 / 3) and false_rate == 0.5
    assert m.mean([1.0, None, 0.0]) == 0.5 and m.mean([None]) is None


def test_summary_aggregates_known_records() -> None:
    from rag.eval.run import summarize_records

    def rec(answerable: bool, refused: bool, **metrics: float | None) -> dict:
        base = {"refused": refused, "sentences": 2, "supported_sentences": 1}
        base |= {"citations": 1, "precise_citations": 1}
        timings = {"timings": {"first_token_ms": 5.0}}
        return {"answerable": answerable, "ask_ms": 10.0, "seconds": 0.1,
                "answer": timings, "metrics": base | metrics}  # fmt: skip

    s = summarize_records(
        [
            rec(True, False, faithfulness=1.0, answer_correctness=1.0),
            rec(True, True, faithfulness=None, answer_correctness=0.0, refused_right_draft=True),
            rec(False, True, faithfulness=None),
            rec(False, False, faithfulness=0.5),
            {"answerable": True, "error": "boom", "seconds": 0.0},
        ]
    )
    assert s["faithfulness"] == 0.75
    assert s["answer_correctness"] == 0.5
    assert s["refusal_accuracy"] == 0.5
    assert s["false_refusal_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["counts"]["errors"] == 1 and s["counts"]["cases"] == 5
    assert s["counts"]["metric_cases"]["faithfulness"] == 2
    assert s["counts"]["refused_right_drafts"] == 1


# ---- planted unfaithful answers are caught -------------------------------------------------


def _tamper(answer: Answer, old: str, new: str) -> Answer:
    sentences = tuple(replace(s, text=s.text.replace(old, new)) for s in answer.sentences)
    assert sentences != answer.sentences, f"{old!r} not in the answer"
    return replace(answer, sentences=sentences, text=" ".join(s.text for s in sentences))


@pytest.mark.parametrize(
    ("question", "old", "new", "why"),
    [
        ("How much aid did the US Congress fail to approve for Ukraine?", "$60", "$80", "number"),
        ("Who manufactures the Patriot missiles in Japan?", "Mitsubishi", "Kawasaki", "name"),
        ("Who manufactures the Patriot missiles in Japan?", "Lockheed Martin", "Boeing", "name"),
    ],
)
def test_planted_unfaithful_answer_is_caught(
    seed_pipe: Pipeline, question: str, old: str, new: str, why: str
) -> None:
    answer = seed_pipe.ask(question)
    docs, checker = seed_pipe.index.documents, seed_pipe.checker
    honest = m.check_answer(answer, docs, checker)
    assert honest and all(c.supported and c.cited_support for c in honest)
    planted = _tamper(answer, old, new)
    checks = m.check_answer(planted, docs, checker)
    bad = [c for c in checks if new in c.text]
    assert bad and not any(c.supported for c in bad)
    assert any(why in c.reason for c in bad)
    assert not any(c.cited_support for c in bad) and not any(p for c in bad for p in c.precise)
    assert m.faithfulness([c.supported for c in checks]) < 1.0


def test_citation_precision_alce(seed_pipe: Pipeline) -> None:
    """Two quotes both needed are both precise; a quote that adds nothing is not."""
    docs = seed_pipe.index.documents
    doc = next(iter(docs.values()))

    def cite(fragment: str) -> Citation:
        start = doc.text.index(fragment)
        return Citation(doc.id, f"{doc.id}:x", doc.title, doc.source, doc.published_at,
                        fragment, start, start + len(fragment), 1.0)  # fmt: skip

    aid = cite("The US Congress recently failed to approve a $60 billion aid package for Ukraine")
    spend = cite("Japan announced plans to double its military spending to 2% of the country’s GDP")
    pacifist = cite("Japan still upholds its ban on exporting weapons to nations at war.")
    text = "Congress failed to approve $60 billion for Ukraine, and Japan plans to spend 2% of GDP."
    answer = Answer("q", text, (Sentence(text, True, 1.0, (aid, spend, pacifist)),), False)
    (check,) = m.check_answer(answer, docs, seed_pipe.checker)
    assert check.cited_support
    assert check.precise == (True, True, False)


# ---- retrieval vs evidence -----------------------------------------------------------------


def test_evidence_matches_record_keys_titles_and_quotes(tmp_path: Path, pipe: Pipeline) -> None:
    fed_text = "The Fed raised rates by 75 basis points on Wednesday. Markets fell."
    storm_text = "A storm hit the Florida coast. Thousands lost power overnight."
    rows = [
        {"doc_id": "rtqa_a", "title": "Fed raises rates", "text": fed_text},
        {"doc_id": "rtqa_b", "title": "Storm hits coast", "text": storm_text},
    ]
    f = tmp_path / "articles.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows))
    pipe.ingest([f])
    resolver = m.DocResolver(pipe.index.documents.values())
    hits = pipe.retrieve("How much did the Fed raise rates?")
    fed = next(iter(resolver.docs("rtqa_a", None)))
    assert resolver.docs(None, "storm hits coast") and resolver.docs("nope", None) == set()
    relevant, found = m.match_evidence([Evidence(doc_id="rtqa_a")], hits, resolver)
    assert found == [True] and relevant == [h.chunk.doc_id == fed for h in hits]
    _, found = m.match_evidence(
        [Evidence(quote="raised  rates by 75 basis points"), Evidence(quote="not there at all")],
        hits,
        resolver,
    )
    assert found == [True, False]


# ---- a run, its report, the gate -----------------------------------------------------------


def test_run_writes_cases_summary_and_report(seed_pipe: Pipeline, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    out = tmp_path / "run"
    summary = run_suite(seed_pipe, _cases(), out, lambda d, n: seen.append((d, n)))
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    for key in (
        "faithfulness", "answer_relevance", "context_precision", "context_recall",
        "citation_precision", "citation_recall", "refusal_accuracy", "false_refusal_rate",
        "answer_correctness", "counts", "timings", "checker",
    ):  # fmt: skip
        assert key in summary
    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["checker"] == seed_pipe.checker.version
    assert summary["counts"]["cases"] == 3 and summary["counts"]["unanswerable"] == 1
    assert summary["refusal_accuracy"] == 1.0  # Brazil and Mars are in no article
    assert summary["answer_correctness"] == 1.0 and summary["faithfulness"] == 1.0
    assert summary["context_recall"] == 1.0
    rows = [json.loads(x) for x in (out / "cases.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["maker", "aid", "mars"]
    maker = rows[0]
    assert maker["answer"]["citations"] and maker["metrics"]["citation_precision"] == 1.0
    page = (out / "report.html").read_text()
    assert "<svg" in page and "Mitsubishi Heavy Industries" in page and "<mark>" in page
    assert "src=" not in page and "<link" not in page and "@import" not in page


def test_report_diffs_against_a_baseline(seed_pipe: Pipeline, tmp_path: Path) -> None:
    run_suite(seed_pipe, _cases(), tmp_path / "base")
    cases = _cases()
    worse = [replace(cases[0], question="Who manufactures the Patriot missiles in Brazil?")]
    run_suite(seed_pipe, worse + cases[1:], tmp_path / "new", baseline=tmp_path / "base")
    page = (tmp_path / "new" / "report.html").read_text()
    assert "Worse than the baseline (1)" in page and "refusal wrong (was right)" in page
    assert "Better than the baseline: none" in page
    assert write_report(tmp_path / "base", tmp_path / "new").exists()


def test_case_changes_and_render_are_pure() -> None:
    old = {"id": "a", "metrics": {"faithfulness": 0.5, "refusal_correct": False}}
    new = {"id": "a", "metrics": {"faithfulness": 1.0, "refusal_correct": True}}
    net, notes = case_changes(new, old)
    assert net > 0 and "faithfulness 0.50 → 1.00" in notes
    page = render({"counts": {}, "timings": {}}, [], "empty")
    assert page.startswith("<!doctype html>") and "empty" in page


def test_gate_names_each_metric_that_fell_short() -> None:
    summary = {"faithfulness": 0.95, "citation_precision": 0.85, "refusal_accuracy": None,
               "false_refusal_rate": 0.3}  # fmt: skip
    assert gate(summary, {"faithfulness": 0.9}) == []
    failures = gate(
        summary,
        parse_thresholds("faithfulness=0.9,citation_precision=0.9,refusal_accuracy=0.5"),
        parse_thresholds("false_refusal_rate=0.2"),
    )
    assert [f.split(":")[0] for f in failures] == [
        "citation_precision",
        "refusal_accuracy",
        "false_refusal_rate",
    ]
    for bad in ("faithful=0.9", "faithfulness", "faithfulness=high"):
        with pytest.raises(EvalError):
            parse_thresholds(bad)


def test_cli_run_gate_exit_codes(
    seed_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = save_suite(_cases(), tmp_path / "suite.jsonl")
    base = ["eval", "run", str(suite), "--index", str(seed_index), "--llm-backend", "extractive"]
    code = main([*base, "--out", str(tmp_path / "a"), "--quiet", "--fail-under",
                 "faithfulness=0.9,citation_precision=0.9"])  # fmt: skip
    assert code == 0
    assert (tmp_path / "a" / "report.html").exists()
    gates = [
        "--fail-under",
        "faithfulness=0.9,answer_f1=0.99",
        "--fail-over",
        "false_refusal_rate=-1",
    ]
    code = main([*base, "--out", str(tmp_path / "b"), "--quiet", *gates])
    err = capsys.readouterr().err
    assert code == 1
    assert "FAILED answer_f1" in err and "FAILED false_refusal_rate" in err
    assert "FAILED faithfulness" not in err
    assert main([*base, "--out", str(tmp_path / "c"), "--fail-under", "speed=1"]) == 2


def test_cli_run_with_articles_and_report(tmp_path: Path, capsys) -> None:
    from tests.conftest import SEED

    suite = save_suite(_cases()[:1], tmp_path / "suite.jsonl")
    out = tmp_path / "run"
    code = main(["eval", "run", str(suite), "--articles", str(SEED), "--out", str(out),
                 "--llm-backend", "extractive", "--quiet"])  # fmt: skip
    assert code == 0 and "faithfulness" in capsys.readouterr().out
    assert main(["eval", "report", str(out), "--baseline", str(out)]) == 0
    assert main(["eval", "report", str(tmp_path / "nowhere")]) == 2


def test_cli_check_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import SEED

    text = (
        "Japan is considering exporting 155mm artillery shells to the UK. It sells tanks to Peru."
    )
    assert main(["eval", "check", "--articles", str(SEED), "--text", text, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["faithfulness"] == 0.5
    assert [s["supported"] for s in out["sentences"]] == [True, False]


class _YesNoJudge:
    """Stands in for a judge server: supported when the sentence's number is in the source."""

    name = "fake-judge"

    def complete(self, messages, max_tokens: int) -> str:
        prompt = str(messages[-1].content)
        source, sentence = prompt.split("Sentence:")
        return "yes" if "60" not in sentence or "60" in source else "no"


def test_opt_in_judge_adds_its_metric(seed_pipe: Pipeline, tmp_path: Path) -> None:
    from rag.eval.judge import Judge

    plain = run_suite(seed_pipe, _cases()[:1], tmp_path / "plain")
    assert "judge_faithfulness" not in plain
    judged = run_suite(seed_pipe, _cases(), tmp_path / "judged", judge=Judge(_YesNoJudge()))
    assert judged["judge_faithfulness"] == 1.0 and judged["judge"] == "fake-judge"
    assert "judge_faithfulness" in (tmp_path / "judged" / "report.html").read_text()
