"""`newsrag bench latency`: where a question's seconds go, ours beside two simpler systems.

One warm pipeline over the bundled corpus (or `--corpus`), the fixed question set of the core
bench, asked one after another through three systems with the same local model and the same
retriever:
- ours: `Pipeline.stream`, the path `ask` and the app run; per-stage ms from its timings
  (retrieve, wait for the model, gate, draft, ground, check) and, per LLM stage, the prompt
  tokens prefilled and those reused from saved states (rag.llm.states);
- prompt_only: the top passages pasted into one prompt and streamed: no gate, no grounding,
  no check; what the work on trust costs is the difference;
- llamaindex_citation: llama-index's CitationQueryEngine (streaming) over our retriever.
First token = first streamed text; answer = the whole reply (ours: the grounded answer).
With `--news N`, N fixed-seed RealTimeQA questions (with their as-of days) the same way over
their gold articles and `--news-corpus` (190) other pool articles: about 200 articles whose
passages questions rarely share, unlike the one-article seed corpus. With `--users N` the app
is served on loopback and N users ask at once (rag.ui.load).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rag.eval.bench.core import DEFAULT_QUESTIONS
from rag.llm import ChatMessage
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings
from rag.types import Answer
from rag.ui.load import percentile

PROMPT_ONLY_PASSAGES = 3  # what fits the 2048-token context beside the question and reply
STAGES = ("retrieve_ms", "wait_ms", "gate_ms", "draft_ms", "ground_ms", "check_ms")
TOKENS = tuple(f"{s}_{k}_tokens" for s in ("gate", "draft", "check") for k in ("prefill", "reused"))


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None}
    return {"p50": round(statistics.median(values), 1), "p95": round(percentile(values, 95), 1)}


def _ours(pipe: Pipeline, question: str, as_of: str | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    first = None
    answer: Answer | None = None
    for event in pipe.stream(question, as_of=as_of):
        if isinstance(event, Answer):
            answer = event
        elif first is None:
            first = (time.perf_counter() - t0) * 1000
    assert answer is not None
    t = dict(answer.timings)
    t["draft_ms"] = t.get("generate_ms", 0.0) - t.get("gate_ms", 0.0) - t.get("wait_ms", 0.0)
    return {
        "answer_ms": (time.perf_counter() - t0) * 1000,
        "first_token_ms": first,
        "stages": {k: round(t[k], 1) for k in STAGES + TOKENS if k in t},
        "refused": answer.refused,
        "answer": answer.text,
    }


def _timed(t0: float, deltas: Iterable[str], stages: dict[str, float]) -> dict[str, Any]:
    """A streamed reply's first-token and whole-answer ms, counted from `t0`."""
    first, parts = None, []
    for delta in deltas:
        if first is None:
            first = (time.perf_counter() - t0) * 1000
        parts.append(delta)
    return {
        "answer_ms": (time.perf_counter() - t0) * 1000,
        "first_token_ms": first,
        "stages": stages,
        "answer": "".join(parts).strip(),
    }


def _prompt_only(pipe: Pipeline, question: str, as_of: str | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    hits = pipe.retrieve(question, as_of=as_of)[:PROMPT_ONLY_PASSAGES]
    retrieve_ms = (time.perf_counter() - t0) * 1000
    passages = "\n\n".join(f"[{i}] {h.chunk.text}" for i, h in enumerate(hits, 1))
    messages = [
        ChatMessage(role="system", content="Answer the question from the passages, citing [n]."),
        ChatMessage(role="user", content=f"{passages}\n\nQuestion: {question}"),
    ]
    stream = pipe.llm.stream(messages, pipe.settings.llm_max_tokens)
    return _timed(t0, stream, {"retrieve_ms": round(retrieve_ms, 1)})


def _citation_engine(pipe: Pipeline) -> Any:
    from llama_index.core import get_response_synthesizer
    from llama_index.core.query_engine import CitationQueryEngine
    from llama_index.core.query_engine.citation_query_engine import (
        CITATION_QA_TEMPLATE,
        CITATION_REFINE_TEMPLATE,
    )

    from rag.eval.bench.refusal import same_retriever

    llm = pipe.llm.llama_index_llm  # type: ignore[attr-defined]
    if hasattr(llm, "generate_kwargs"):  # LlamaCPP; a server's OpenAILike has max_tokens set
        llm.generate_kwargs["max_tokens"] = pipe.settings.llm_max_tokens
    synth = get_response_synthesizer(
        llm=llm,
        text_qa_template=CITATION_QA_TEMPLATE,
        refine_template=CITATION_REFINE_TEMPLATE,
        response_mode="compact",
        streaming=True,
    )
    return CitationQueryEngine(
        retriever=same_retriever(pipe),
        llm=llm,
        response_synthesizer=synth,
        citation_chunk_size=1024,
    )


def _citation(engine: Any, question: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    response = engine.query(question)
    return _timed(t0, response.response_gen, {})


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    stages: dict[str, dict[str, float | None]] = {}
    for key in STAGES + TOKENS:
        values = [r["stages"][key] for r in rows if key in r["stages"]]
        if values:
            stages[key] = _spread(values)
    firsts = [r["first_token_ms"] for r in rows if r["first_token_ms"] is not None]
    return {
        "answer_ms": _spread([r["answer_ms"] for r in rows]),
        "first_token_ms": _spread(firsts),
        "stages": stages,
        "n": len(rows),
    }


def compare(
    pipe: Pipeline, questions: list[tuple[str, str | None]], systems: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Each (question, as-of day) through each system, in turns: any warm-up effect falls on
    all of them. Returns per-system figures and the rows behind them."""
    engine = _citation_engine(pipe) if "llamaindex_citation" in systems else None
    runs = {
        "ours": lambda q, day: _ours(pipe, q, day),
        "prompt_only": lambda q, day: _prompt_only(pipe, q, day),
        "llamaindex_citation": lambda q, day: _citation(engine, q),  # it has no as-of day
    }
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in systems}
    for q, day in questions:
        for name in systems:
            rows[name].append({"question": q, **runs[name](q, day)})
    return {name: _summary(r) for name, r in rows.items()}, rows


def _news(
    settings: Settings, data: Path, n: int, others: int, seed: int
) -> tuple[Pipeline, list[tuple[str, str | None]]]:
    """RealTimeQA: n fixed-seed questions over their gold articles and `others` pool articles."""
    from rag.eval.bench.retrieval import cached_pipeline, load_dataset, sample, sample_corpus

    docs, qs, fingerprint = load_dataset("realtimeqa", data, None)
    qs = sample(qs, n, seed)
    docs = sample_corpus(docs, qs, others, seed)
    name = f"realtimeqa-sample{others}"
    pipe = cached_pipeline(name, docs, f"{fingerprint}-sample{others}-{seed}", settings)
    return pipe, [(q.text, q.as_of) for q in qs]


def _print(systems: dict[str, Any]) -> None:
    for name, s in systems.items():
        print(
            f"{name:<20} answer p50 {s['answer_ms']['p50']} ms, p95 {s['answer_ms']['p95']} ms; "
            f"first token p50 {s['first_token_ms']['p50']} ms, p95 {s['first_token_ms']['p95']} ms"
        )
        for key, v in s["stages"].items():
            print(f"    {key:<24} p50 {v['p50']}, p95 {v['p95']}")


def run_latency_bench(
    settings: Settings,
    corpus: Path | None = None,
    questions: list[str] | None = None,
    users: int = 0,
    systems: tuple[str, ...] = ("ours", "prompt_only", "llamaindex_citation"),
    news: int = 0,
    news_corpus: int = 190,
    seed: int = 5,
) -> dict[str, Any]:
    qs = [(q, None) for q in questions or DEFAULT_QUESTIONS]
    tmp = Path(tempfile.mkdtemp(prefix="newsrag-latency-"))
    try:
        pipe = Pipeline(settings.with_overrides(index_dir=tmp / "index"))
        pipe.ingest([corpus or PROJECT_ROOT / "corpus"])
        pipe.warm()
        figures, rows = compare(pipe, qs, systems)
        record: dict[str, Any] = {
            "bench": "latency",
            "corpus": str(corpus or "bundled"),
            "llm": pipe.llm.name,
            "prompt_cache_mb": settings.llm_prompt_cache_mb,
            "systems": figures,
            "questions": rows,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if news:
        del pipe  # one local model in memory at a time
        news_pipe, news_qs = _news(settings, settings.data, news, news_corpus, seed)
        news_pipe.warm()
        figures, rows = compare(news_pipe, news_qs, systems)
        record["news"] = {
            "corpus": len(news_pipe.index.documents),
            "seed": seed,
            "systems": figures,
            "questions": rows,
        }
    if users:
        from rag.eval.bench.users import run_users_bench

        load = run_users_bench(settings, users=users, writers=0, requests=1, corpus=corpus)["load"]
        ask = load["by_kind"].get("ask", {})
        record["users"] = {
            "n": users,
            "p50_ms": round(ask.get("p50_s", 0) * 1000, 1),
            "p95_ms": round(ask.get("p95_s", 0) * 1000, 1),
            "errors": load["errors"],
        }
    for part in (record, record.get("news")):
        if part:
            where = f"{part['corpus']} articles" if part is record.get("news") else "bundled"
            print(f"-- {where}")
            _print(part["systems"])
    if "users" in record:
        u = record["users"]
        print(
            f"{u['n']} users at once: p50 {u['p50_ms']} ms, p95 {u['p95_ms']} ms, "
            f"errors {u['errors']}"
        )
    return record
