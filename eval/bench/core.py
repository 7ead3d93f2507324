"""`newsrag bench`: speed and memory of the whole product path on a corpus (default: bundled).

Measures, in one process and one JSON record: raw embedding speed (passages/s straight through
the embedder) against ingest speed (load + chunk + embed + index + commit), retrieval latency
p50/p95, LLM load time, first-token and total answer time per question, and peak RSS. Answers
(refused or cited) are kept in the record so the figures can be read with what they bought.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rag.settings import PROJECT_ROOT, Settings

DEFAULT_QUESTIONS = [
    "Who manufactures the Patriot missiles in Japan?",
    "How much aid did the US Congress fail to approve for Ukraine?",
    "What is Japan considering exporting to the UK?",
    "By when does Japan plan to double its military spending?",
    "Can the missiles be sent to countries other than the US?",
    "What did Japan's export rules allow before the change?",
    "What is the population of Tokyo?",
    "Who is the prime minister of Japan?",
    "How many Patriot missiles will Japan ship to the US?",
    "What did South Korea say about the decision?",
]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    i = min(len(s) - 1, max(0, round(q * (len(s) - 1))))
    return s[i]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_core_bench(
    settings: Settings, corpus: Path | None = None, questions: Path | None = None
) -> dict[str, Any]:
    from tqdm import tqdm

    from rag.load import expand_paths, load_file
    from rag.pipeline import Pipeline

    corpus = corpus or PROJECT_ROOT / "corpus"
    qs = json.loads(questions.read_text()) if questions else DEFAULT_QUESTIONS
    tmp = Path(tempfile.mkdtemp(prefix="newsrag-bench-"))
    try:
        pipe = Pipeline(settings.with_overrides(index_dir=tmp / "index"))
        t = time.perf_counter()
        pipe.embedder.load()
        dim = pipe.embedder.dim
        embedder_load_s = time.perf_counter() - t

        # raw embedding speed on the corpus's own chunks
        from rag.chunk import chunk_document

        docs = [d for p in expand_paths([corpus]) for d in load_file(p)]
        chunks = [
            c
            for d in docs
            for c in chunk_document(d, pipe.embedder.count_tokens, settings.chunk_tokens)
        ]
        texts = [c.text for c in chunks] * max(1, 64 // max(1, len(chunks)))
        t = time.perf_counter()
        pipe.embedder.embed(texts)
        raw_pps = len(texts) / (time.perf_counter() - t)

        t = time.perf_counter()
        report = pipe.ingest([corpus])
        ingest_s = time.perf_counter() - t
        ingest_pps = report.chunks / ingest_s if ingest_s else float("nan")

        retrieve_ms = []
        for q in qs * 5:
            t = time.perf_counter()
            pipe.retrieve(q)
            retrieve_ms.append((time.perf_counter() - t) * 1000)

        from rag.llm import ChatMessage

        t = time.perf_counter()
        pipe.llm.complete([ChatMessage(role="user", content="Say OK.")], 2)
        llm_load_s = time.perf_counter() - t

        answers = []
        for q in tqdm(qs, desc="questions", unit="q"):
            a = pipe.ask(q)
            answers.append(
                {
                    "question": q,
                    "answer": a.text,
                    "refused": a.refused,
                    "refusal_reason": a.refusal_reason,
                    "sentences": [
                        {
                            "text": s.text,
                            "supported": s.supported,
                            "support": round(s.support, 3),
                            "quotes": [c.quote for c in s.citations],
                            "reason": s.reason,
                        }
                        for s in a.sentences
                    ],
                    "draft": a.draft,
                    "timings": {k: round(v, 1) for k, v in a.timings.items()},
                }
            )
        first = [a["timings"]["first_token_ms"] for a in answers if not a["refused"] or a["draft"]]
        total = [a["timings"]["total_ms"] for a in answers]
        record = {
            "bench": "core",
            "corpus": str(corpus),
            "documents": len(docs),
            "chunks": report.chunks,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "settings": json.loads(settings.model_dump_json()),
            "embedder_load_s": round(embedder_load_s, 2),
            "embedding_dim": dim,
            "raw_embed_passages_per_s": round(raw_pps, 1),
            "ingest_passages_per_s": round(ingest_pps, 1),
            "ingest_s": round(ingest_s, 2),
            "retrieve_ms": {
                "p50": round(statistics.median(retrieve_ms), 2),
                "p95": round(_pct(retrieve_ms, 0.95), 2),
                "n": len(retrieve_ms),
            },
            "llm": pipe.llm.name,
            "llm_load_s": round(llm_load_s, 2),
            "first_token_ms": {
                "p50": round(statistics.median(first), 1) if first else None,
                "max": round(max(first), 1) if first else None,
                "n": len(first),
                "note": "questions that reached the LLM",
            },
            "answer_ms": {"p50": round(statistics.median(total), 1), "max": round(max(total), 1)},
            "refused": sum(a["refused"] for a in answers),
            "answers": answers,
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
        states = getattr(pipe.llm, "states", None)  # rag.llm.states
        if states is not None:
            record["prompt_states"] = {
                "kept": len(states),
                "mb": round(states.bytes / 2**20, 1),
                "prefilled_tokens": states.prefilled,
                "reused_tokens": states.reused,
            }
        print(
            f"retrieval p50 {record['retrieve_ms']['p50']} ms | first token p50 "
            f"{record['first_token_ms']['p50']} ms | answer p50 {record['answer_ms']['p50']} ms "
            f"(max {record['answer_ms']['max']}) | ingest {record['ingest_passages_per_s']} "
            f"passages/s vs raw embed {record['raw_embed_passages_per_s']} | peak RSS "
            f"{record['peak_rss_mb']} MB | refused {record['refused']}/{len(answers)}"
        )
        return record
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
