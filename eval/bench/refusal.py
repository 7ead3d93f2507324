"""`newsrag bench refusal`: answer what the passages support, decline what they do not (SQuAD 2.0).

All paragraphs of ../shared/data/squad2_dev_half are indexed as documents (title = article); each
sampled question goes through the real pipeline. A peer runs side by side on the same sample:
llama-index's CitationQueryEngine with the same local LLM and the same retriever (ours, wrapped),
its refusal read from its text. Both are scored the same way: unanswerables refused, answerables
answered (not refused), answered correctly (a gold answer inside the answer; token F1), and
answers citing the gold paragraph. The sample is stratified (half unanswerable) with a fixed seed.
"""

from __future__ import annotations

import json
import random
import re
import string
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rag.eval.bench.retrieval import cached_pipeline
from rag.load import load_file
from rag.pipeline import Pipeline
from rag.settings import Settings

PEER_REFUSAL = re.compile(
    r"\b(cannot|can't|can not|unable|no information|not (mentioned|provided|stated|specified|"
    r"given|available|clear|enough)|does not (say|mention|provide|state|specify|contain)|"
    r"doesn't (say|mention|provide)|unknown|no (mention|answer)|not possible to)\b",
    re.IGNORECASE,
)


def normalize(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, articles or extra space."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction: str, gold: str) -> float:
    p, g = normalize(prediction).split(), normalize(gold).split()
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if not same:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def stratified(questions: list[dict[str, Any]], limit: int | None, seed: int) -> list[dict]:
    if not limit or limit >= len(questions):
        return questions
    rng = random.Random(seed)
    impossible = [q for q in questions if q["is_impossible"]]
    possible = [q for q in questions if not q["is_impossible"]]
    half = limit // 2
    picked = rng.sample(impossible, half) + rng.sample(possible, limit - half)
    return sorted(picked, key=lambda q: q["id"])


def _score(results: list[dict[str, Any]]) -> dict[str, Any]:
    un = [r for r in results if r["unanswerable"]]
    an = [r for r in results if not r["unanswerable"]]
    answered = [r for r in an if not r["refused"]]
    return {
        "unanswerable_refused": round(sum(r["refused"] for r in un) / max(1, len(un)), 4),
        "answerable_answered": round(len(answered) / max(1, len(an)), 4),
        "answerable_correct": round(sum(r["correct"] for r in an) / max(1, len(an)), 4),
        "answerable_f1": round(sum(r["f1"] for r in an) / max(1, len(an)), 4),
        "citation_on_gold": round(sum(r["cites_gold"] for r in an) / max(1, len(an)), 4),
        "n_unanswerable": len(un),
        "n_answerable": len(an),
        "seconds_per_question": round(sum(r["seconds"] for r in results) / max(1, len(results)), 2),
    }


def configurations(
    rows: list[dict[str, Any]], p_bar: float, odds_bar: float, check_bar: float
) -> dict[str, dict[str, float]]:
    """What each gate setting would give, from one run with every bar open (every gate score
    and answer-check part recorded, nothing refused by them): a case is refused by a setting
    when the rules refused it, or its gate or answer-check score is under that setting's bar.
    `model`/`llm`/`both`/`none` is the answerability judge; `+check` adds the answer check."""

    def fails(r: dict[str, Any], judge: str, check: bool) -> bool:
        p, odds = r.get("answerable_p"), r.get("answerable_logodds")
        gate = {
            "model": p is not None and p < p_bar,
            "llm": odds is not None and odds < odds_bar,
            "none": False,
        }
        gate["both"] = gate["model"] or gate["llm"]
        parts = (r.get("answer_check_gate"), r.get("answer_check_correct"))
        checked = check and None not in parts and sum(parts) < check_bar  # type: ignore[arg-type]
        return gate[judge] or checked

    out = {}
    for judge in ("model", "llm", "both", "none"):
        for check in (False, True):
            redone = [
                r
                | {"refused": r["refused"] or fails(r, judge, check)}
                | {"correct": r["correct"] and not fails(r, judge, check)}
                for r in rows
            ]
            m = _score(redone)
            out[judge + ("+check" if check else "")] = {
                k: m[k]
                for k in ("unanswerable_refused", "answerable_answered", "answerable_correct")
            }
    return out


def default_bars() -> tuple[float, float]:
    """The shipped bars of the LLM gate and the answer check (not the run's opened ones)."""
    f = Settings.model_fields
    return f["answerable_min"].default, f["answer_check_min"].default


def bars_open(s: Settings) -> bool:
    """Both judges and the answer check recorded for every case, none of them refusing: the
    run `configurations` can replay every setting from."""
    return (
        s.answerable_judge == "both"
        and s.answer_check_min <= -50
        and s.answerable_min <= -50
        and s.answerable_model_min is not None
        and s.answerable_model_min <= 0
    )


def gate_auc(rows: list[dict[str, Any]], key: str) -> float | None:
    """How well one recorded gate score ranks answerables above unanswerables."""
    from sklearn.metrics import roc_auc_score

    kept = [r for r in rows if r.get(key) is not None]
    gold = [not r["unanswerable"] for r in kept]
    if len(set(gold)) < 2:
        return None
    return round(float(roc_auc_score(gold, [r[key] for r in kept])), 4)


def _judge(answer: str, refused: bool, golds: list[str]) -> tuple[bool, float]:
    if refused or not golds:
        return False, 0.0
    norm = normalize(answer)
    correct = any(normalize(g) and normalize(g) in norm for g in golds)
    return correct, max(token_f1(answer, g) for g in golds)


def same_retriever(pipe: Pipeline) -> Any:
    """A llama-index retriever that returns our retriever's hits: peers read what we read."""
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    class _Same(BaseRetriever):
        def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
            hits = pipe.retrieve(query_bundle.query_str)
            return [
                NodeWithScore(
                    node=TextNode(
                        text=h.chunk.text, id_=h.chunk.id, metadata={"doc_id": h.chunk.doc_id}
                    ),
                    score=h.score,
                )
                for h in hits
            ]

    return _Same()


def _peer(pipe: Pipeline) -> Any:
    """llama-index CitationQueryEngine over our retriever and our local LLM."""
    from llama_index.core.query_engine import CitationQueryEngine

    llm = pipe.llm.llama_index_llm  # type: ignore[attr-defined]
    llm.generate_kwargs["max_tokens"] = pipe.settings.llm_max_tokens
    return CitationQueryEngine(retriever=same_retriever(pipe), llm=llm, citation_chunk_size=1024)


def news_answers(
    settings: Settings, data: Path, limit: int, seed: int, corpus_sample: int | None = None
) -> dict[str, Any]:
    """RealTimeQA questions with gold articles, asked over the 3,764-article pool as of their
    quiz date: every one is answerable, so refusals here are what a check costs on news.

    Correct = the quiz's answer text (quotes and punctuation normalised) inside the answer; for
    a refused question the supported draft is scored too, to show what a refusal gave away.
    """
    from tqdm import tqdm

    from rag.eval.bench.retrieval import load_dataset, sample, sample_corpus

    docs, qs, fingerprint = load_dataset("realtimeqa", data, None)
    qs = sample(qs, limit, seed)
    name = "realtimeqa"
    if corpus_sample:  # the gold articles and a fixed sample of the rest: minutes to index
        docs = sample_corpus(docs, qs, corpus_sample, seed)
        fingerprint, name = (
            f"{fingerprint}-sample{corpus_sample}-{seed}",
            f"realtimeqa-sample{corpus_sample}",
        )
    raw = {
        str(r["question_id"]): r
        for r in map(json.loads, (data / "realtimeqa_news" / "questions.jsonl").open())
    }
    pipe = cached_pipeline(name, docs, fingerprint, settings)
    rows = []
    for q in tqdm(qs, desc="news", unit="q"):
        golds = [g.strip("“”\"' ") for g in raw[q.id].get("answer_text") or []]
        t = time.perf_counter()
        a = pipe.ask(q.text, as_of=q.as_of)
        supported = " ".join(x.text for x in a.sentences if x.supported)
        rows.append(
            {
                "id": q.id,
                "question": q.text,
                "refused": a.refused,
                "reason": a.refusal_reason,
                "correct": _judge(a.text, a.refused, golds)[0],
                "f1": round(_judge(a.text, a.refused, golds)[1], 4),
                "supported_draft_correct": _judge(supported, False, golds)[0],
                "cites_gold": any(c.doc_id in q.gold for c in a.citations) and not a.refused,
                "answerable_logodds": a.timings.get("answerable_logodds"),
                "answerable_p": a.timings.get("answerable_p"),
                "answer_check_logodds": a.timings.get("answer_check_logodds"),
                "answer_check_gate": a.timings.get("answer_check_gate"),
                "answer_check_correct": a.timings.get("answer_check_correct"),
                "unanswerable": False,
                "seconds": round(time.perf_counter() - t, 2),
            }
        )
    n = max(1, len(rows))
    by_check = [r for r in rows if r["refused"] and "does not confirm" in r["reason"]]
    out = {
        "n": len(rows),
        "corpus": len(docs),
        "answered": round(sum(not r["refused"] for r in rows) / n, 4),
        "correct": round(sum(r["correct"] for r in rows) / n, 4),
        "cites_gold": round(sum(r["cites_gold"] for r in rows) / n, 4),
        "refused_by_answer_check": round(len(by_check) / n, 4),
        "correct_drafts_refused_by_answer_check": sum(
            r["supported_draft_correct"] for r in by_check
        ),
        "seconds_per_question": round(sum(r["seconds"] for r in rows) / n, 2),
        "cases": rows,
    }
    s = pipe.settings
    if bars_open(s):
        figs = configurations(rows, pipe.answerable_model.threshold, *default_bars())
        out["configurations"] = {
            k: {
                "refused": round(1 - v["answerable_answered"], 4),
                "correct": v["answerable_correct"],
            }
            for k, v in figs.items()
        }
        for name, m in out["configurations"].items():
            print(f"  news {name:12} {m}")
    print(
        f"news   answered {out['answered']:.2f} correct {out['correct']:.2f} cites gold "
        f"{out['cites_gold']:.2f} | refused by the answer check "
        f"{out['refused_by_answer_check']:.2f} ({out['correct_drafts_refused_by_answer_check']} "
        "of them correct drafts)"
    )
    return out


def run_refusal_bench(
    settings: Settings,
    data: Path,
    questions: Path | None = None,
    limit: int | None = 40,
    seed: int = 7,
    peer: bool = True,
    news: int = 0,
    articles: str = "test",
    news_corpus: int | None = None,
) -> dict[str, Any]:
    """`articles`: the SQuAD 2.0 articles the sample is drawn from: "test" (default: the
    three the answerability model never saw, rag.train.answerable), "validation" or "all"."""
    from tqdm import tqdm

    para_file = data / "squad2_dev_half" / "paragraphs.jsonl"
    docs = load_file(para_file)
    ext2doc = {d.path.rsplit("#", 1)[-1]: d.id for d in docs}
    qfile = questions or data / "squad2_dev_half" / "questions.jsonl"
    qs = [json.loads(x) for x in qfile.read_text(encoding="utf-8").splitlines() if x.strip()]
    if articles != "all":
        from rag.train.answerable import article_splits

        split_of = article_splits([q["title"] for q in qs])
        qs = [q for q in qs if split_of[q["title"]] == articles]
    qs = stratified(qs, limit, seed)
    fingerprint = str(para_file.stat().st_size)
    pipe = cached_pipeline("squad2", docs, fingerprint, settings)

    systems: dict[str, list[dict[str, Any]]] = {"ours": []}
    engine = _peer(pipe) if peer else None
    if engine is not None:
        systems["peer"] = []
    for q in tqdm(qs, desc="refusal", unit="q"):
        golds = [a["text"] for a in q.get("answers") or []]
        gold_doc = ext2doc.get(q["paragraph_id"])
        t = time.perf_counter()
        a = pipe.ask(q["question"])
        correct, f1 = _judge(a.text, a.refused, golds)
        systems["ours"].append(
            {
                "id": q["id"],
                "unanswerable": bool(q["is_impossible"]),
                "refused": a.refused,
                "answer": a.text,
                "draft": a.draft,
                "reason": a.refusal_reason,
                "answerable_logodds": a.timings.get("answerable_logodds"),
                "answerable_p": a.timings.get("answerable_p"),
                "answer_check_logodds": a.timings.get("answer_check_logodds"),
                "answer_check_gate": a.timings.get("answer_check_gate"),
                "answer_check_correct": a.timings.get("answer_check_correct"),
                "quotes": [c.quote for c in a.citations],
                "correct": correct,
                "f1": round(f1, 4),
                "cites_gold": (not a.refused) and any(c.doc_id == gold_doc for c in a.citations),
                "seconds": round(time.perf_counter() - t, 2),
            }
        )
        if engine is not None:
            t = time.perf_counter()
            r = engine.query(q["question"])
            text = str(r.response or "").strip()
            refused = not text or bool(PEER_REFUSAL.search(text))
            correct, f1 = _judge(text, refused, golds)
            # "[n]" marks point at r.source_nodes (numbered from 1), as our citations do
            marks = {int(m) for m in re.findall(r"\[(\d+)\]", text)}
            cited = {
                r.source_nodes[m - 1].node.metadata.get("doc_id")
                for m in marks
                if 0 < m <= len(r.source_nodes)
            }
            systems["peer"].append(
                {
                    "id": q["id"],
                    "unanswerable": bool(q["is_impossible"]),
                    "refused": refused,
                    "answer": text,
                    "correct": correct,
                    "f1": round(f1, 4),
                    "cites_gold": (not refused) and gold_doc in cited,
                    "seconds": round(time.perf_counter() - t, 2),
                }
            )
    record = {
        "bench": "refusal",
        "dataset": "squad2_dev_half",
        "n": len(qs),
        "seed": seed,
        "articles": articles,
        "systems": {name: _score(rows) for name, rows in systems.items()},
        "peer": "llama-index CitationQueryEngine, same local LLM and retriever; refusal read "
        "from its text",
        "settings": {
            k: getattr(pipe.settings, k)
            for k in (
                "top_k",
                "evidence_sentences",
                "evidence_chars",
                "support_threshold",
                "refuse_min_dense",
                "refuse_min_coverage",
                "answerable_gate",
                "answerable_judge",
                "answerable_model_min",
                "answerable_min",
                "answer_check",
                "answer_check_min",
                "link_weight",
                "llm_model",
            )
        },
        "cases": systems,
    }
    s = pipe.settings
    open_bars = bars_open(s)
    record["gate_auc"] = {
        k: gate_auc(systems["ours"], k) for k in ("answerable_p", "answerable_logodds")
    }
    if open_bars:
        p_bar = pipe.answerable_model.threshold
        record["configurations"] = {
            "bars": {
                "answerable_model_min": p_bar,
                "answerable_min": default_bars()[0],
                "answer_check_min": default_bars()[1],
            },
            "figures": configurations(systems["ours"], p_bar, *default_bars()),
        }
        for name, m in record["configurations"]["figures"].items():
            print(f"  {name:12} {m}")
    if news:
        record["news"] = news_answers(settings, data, news, seed, news_corpus)
    for name, m in record["systems"].items():
        print(
            f"{name:6} unanswerable refused {m['unanswerable_refused']:.2f} | answerable "
            f"answered {m['answerable_answered']:.2f} correct {m['answerable_correct']:.2f} "
            f"F1 {m['answerable_f1']:.2f} | cites gold {m['citation_on_gold']:.2f} | "
            f"{m['seconds_per_question']} s/q"
        )
    return record
