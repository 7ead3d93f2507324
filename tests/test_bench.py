"""Benchmark metrics on hand-made cases, and a small real retrieval bench run."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.eval.bench.checker import auc, metrics
from rag.eval.bench.ingest import run_ingest_bench
from rag.eval.bench.refusal import _judge, normalize, stratified, token_f1
from rag.eval.bench.retrieval import (
    Question,
    bootstrap,
    paired_interval,
    run_retrieval_bench,
    sample_corpus,
    score,
    week_split,
)
from rag.load import make_document
from rag.settings import Settings
from rag.train.pairs import sentence_labels, sentence_spans, worst_label
from tests.conftest import data_dir, need_data


def _cache_with_models(tmp_path: Path) -> Path:
    """A fresh cache (benchmark indexes land in it) sharing the set-up models (no re-export)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "models").symlink_to(Settings().cache_dir / "models", target_is_directory=True)
    return cache


def _q(gold: set[str]) -> Question:
    return Question("q", "?", frozenset(gold), None)


def test_news_recall_and_mrr() -> None:
    ranked = [["a", "b", "g1"], ["g2", "x"], ["x", "y"]]
    qs = [_q({"g1"}), _q({"g2"}), _q({"g3"})]
    m = score(ranked, qs, "realtimeqa")
    assert m["recall@1"] == round(1 / 3, 4)
    assert m["recall@5"] == round(2 / 3, 4)
    assert m["mrr@10"] == round((1 / 3 + 1) / 3, 4)


def test_multihop_recall_and_all_gold() -> None:
    ranked = [["p1", "x", "p2"], ["p3", "y"]]
    qs = [_q({"p1", "p2"}), _q({"p3", "p4"})]
    m = score(ranked, qs, "hotpotqa")
    assert m["recall@2"] == round((0.5 + 0.5) / 2, 4)
    assert m["recall@5"] == round((1.0 + 0.5) / 2, 4)
    assert m["all_gold@10"] == 0.5


def test_corpus_sample_keeps_every_gold_document() -> None:
    docs = [make_document(f"Article number {i} text.", path=f"{i}.txt") for i in range(50)]
    qs = [_q({docs[3].id, docs[7].id}), _q({docs[40].id})]
    picked = sample_corpus(docs, qs, 10, seed=1)
    ids = {d.id for d in picked}
    assert {docs[3].id, docs[7].id, docs[40].id} <= ids and len(ids) == 13
    assert [d.id for d in sample_corpus(docs, qs, 10, seed=1)] == [d.id for d in picked]


def test_week_split_is_by_release_date() -> None:
    weeks = ["20220617", "20220624", "20220701", "20220708"]
    qs = [Question(f"{w}_{i}", "?", frozenset({"g"}), None) for w in weeks for i in range(2)]
    early = week_split(qs, "tune", tune_weeks=3)
    late = week_split(qs, "validate", tune_weeks=3)
    assert {q.id[:8] for q in early} == set(weeks[:3]) and {q.id[:8] for q in late} == {weeks[3]}
    assert len(early) + len(late) == len(qs) and week_split(qs, "all") == qs
    with pytest.raises(ValueError):
        week_split(qs, "later")


def test_bootstrap_intervals_hold_the_score() -> None:
    qs = [_q({"g"}) for _ in range(40)]
    ranked = [["g"] if i % 4 else ["x"] for i in range(40)]  # 30 of 40 found at rank 1
    ci = bootstrap(ranked, qs, "realtimeqa", n=300)
    low, high = ci["recall@5"]
    assert low < 0.75 < high and low > 0.5 and high <= 1.0
    same = paired_interval(ranked, ranked, qs, n=100)
    assert same["mrr@10"] == [0.0, 0.0]
    better = paired_interval([["g"]] * 40, ranked, qs, n=300)
    assert better["recall@5"][0] > 0  # finding all 40 beats finding 30, on every resample


def test_balanced_accuracy() -> None:
    m = metrics([True, True, False, False], [True, False, False, False])
    assert m["balanced_accuracy"] == round(100 * (1.0 + 2 / 3) / 2, 2)
    assert m["precision"] == 0.5 and m["flagged_unsupported"] == 1.0
    assert m["accepted_supported"] == round(2 / 3, 4)


def test_auc_of_flagging_by_low_support() -> None:
    # unsupported items should score low: 0.1 and 0.5 against supported 0.4 and 0.9
    # pairs (unsupported < supported): 0.1<0.4, 0.1<0.9, 0.5<0.9 yes; 0.5<0.4 no -> 3/4
    assert auc([0.1, 0.5, 0.4, 0.9], [True, True, False, False]) == 0.75
    assert auc([0.3, 0.3], [True, False]) == 0.5  # a tie counts half
    assert auc([0.2, 0.8], [False, True]) == 0.0
    assert auc([0.2], [True]) is None


def test_faithbench_worst_label() -> None:
    s = {"annotations": [{"label": ["Benign"]}, {"label": ["Unwanted", "Unwanted.Extrinsic"]}]}
    assert worst_label(s) == "Unwanted"
    assert worst_label({"annotations": []}) == "Consistent"


def test_faithbench_sentence_labels_from_unwanted_spans() -> None:
    summary = "The council met on Monday. It approved a budget of 5 million."
    second = summary.index("It approved")
    budget = summary.index("5 million")

    def span(label: str, start: int, end: int) -> dict[str, object]:
        return {"label": [label], "summary_start": start, "summary_end": end}

    sample = {
        "summary": summary,
        "annotations": [
            span("Unwanted", budget, budget + 9),
            span("Questionable", 4, second + 2),  # overlaps both sentences: does not count
        ],
    }
    texts = ["The council met on Monday.", "It approved a budget of 5 million."]
    assert sentence_spans(summary, texts) == [(0, second - 1), (second, len(summary))]
    # 0 = unsupported (an Unwanted span); the other sentence of that sample is left out (None):
    # its annotators may have marked one error of several
    assert sentence_labels(sample, texts) == [None, 0]
    sample["annotations"] = sample["annotations"][1:]
    assert sentence_labels(sample, texts) == [None, None]  # Questionable: left out
    sample["annotations"] = [span("Benign", 4, 8)]
    assert sentence_labels(sample, texts) == [1, 1]
    # a dropped preamble ("The passage states that") still places the sentence
    lead = "The passage states that it rained."
    assert sentence_spans(lead, ["It rained."]) == [(0, len(lead))]


def test_squad_scoring() -> None:
    assert normalize("The  U.S. Army!") == "us army"
    assert token_f1("in the 10th century", "10th century") == pytest.approx(0.8)
    assert _judge("It was France, in 911.", False, ["France"]) == (True, pytest.approx(1 / 3))
    assert _judge("anything", True, ["France"]) == (False, 0.0)
    qs = [{"id": str(i), "is_impossible": i % 3 == 0} for i in range(30)]
    picked = stratified(qs, 10, 1)
    assert len(picked) == 10 and sum(q["is_impossible"] for q in picked) == 5
    assert picked == stratified(qs, 10, 1)


@pytest.mark.data
def test_small_retrieval_bench_run(tmp_path: Path) -> None:
    need_data("hipporag_train_multihop/corpus.jsonl")
    settings = Settings(cache_dir=_cache_with_models(tmp_path), llm_backend="extractive")
    record = run_retrieval_bench(settings, "hotpotqa", data_dir(), limit=8, ablations=False)
    assert record["n_questions"] == 8
    assert set(record["systems"]) == {"bm25", "dense", "llamaindex", "ours"}
    for m in record["systems"].values():
        assert 0.0 <= m["recall@2"] <= m["recall@5"] <= m["recall@10"] <= 1.0
        assert m["p50_ms"] > 0
    assert record["systems"]["ours"]["recall@10"] > 0.5


@pytest.mark.data
def test_small_ingest_bench_run() -> None:
    need_data("realtimeqa_news/articles_pool.jsonl.gz")
    settings = Settings(llm_backend="extractive")
    record = run_ingest_bench(settings, data_dir(), articles=3, variants=["ours_onnx_fp32"])
    ref, ours = record["variants"]["sentence_transformers_1t"], record["variants"]["ours_onnx_fp32"]
    assert record["articles"] == 3 and ours["articles"] == 3
    assert ours["chunks"] == ref["chunks"] > 3
    assert ours["cosine_to_reference"]["min"] > 0.9999  # the same vectors
    assert ours["chunks_per_s"] > 0 and ours["peak_rss_mb"] > 50 and ref["x_reference"] == 1.0


def _tiny_realtimeqa(root: Path) -> Path:
    """Hand-written articles and quiz questions in RealTimeQA's format, over 13 weekly releases
    (11 to tune on, 2 to validate)."""
    import gzip
    import json

    topics = [
        ("Volcano erupts in Iceland", "Lava from the Reykjanes volcano reached the town."),
        ("Court rules on water rights", "The supreme court gave the river's water to farmers."),
        ("Strike closes ports", "Dock workers on the east coast stopped work for a week."),
        ("New prime minister in Italy", "Parliament chose a new prime minister on Tuesday."),
        ("Heat wave in India", "Temperatures passed 47 degrees in Delhi this week."),
        ("Rocket lands on the Moon", "A private lander touched down near the south pole."),
    ]
    folder = root / "realtimeqa_news"
    folder.mkdir(parents=True)
    with gzip.open(folder / "articles_pool.jsonl.gz", "wt") as f:
        for i, (title, body) in enumerate(topics):
            rec = {
                "doc_id": f"rtqa_{i}",
                "title": title,
                "text": body * 3,
                "publish_date": f"2022/06/{10 + i}",
            }
            f.write(json.dumps(rec) + "\n")
    weeks = [
        f"2022{m:02d}{d:02d}"
        for m, d in [
            (6, 17),
            (6, 24),
            (7, 1),
            (7, 8),
            (7, 15),
            (7, 22),
            (7, 29),
            (8, 5),
            (8, 12),
            (8, 19),
            (8, 26),
            (9, 2),
            (9, 9),
        ]
    ]
    questions = [
        "Where did lava reach a town?",
        "Who got the river's water?",
        "Which workers stopped work?",
        "Who chose a new prime minister?",
        "Where did temperatures pass 47 degrees?",
        "Where did a private lander touch down?",
    ]
    with (folder / "questions.jsonl").open("w") as f:
        for n, week in enumerate(weeks):
            i = n % len(topics)
            f.write(
                json.dumps(
                    {
                        "question_id": f"{week}_0",
                        "question_sentence": questions[i],
                        "question_date": f"{week[:4]}/{week[4:6]}/{week[6:]}",
                        "gold_doc_ids": [f"rtqa_{i}"],
                    }
                )
                + "\n"
            )
    return root


def test_tune_retrieval_reports_both_parts(tmp_path: Path) -> None:
    from rag.eval.bench.retrieval import tune_retrieval

    data = _tiny_realtimeqa(tmp_path / "data")
    settings = Settings(cache_dir=_cache_with_models(tmp_path), llm_backend="extractive")
    r = tune_retrieval(settings, data, rounds=1)
    assert (r["n_tune"], r["n_validate"]) == (11, 2)
    for label in ("before", "tuned", "simplest"):
        assert 0.0 <= r[label]["validate"]["mrr@10"] <= r[label]["validate"]["recall@5"] <= 1.0
        assert set(r[label]["validate"]["ci95"]) >= {"recall@5", "mrr@10"}
    assert r["simplest"]["knobs"]["recency_weight"] == 0.0 and r["trail"]
    assert r["tuned"]["tune"]["recall@5"] >= r["before"]["tune"]["recall@5"] - 1e-9


def test_tune_and_validate_weeks_search_one_corpus(tmp_path: Path) -> None:
    data = _tiny_realtimeqa(tmp_path / "data")
    settings = Settings(cache_dir=_cache_with_models(tmp_path), llm_backend="extractive")
    runs = [
        run_retrieval_bench(
            settings, "realtimeqa", data, ablations=False, corpus_sample=2, weeks=weeks
        )
        for weeks in ("tune", "validate")
    ]
    assert [r["n_questions"] for r in runs] == [11, 2]
    assert runs[0]["corpus"] == runs[1]["corpus"]  # the same documents, the same index
    assert runs[0]["corpus"]["documents"] == 6  # every question's gold (all 6 here)


def test_latency_bench_record_holds_the_compared_figures() -> None:
    """The record's shape is what later runs are compared by (the extractive backend here: the
    CitationQueryEngine peer needs the local model, the slow runs measure it)."""
    from rag.eval.bench.latency import run_latency_bench

    qs = ["Who manufactures the Patriot missiles in Japan?", "Who is the prime minister of Japan?"]
    r = run_latency_bench(
        Settings(llm_backend="extractive"), questions=qs, systems=("ours", "prompt_only")
    )
    for name in ("ours", "prompt_only"):
        s = r["systems"][name]
        assert s["n"] == 2 and s["answer_ms"]["p50"] > 0
        assert s["answer_ms"]["p50"] <= s["answer_ms"]["p95"]
        assert s["first_token_ms"]["p50"] is not None
    stages = r["systems"]["ours"]["stages"]
    assert {"retrieve_ms", "gate_ms", "ground_ms"} <= set(stages)
    [refused] = [q for q in r["questions"]["ours"] if q["question"] == qs[1]]
    assert refused["refused"]


def test_store_comparison_runs_ours_on_faiss_and_milvus(tmp_path: Path) -> None:
    """`bench retrieval --store milvus:...`: the cached FAISS index copied to Milvus (nothing
    embedded again), ours on both over the same questions, and an ingest into each."""
    pytest.importorskip("milvus_lite", reason="milvus-lite is not installed (newsrag[milvus])")
    from rag.eval.bench.retrieval import run_store_comparison

    data = _tiny_realtimeqa(tmp_path / "data")
    settings = Settings(
        cache_dir=_cache_with_models(tmp_path),
        llm_backend="extractive",
        vector_store=f"milvus:{tmp_path / 'm.db'}",
    )
    r = run_store_comparison(settings, "realtimeqa", data, None, None, 13, None, "all", 3)
    assert r["migrate"]["ok"] and r["migrate"]["documents"] == 6
    assert set(r["systems"]) == {"ours_faiss", "ours_milvus"}
    assert r["n_questions"] == 13
    for name in ("faiss", "milvus"):
        assert r["ingest"][name]["articles"] == 3 and r["ingest"][name]["chunks_per_s"] > 0
    # six distinct one-topic articles: both stores find every gold article first
    assert r["systems"]["ours_faiss"]["recall@1"] == r["systems"]["ours_milvus"]["recall@1"] == 1.0
    assert set(r["difference"]) >= {"recall@5", "mrr@10"}


def test_scale_bench_measures_the_milvus_path(tmp_path: Path) -> None:
    pytest.importorskip("milvus_lite", reason="milvus-lite is not installed (newsrag[milvus])")
    from rag.eval.bench.scale import run_scale_bench

    r = run_scale_bench(tmp_path, 3000, 20, ("flat",), milvus=f"milvus:{tmp_path / 's.db'}")
    idx = r["indexes"]
    assert set(idx) == {"flat", "milvus-FLAT", "milvus-HNSW"}
    assert idx["milvus-FLAT"]["recall@10_vs_flat"] == 1.0  # exact, as FAISS flat
    assert idx["milvus-HNSW"]["recall@10_vs_flat"] >= 0.9
    assert idx["milvus-HNSW"]["p95_ms"] > 0
