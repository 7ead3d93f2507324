"""Run a suite through the pipeline: per-case records, a summary, a report, and the gate.

    summary = run_suite(pipe, load_suite("suite.jsonl"), Path("runs/today"))

writes runs/today/cases.jsonl (one line per case, written as it finishes, so an interrupted
run keeps what it did), summary.json and report.html. Metrics are computed by the system
(rag.eval.metrics); the support checker's version is recorded in every summary, so runs made
with different checkers are never compared unknowingly.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.errors import NewsragError
from rag.eval import metrics as m
from rag.eval.suite import Case, EvalError
from rag.settings import Settings
from rag.types import Answer, Document

ProgressFn = Callable[[int, int], None]

# The headline metrics, in report order; True = higher is better.
METRICS: dict[str, bool] = {
    "faithfulness": True,
    "citation_precision": True,
    "citation_recall": True,
    "context_precision": True,
    "context_recall": True,
    "answer_relevance": True,
    "answer_correctness": True,
    "answer_f1": True,
    "refusal_accuracy": True,
    "false_refusal_rate": False,
    "judge_faithfulness": True,  # only with the opt-in judge (rag.eval.judge)
}
CONTEXT_CHARS = 160  # article text kept either side of a quote, for the report


def case_metrics(
    case: Case,
    answer: Answer,
    checks: Sequence[m.SentenceCheck],
    relevant: Sequence[bool],
    found: Sequence[bool],
    relevance: float | None,
) -> dict[str, Any]:
    """Per-case metrics; None where a metric does not apply (see eval/README.md)."""
    answered = not answer.refused
    out: dict[str, Any] = {
        "refused": answer.refused,
        "refusal_correct": answer.refused != case.answerable,
        "faithfulness": m.faithfulness([c.supported for c in checks]) if answered else None,
        "citation_precision": m.citation_precision([c.precise for c in checks])
        if answered
        else None,
        "citation_recall": m.citation_recall([c.cited_support for c in checks])
        if answered
        else None,
        "answer_relevance": relevance if answered else None,
        "sentences": len(checks) if answered else 0,
        "supported_sentences": sum(c.supported for c in checks) if answered else 0,
        "citations": sum(len(c.precise) for c in checks) if answered else 0,
        "precise_citations": sum(sum(c.precise) for c in checks) if answered else 0,
    }
    with_evidence = case.answerable and bool(case.evidence)
    out["context_precision"] = m.context_precision(relevant) if with_evidence else None
    out["context_recall"] = m.context_recall(found) if with_evidence else None
    refs = case.references()
    if case.answerable and refs:
        text = "" if answer.refused else answer.text
        out["answer_correctness"], out["answer_f1"] = m.answer_correctness(text, refs)
    else:
        out["answer_correctness"] = out["answer_f1"] = None
    return out


def _quote_context(answer: Answer, documents: Mapping[str, Document]) -> list[dict[str, Any]]:
    """Article text around each cited quote, so the report can show it highlighted in place."""
    out = []
    for c in answer.citations:
        doc = documents.get(c.doc_id)
        if doc is None:
            continue
        out.append(
            {
                "doc_id": c.doc_id,
                "start": c.start,
                "end": c.end,
                "before": doc.text[max(0, c.start - CONTEXT_CHARS) : c.start],
                "after": doc.text[c.end : c.end + CONTEXT_CHARS],
            }
        )
    return out


def _flags(case: Case, metrics: dict[str, Any]) -> list[str]:
    """Short labels for what went wrong in a case, for the report's table and filters."""
    flags = []
    if case.answerable and metrics["refused"]:
        flags.append("false refusal")
        if metrics.get("refused_right_draft"):
            flags.append("refused a right draft")
    if not case.answerable and not metrics["refused"]:
        flags.append("answered unanswerable")
    if metrics["sentences"] and metrics["supported_sentences"] < metrics["sentences"]:
        flags.append("unsupported sentence")
    if metrics["citations"] and metrics["precise_citations"] < metrics["citations"]:
        flags.append("imprecise citation")
    if metrics.get("context_recall") == 0.0:
        flags.append("evidence not retrieved")
    if metrics.get("answer_correctness") == 0.0 and not metrics["refused"]:
        flags.append("reference not in answer")
    return flags


class CaseRunner:
    """Asks one case and measures it; holds what is shared across cases of a run."""

    def __init__(self, pipe: Any, judge: Any = None) -> None:
        self.pipe = pipe
        self.judge = judge
        self.documents: dict[str, Document] = pipe.index.documents
        self.resolver = m.DocResolver(self.documents.values())
        self.chunk_texts = {cid: c.text for cid, c in pipe.index.chunks.items()}
        self.checker = pipe.checker

    def run(self, case: Case) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": case.id,
            "question": case.question,
            "answerable": case.answerable,
            "reference_answers": case.references(),
            "evidence": [e.to_dict() for e in case.evidence],
            "tags": list(case.tags),
        }
        t0 = time.perf_counter()
        try:
            answer = self.pipe.ask(
                case.question, case.extra.get("filters"), case.extra.get("as_of")
            )
        except NewsragError as e:
            record["error"] = str(e)
            record["seconds"] = round(time.perf_counter() - t0, 3)
            return record
        ask_s = time.perf_counter() - t0
        checks = (
            []
            if answer.refused
            else m.check_answer(answer, self.documents, self.checker, self.chunk_texts)
        )
        relevant, found = m.match_evidence(case.evidence, answer.retrieved, self.resolver)
        relevance = None
        if not answer.refused and answer.text.strip():
            q, a = self.pipe.embedder.embed([case.question, answer.text])
            relevance = m.cosine(q, a)
        metrics = case_metrics(case, answer, checks, relevant, found, relevance)
        if answer.refused and case.answerable and answer.draft and case.references():
            # the model had the answer but the system refused: where refusal rules cost most
            metrics["refused_right_draft"] = m.contains_answer(answer.draft, case.references())
        if self.judge is not None:
            metrics["judge_faithfulness"] = self.judge.faithfulness(
                answer, self.documents, self.chunk_texts
            )
        record.update(
            {
                "answer": answer.to_dict(),
                "metrics": {k: _round(v) for k, v in metrics.items()},
                "flags": _flags(case, metrics),
                "checks": [c.to_dict() for c in checks],
                "relevant": relevant,
                "evidence_found": found,
                "quote_context": _quote_context(answer, self.documents),
                "ask_ms": round(ask_s * 1000, 1),
                "seconds": round(time.perf_counter() - t0, 3),
            }
        )
        return record


def _round(v: Any) -> Any:
    return round(v, 4) if isinstance(v, float) else v


def summarize_records(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The run's headline numbers from its per-case records (macro means over cases)."""
    ok = [r for r in records if "metrics" in r]
    per = [r["metrics"] for r in ok]
    out: dict[str, Any] = {}
    n_cases: dict[str, int] = {}
    judged = any("judge_faithfulness" in p for p in per)
    for name in METRICS:
        if name in ("refusal_accuracy", "false_refusal_rate"):
            continue
        if name == "judge_faithfulness" and not judged:
            continue
        vals = [p.get(name) for p in per]
        out[name] = _round(m.mean(vals))
        n_cases[name] = sum(v is not None for v in vals)
    # a case that failed with an error counts as not refused
    answerable = [r["answerable"] for r in records]
    refused = [bool(r.get("metrics", {}).get("refused")) for r in records]
    acc, false_rate = m.refusal_rates(answerable, refused)
    out["refusal_accuracy"] = _round(acc)
    out["false_refusal_rate"] = _round(false_rate)
    n_cases["refusal_accuracy"] = sum(not a for a in answerable)
    n_cases["false_refusal_rate"] = sum(answerable)
    asks = sorted(r["ask_ms"] for r in ok)
    firsts = sorted(
        r["answer"]["timings"].get("first_token_ms", 0.0) for r in ok if not r["metrics"]["refused"]
    )
    out["counts"] = {
        "cases": len(records),
        "answerable": sum(answerable),
        "unanswerable": len(records) - sum(answerable),
        "refused": sum(refused),
        "errors": len(records) - len(ok),
        "sentences": sum(p["sentences"] for p in per),
        "supported_sentences": sum(p["supported_sentences"] for p in per),
        "citations": sum(p["citations"] for p in per),
        "precise_citations": sum(p["precise_citations"] for p in per),
        "refused_right_drafts": sum(bool(p.get("refused_right_draft")) for p in per),
        "metric_cases": n_cases,
    }
    out["timings"] = {
        "ask_ms_mean": round(statistics.fmean(asks), 1) if asks else None,
        "ask_ms_p50": round(_pct(asks, 50), 1) if asks else None,
        "ask_ms_p95": round(_pct(asks, 95), 1) if asks else None,
        "first_token_ms_p50": round(_pct(firsts, 50), 1) if firsts else None,
        "case_seconds_total": round(sum(r.get("seconds", 0.0) for r in records), 2),
    }
    return out


def _pct(values: Sequence[float], q: float) -> float:
    if len(values) == 1:
        return float(values[0])
    k = (len(values) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return float(values[lo] + (values[hi] - values[lo]) * (k - lo))


def run_suite(
    pipe: Any,
    cases: Sequence[Case],
    out_dir: Path,
    progress: ProgressFn | None = None,
    *,
    suite_path: str | None = None,
    baseline: Path | None = None,
    judge: Any = None,
    index_label: str | None = None,
) -> dict[str, Any]:
    """Ask every case, write cases.jsonl, summary.json and report.html; return the summary.

    `judge` (rag.eval.judge.Judge, opt-in) adds judge_faithfulness beside the system's metrics;
    `index_label` names the index in the summary when its directory says little (a temporary one).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not cases:
        raise EvalError("the suite has no cases")
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    runner = CaseRunner(pipe, judge)
    records: list[dict[str, Any]] = []
    if progress:
        progress(0, len(cases))
    with (out_dir / "cases.jsonl").open("w", encoding="utf-8") as f:
        for i, case in enumerate(cases, start=1):
            record = runner.run(case)
            records.append(record)
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            if progress:
                progress(i, len(cases))
    summary = summarize_records(records)
    summary["timings"]["total_seconds"] = round(time.perf_counter() - t0, 2)
    summary.update(_provenance(pipe, suite_path, started))
    if index_label:
        summary["index"] = index_label
    if judge is not None:
        summary["judge"] = judge.name
    write_json(out_dir / "summary.json", summary)
    from rag.eval.report import write_report

    write_report(out_dir, baseline)
    return summary


def _provenance(pipe: Any, suite_path: str | None, started: datetime) -> dict[str, Any]:
    s: Settings = pipe.settings
    llm = pipe.llm
    return {
        "checker": pipe.checker.version,
        "llm": getattr(llm, "name", s.llm_backend),
        "suite": suite_path,
        "index": s.store_name,
        "documents": len(pipe.index.documents),
        "settings": {
            k: getattr(s, k)
            for k in ("llm_backend", "llm_model", "embed_model", "top_k", "support_threshold")
        },
        "started_at": started.isoformat(timespec="seconds"),
    }


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)


def read_run(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(summary, case records) of a run directory; EvalError naming what is missing."""
    run_dir = Path(run_dir)
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        lines = (run_dir / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    except (OSError, json.JSONDecodeError) as e:
        raise EvalError(f"{run_dir}: not a complete eval run ({e})") from e
    records = []
    for n, line in enumerate(lines, start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise EvalError(f"{run_dir / 'cases.jsonl'}: line {n}: malformed JSON") from e
    return summary, records


# ---- the gate --------------------------------------------------------------------------------


def parse_thresholds(spec: str | None) -> dict[str, float]:
    """ "faithfulness=0.9,citation_precision=0.9" → {name: value}; EvalError when malformed."""
    out: dict[str, float] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in METRICS:
            raise EvalError(
                f"threshold {part.strip()!r}: use METRIC=VALUE with METRIC one of "
                + ", ".join(METRICS)
            )
        try:
            out[name] = float(value)
        except ValueError:
            raise EvalError(f"threshold {part.strip()!r}: {value!r} is not a number") from None
    return out


def gate(
    summary: Mapping[str, Any],
    fail_under: Mapping[str, float] | None = None,
    fail_over: Mapping[str, float] | None = None,
) -> list[str]:
    """One message per metric that fell short (below a minimum, above a maximum, or unmeasured).

    An empty list means the run passes. A metric a suite cannot measure (no unanswerable cases
    for refusal_accuracy, say) fails: a gate on nothing would pass silently.
    """
    failures = []
    for name, floor in (fail_under or {}).items():
        v = summary.get(name)
        if v is None:
            failures.append(f"{name}: not measured by this suite (minimum {floor:g})")
        elif v < floor:
            failures.append(f"{name}: {v:.3f} < {floor:g}")
    for name, ceiling in (fail_over or {}).items():
        v = summary.get(name)
        if v is None:
            failures.append(f"{name}: not measured by this suite (maximum {ceiling:g})")
        elif v > ceiling:
            failures.append(f"{name}: {v:.3f} > {ceiling:g}")
    return failures


def index_articles(settings: Settings, paths: Sequence[str | Path], index_dir: Path, **kw: Any):
    """A Pipeline over a fresh local index of `paths` (for `eval run --articles`; never the
    shared store, whose collection the run would change); load errors raise."""
    from rag.pipeline import Pipeline

    local = "faiss" if settings.shared_store else settings.vector_store
    pipe = Pipeline(settings.with_overrides(index_dir=Path(index_dir), vector_store=local), **kw)
    report = pipe.ingest(paths)
    if report.errors:
        problems = "; ".join(f"{e.path}: {e.problem}" for e in report.errors)
        raise EvalError(f"cannot index the articles: {problems}")
    if not pipe.index.documents:
        raise EvalError("no articles to run against (nothing was indexed)")
    return pipe
