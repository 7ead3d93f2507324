"""`newsrag bench retrieval`: news and multi-hop retrieval, ours against peers on the same chunks.

Datasets (read by path from NEWSRAG_DATA):
  realtimeqa  the 3,764-article RealTimeQA pool; each question with gold articles is asked as of
              its quiz date (later articles unseen, by every system); article-level Recall@k and
              MRR@10, a hit being a chunk of a gold article.
  musique, hotpotqa  the HippoRAG passage corpora; Recall@2/5/10 of gold passages and the share
              of questions with all gold passages in the top 10.
Systems, all over the same chunks of one cached index: BM25 alone (bm25s), dense alone (MiniLM
on FAISS), llama-index's default VectorStoreIndex retriever (given the same vectors, so only the
retriever differs) and ours (fusion, recency, diversity, query understanding). Ablations switch
one part of ours off at a time.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.load import load_file
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.types import Document, Filters

DATASETS = ("realtimeqa", "musique", "hotpotqa")
KS = {"realtimeqa": (1, 5, 10, 20), "musique": (2, 5, 10), "hotpotqa": (2, 5, 10)}


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    gold: frozenset[str]  # our document ids
    as_of: str | None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        return [json.loads(line) for line in f if line.strip()]


def load_dataset(
    name: str, data: Path, questions: Path | None
) -> tuple[list[Document], list[Question], str]:
    """Documents, questions (gold mapped to our content-hash ids) and a corpus fingerprint."""
    if name == "realtimeqa":
        corpus = data / "realtimeqa_news" / "articles_pool.jsonl.gz"
        qfile = questions or data / "realtimeqa_news" / "questions.jsonl"
        docs = load_file(corpus)
    elif name in ("musique", "hotpotqa"):
        corpus = data / "hipporag_train_multihop" / "corpus.jsonl"
        qfile = questions or data / "hipporag_train_multihop" / "queries.jsonl"
        docs = [d for d in load_file(corpus) if d.path.rsplit("#", 1)[-1].startswith(name + "_")]
    else:
        raise ValueError(f"unknown dataset {name!r} (use {', '.join(DATASETS)})")
    ext2doc = {d.path.rsplit("#", 1)[-1]: d.id for d in docs}
    qs = []
    for r in _read_jsonl(qfile):
        if name != "realtimeqa" and r.get("dataset") != name:
            continue
        gold = frozenset(ext2doc[g] for g in r.get("gold_doc_ids") or [] if g in ext2doc)
        if not gold:
            continue
        text = r.get("question_sentence") or r["question"]
        as_of = r.get("question_date", "").replace("/", "-") or None
        qs.append(Question(str(r.get("question_id") or r["id"]), text, gold, as_of))
    fingerprint = hashlib.sha256(corpus.read_bytes()).hexdigest()[:12]
    return docs, qs, fingerprint


def sample(qs: list[Question], limit: int | None, seed: int) -> list[Question]:
    if not limit or limit >= len(qs):
        return qs
    return sorted(random.Random(seed).sample(qs, limit), key=lambda q: q.id)


def cached_pipeline(
    name: str, docs: list[Document], fingerprint: str, settings: Settings
) -> Pipeline:
    """A pipeline over the dataset's index, built once per corpus and index settings."""
    # the documents themselves are in the key: two samples never share (and grow) one index
    ids = "".join(sorted({d.id for d in docs}))
    key = hashlib.sha256(
        (fingerprint + name + ids + json.dumps(settings.index_fields(), sort_keys=True)).encode()
    ).hexdigest()[:10]
    index_dir = Path(settings.cache_dir) / "bench" / f"{name}-{key}"
    pipe = Pipeline(settings.with_overrides(index_dir=index_dir))
    if len(pipe.index.documents) < len({d.id for d in docs}):
        from tqdm import tqdm

        bar = tqdm(total=0, unit="chunk", desc=f"index {name}")

        def progress(done: int, total: int, _: str) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        pipe.ingest_documents(docs, progress)
        bar.close()
    return pipe


Ranker = Callable[[Question], list[str]]  # doc id of each ranked chunk, best first


def _filters(q: Question, use_asof: bool) -> Filters:
    return Filters(date_to=q.as_of) if (use_asof and q.as_of) else Filters()


def make_rankers(pipe: Pipeline, depth: int, use_asof: bool) -> dict[str, Ranker]:
    index = pipe.index
    emb = pipe.embedder
    index.refresh_lexical()

    def bm25(q: Question) -> list[str]:
        rows = index.lexical.search(q.text, depth, index.allowed_rows(_filters(q, use_asof)))
        return [index.chunks[index.chunk_at[r]].doc_id for r, _ in rows]

    def dense(q: Question) -> list[str]:
        v = emb.embed([q.text])[0]
        rows = index.vectors.search(v, depth, index.allowed_rows(_filters(q, use_asof)))
        return [index.chunks[index.chunk_at[r]].doc_id for r, _ in rows]

    return {
        "bm25": bm25,
        "dense": dense,
        "llamaindex": _llamaindex_ranker(pipe, depth, use_asof),
        "ours": _ours(pipe, depth, use_asof),
    }


def _llamaindex_ranker(pipe: Pipeline, depth: int, use_asof: bool) -> Ranker:
    """llama-index's stock VectorStoreIndex retriever over our chunks and vectors."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

    index = pipe.index
    rows = np.asarray(sorted(index.chunk_at), dtype=np.int64)
    vecs = np.vstack([index.vectors.index.reconstruct(int(r)) for r in rows])
    nodes = []
    for r, v in zip(rows, vecs, strict=True):
        c = index.chunks[index.chunk_at[int(r)]]
        d = index.documents[c.doc_id]
        day = int((d.published_at or "0000-00-00").replace("-", ""))
        nodes.append(
            TextNode(
                text=c.text,
                id_=c.id,
                embedding=v.tolist(),
                metadata={"doc_id": c.doc_id, "title": d.title, "day": day},
            )
        )
    li = VectorStoreIndex(nodes, embed_model=pipe.embedder.as_llama_index(), show_progress=False)

    def run(q: Question) -> list[str]:
        kwargs: dict[str, Any] = {"similarity_top_k": depth}
        if use_asof and q.as_of:
            day = int(q.as_of.replace("-", ""))
            kwargs["filters"] = MetadataFilters(
                filters=[MetadataFilter(key="day", value=day, operator=FilterOperator.LTE)]
            )
        return [n.node.metadata["doc_id"] for n in li.as_retriever(**kwargs).retrieve(q.text)]

    return run


def score(ranked: list[list[str]], qs: list[Question], dataset: str) -> dict[str, float]:
    out: dict[str, float] = {}
    ks = KS[dataset]
    n = len(qs)
    pairs = list(zip(ranked, qs, strict=True))
    for k in ks:
        if dataset == "realtimeqa":
            out[f"recall@{k}"] = sum(bool(set(r[:k]) & q.gold) for r, q in pairs) / n
        else:
            out[f"recall@{k}"] = sum(len(set(r[:k]) & q.gold) / len(q.gold) for r, q in pairs) / n
    if dataset == "realtimeqa":
        mrr = 0.0
        for r, q in pairs:
            for i, d in enumerate(r[:10]):
                if d in q.gold:
                    mrr += 1 / (i + 1)
                    break
        out["mrr@10"] = mrr / n
    else:
        out["all_gold@10"] = sum(q.gold <= set(r[:10]) for r, q in pairs) / n
    return {k: round(v, 4) for k, v in out.items()}


# RealTimeQA's dev questions come in weekly releases: retrieval choices are tuned on the first
# TUNE_WEEKS releases and checked on the later ones (a time split, as new weeks arrive in use)
TUNE_WEEKS = 11
WEEKS = ("all", "tune", "validate")


def week_split(qs: list[Question], weeks: str, tune_weeks: int = TUNE_WEEKS) -> list[Question]:
    """The questions of the first `tune_weeks` releases ("tune"), of the rest ("validate")."""
    if weeks == "all":
        return qs
    if weeks not in WEEKS:
        raise ValueError(f"weeks {weeks!r}: use one of {', '.join(WEEKS)}")
    releases = sorted({q.id.split("_")[0] for q in qs})
    early = set(releases[:tune_weeks])
    return [q for q in qs if (q.id.split("_")[0] in early) == (weeks == "tune")]


def bootstrap(
    ranked: list[list[str]], qs: list[Question], dataset: str, n: int = 1000, seed: int = 0
) -> dict[str, list[float]]:
    """95% percentile intervals of each score over questions resampled with replacement."""

    def one(pick: list[int]) -> dict[str, float]:
        return score([ranked[i] for i in pick], [qs[i] for i in pick], dataset)

    return _resampled(one, len(qs), n, seed)


def _resampled(
    stat: Callable[[list[int]], dict[str, float]], size: int, n: int, seed: int
) -> dict[str, list[float]]:
    """95% percentile interval of each value of `stat` over `n` resamples of the questions."""
    rng = random.Random(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(n):
        for k, v in stat([rng.randrange(size) for _ in range(size)]).items():
            draws.setdefault(k, []).append(v)
    return {
        k: [round(float(np.percentile(v, 2.5)), 4), round(float(np.percentile(v, 97.5)), 4)]
        for k, v in draws.items()
    }


def run_ranker(rank: Ranker, qs: list[Question]) -> tuple[list[list[str]], list[float]]:
    ranked, ms = [], []
    for q in qs:
        t = time.perf_counter()
        ranked.append(rank(q))
        ms.append((time.perf_counter() - t) * 1000)
    return ranked, ms


def evaluate(
    rank: Ranker, qs: list[Question], dataset: str, intervals: bool = False
) -> dict[str, Any]:
    ranked, ms = run_ranker(rank, qs)
    out: dict[str, Any] = dict(score(ranked, qs, dataset))
    out["p50_ms"] = round(statistics.median(ms), 2)
    out["p95_ms"] = round(float(np.percentile(ms, 95)), 2)
    if intervals:
        out["ci95"] = bootstrap(ranked, qs, dataset)
    return out


ABLATIONS = {
    "no_recency": {"recency_weight": 0.0},
    "no_diversity": {"per_doc_max": 0},
    "no_article_evidence": {"article_weight": 0.0},
    "no_title_links": {"link_weight": 0.0},
    "with_second_hop": {"hops": 2},  # off by default: an addition, measured the same way
    "dense_only_fusion": {"lexical_weight": 0.0},
    "bm25_only_fusion": {"dense_weight": 0.0},
}


def sample_corpus(docs: list[Document], qs: list[Question], n: int, seed: int) -> list[Document]:
    """Every gold document plus `n` others drawn with a fixed seed: a smaller corpus on which
    index-defining settings (chunk size, overlap, title) can each be rebuilt in minutes."""
    gold = set().union(*(q.gold for q in qs)) if qs else set()
    others = [d for d in docs if d.id not in gold]
    keep = gold | {d.id for d in random.Random(seed).sample(others, min(n, len(others)))}
    return [d for d in docs if d.id in keep]


def bench_pipeline(
    settings: Settings,
    dataset: str,
    data: Path,
    questions: Path | None,
    corpus_sample: int | None,
    seed: int,
) -> tuple[Pipeline, list[Question], str]:
    """The dataset's cached index, all its questions and the corpus fingerprint. A corpus
    sample is drawn from every question's gold, before any split or limit: tune and validate
    weeks search one corpus."""
    docs, qs, fingerprint = load_dataset(dataset, data, questions)
    name = dataset
    if corpus_sample:
        docs = sample_corpus(docs, qs, corpus_sample, seed)
        fingerprint = f"{fingerprint}-sample{corpus_sample}-{seed}"
        name = f"{dataset}-sample{corpus_sample}"
    return cached_pipeline(name, docs, fingerprint, settings), qs, fingerprint


def run_store_comparison(
    settings: Settings,
    dataset: str,
    data: Path,
    questions: Path | None,
    limit: int | None,
    seed: int,
    corpus_sample: int | None,
    weeks: str,
    ingest_articles: int = 100,
) -> dict[str, Any]:
    """Ours on the local FAISS index and on the Milvus store named by `settings`, same chunks
    and vectors (the cached index copied by `newsrag migrate`, nothing embedded again), same
    questions; and the ingest of `ingest_articles` articles into a fresh index of each."""
    import tempfile

    from rag.migrate import migrate

    shared = settings
    local_settings = settings.with_overrides(vector_store="faiss")
    pipe, qs, fingerprint = bench_pipeline(
        local_settings, dataset, data, questions, corpus_sample, seed
    )
    qs = sample(week_split(qs, weeks) if dataset == "realtimeqa" else qs, limit, seed)
    target = shared.with_overrides(collection=f"bench_{Path(pipe.settings.index_dir).name}")
    target = target.with_overrides(collection=target.collection.replace("-", "_"))
    copied = migrate(Path(pipe.settings.index_dir), target, sample=10)
    t = time.perf_counter()
    milvus_pipe = Pipeline(
        pipe.settings.with_overrides(
            vector_store=target.vector_store,
            collection=target.collection,
            milvus_index=target.milvus_index,
        ),
        embedder=pipe.embedder,
    )
    load_s = time.perf_counter() - t
    held = milvus_pipe.index
    mirror = {  # what a fresh app server reads at start, and what each question costs it
        "load_s": round(load_s, 2),
        # the text it holds (RSS differences were lost in the noise of the loaded models)
        "text_mb": round(
            (
                sum(len(d.text) for d in held.documents.values())
                + sum(len(c.text) for c in held.chunks.values())
            )
            / 2**20,
            1,
        ),
    }
    t = time.perf_counter()
    for _ in range(20):
        milvus_pipe.index.refresh()
    mirror["refresh_unchanged_ms"] = round((time.perf_counter() - t) / 20 * 1000, 2)
    depth = max(KS[dataset])
    use_asof = dataset == "realtimeqa"
    systems = {
        "ours_faiss": evaluate(make_rankers(pipe, depth, use_asof)["ours"], qs, dataset, True),
        "ours_milvus": evaluate(_ours(milvus_pipe, depth, use_asof), qs, dataset, True),
    }
    docs, _, _ = load_dataset(dataset, data, questions)
    few = random.Random(seed).sample(docs, min(ingest_articles, len(docs)))
    ingest: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="newsrag-store-bench-") as tmp:
        for name, extra in (
            ("faiss", {"vector_store": "faiss", "index_dir": Path(tmp) / "index"}),
            ("milvus", {"vector_store": shared.vector_store, "collection": "bench_ingest"}),
        ):
            p = Pipeline(pipe.settings.with_overrides(**extra), embedder=pipe.embedder)
            if name == "milvus":
                p.index.drop()  # type: ignore[attr-defined]
                p = Pipeline(pipe.settings.with_overrides(**extra), embedder=pipe.embedder)
            t = time.perf_counter()
            report = p.ingest_documents(few)
            seconds = time.perf_counter() - t
            t = time.perf_counter()
            p.delete(report.added[: max(1, len(report.added) // 10)])
            ingest[name] = {
                "articles": len(report.added),
                "chunks": report.chunks,
                "seconds": round(seconds, 2),
                "chunks_per_s": round(report.chunks / seconds, 2) if seconds else None,
                "delete_10pct_s": round(time.perf_counter() - t, 2),
            }
            if name == "milvus":
                p.index.drop()  # type: ignore[attr-defined]
    record = _head(dataset, weeks, qs, pipe, fingerprint)
    record["corpus"]["milvus"] = (
        f"{target.vector_store} ({target.collection}, {target.milvus_index})"
    )
    record |= {
        "migrate": copied,
        "mirror": mirror,
        "systems": systems,
        "ingest": ingest,
        "difference": {
            k: round(systems["ours_milvus"][k] - systems["ours_faiss"][k], 4)
            for k in systems["ours_faiss"]
            if k.startswith(("recall", "mrr"))
        },
    }
    _print(record)
    print("milvus - faiss:", record["difference"])
    print(
        f"a server's mirror: read in {mirror['load_s']} s, {mirror['text_mb']} MB of text; refresh "
        f"with nothing new {mirror['refresh_unchanged_ms']} ms"
    )
    for name, m in ingest.items():
        print(
            f"ingest {name:7} {m['articles']} articles / {m['chunks']} chunks in "
            f"{m['seconds']} s ({m['chunks_per_s']} chunks/s); delete 10%: {m['delete_10pct_s']} s"
        )
    return record


def _head(
    dataset: str, weeks: str, qs: list[Question], pipe: Pipeline, fingerprint: str
) -> dict[str, Any]:
    """What every retrieval record starts with: the questions asked and the corpus searched."""
    return {
        "dataset": dataset,
        "weeks": weeks,
        "n_questions": len(qs),
        "corpus": {
            "documents": len(pipe.index.documents),
            "chunks": len(pipe.index.chunks),
            "fingerprint": fingerprint,
            "index": str(pipe.settings.index_dir),
        },
    }


def _ours(pipe: Pipeline, depth: int, use_asof: bool) -> Ranker:
    def ours(q: Question) -> list[str]:
        query = pipe.query(q.text, None, q.as_of if use_asof else None)
        return [h.chunk.doc_id for h in pipe.retriever.retrieve(query, k=depth)]

    return ours


def run_retrieval_bench(
    settings: Settings,
    dataset: str,
    data: Path,
    questions: Path | None = None,
    limit: int | None = None,
    seed: int = 13,
    ablations: bool = True,
    corpus_sample: int | None = None,
    weeks: str = "all",
) -> dict[str, Any]:
    from tqdm import tqdm

    pipe, qs, fingerprint = bench_pipeline(settings, dataset, data, questions, corpus_sample, seed)
    qs = sample(week_split(qs, weeks) if dataset == "realtimeqa" else qs, limit, seed)
    depth = max(KS[dataset])
    use_asof = dataset == "realtimeqa"
    rankers = make_rankers(pipe, depth, use_asof)
    systems = {}
    for name, rank in tqdm(rankers.items(), desc="systems"):
        systems[name] = evaluate(rank, qs, dataset, intervals=True)
    record = _head(dataset, weeks, qs, pipe, fingerprint)
    record |= {
        "systems": systems,
        "settings": {
            **pipe.settings.index_fields(),
            **{
                k: getattr(pipe.settings, k)
                for k in (
                    "candidates",
                    "rrf_k",
                    "dense_weight",
                    "lexical_weight",
                    "per_doc_max",
                    "recency_weight",
                    "recency_halflife_days",
                    "article_weight",
                    "link_weight",
                    "link_from",
                    "hops",
                )
            },
            "as_of_filter": use_asof,
            "limit": limit,
            "seed": seed,
            "corpus_sample": corpus_sample,
            "note": "llamaindex = VectorStoreIndex default retriever over the same chunk vectors",
        },
    }
    if ablations:
        abl = {}
        base = pipe.settings
        for name, change in tqdm(ABLATIONS.items(), desc="ablations"):
            pipe.retriever.settings = base.with_overrides(**change)
            abl[name] = evaluate(rankers["ours"], qs, dataset)
        pipe.retriever.settings = base
        if use_asof:
            abl["no_as_of_date"] = evaluate(make_rankers(pipe, depth, False)["ours"], qs, dataset)
        record["ablations"] = abl
    _print(record)
    return record


def _print(record: dict[str, Any]) -> None:
    systems = record["systems"]
    cols = [c for c in next(iter(systems.values())) if c not in ("p95_ms", "ci95")]
    print(
        f"{record['dataset']} ({record.get('weeks', 'all')} weeks): "
        f"{record['n_questions']} questions, "
        f"{record['corpus']['documents']} documents / {record['corpus']['chunks']} chunks"
    )
    print(f"{'system':22}" + "".join(f"{c:>12}" for c in cols))
    rows = list(systems.items()) + [
        (f"ours-{k}", v) for k, v in record.get("ablations", {}).items()
    ]
    for name, m in rows:
        print(f"{name:22}" + "".join(f"{m[c]:>12}" for c in cols))
    for name, m in systems.items():
        ci = m.get("ci95", {})
        if "mrr@10" in ci:
            print(f"{name:22} 95% intervals: recall@5 {ci['recall@5']}  mrr@10 {ci['mrr@10']}")


# What `tune_retrieval` searches, one knob at a time from the current settings; the first value
# of each is the simplest (the knob off, or plain RRF).
GRID: dict[str, list[Any]] = {
    "rrf_k": [60, 10, 20, 40],
    "lexical_weight": [1.0, 0.5, 0.75, 1.5],
    "per_doc_max": [0, 1, 2],
    "recency_weight": [0.0, 1.0, 3.0, 6.0],
    "recency_halflife_days": [7.0, 3.0, 14.0],
    "article_weight": [0.0, 0.1, 0.3],
    "link_weight": [0.0, 1.0],
    "hops": [1, 2],
}
SIMPLEST = {k: v[0] for k, v in GRID.items()}


def _objective(m: dict[str, Any]) -> float:
    return float(m["recall@5"] + m["mrr@10"])


def paired_interval(
    a: list[list[str]], b: list[list[str]], qs: list[Question], n: int = 1000, seed: int = 0
) -> dict[str, list[float]]:
    """95% interval of (a - b) per score, both ranked lists resampled on the same questions."""

    def diff(pick: list[int]) -> dict[str, float]:
        sub = [qs[i] for i in pick]
        sa = score([a[i] for i in pick], sub, "realtimeqa")
        sb = score([b[i] for i in pick], sub, "realtimeqa")
        return {k: sa[k] - sb[k] for k in ("recall@5", "mrr@10")}

    return _resampled(diff, len(qs), n, seed)


def tune_retrieval(
    settings: Settings, data: Path, rounds: int = 2, corpus_sample: int | None = None
) -> dict[str, Any]:
    """Coordinate search of the retrieval knobs on the tune weeks of RealTimeQA; then the
    settings before, the tuned ones and the simplest, each on tune and validate weeks with
    bootstrap intervals and paired intervals of their differences on the validate weeks."""
    pipe, qs, _ = bench_pipeline(settings, "realtimeqa", data, None, corpus_sample, 13)
    tune, validate = week_split(qs, "tune"), week_split(qs, "validate")
    depth = max(KS["realtimeqa"])
    ours = make_rankers(pipe, depth, True)["ours"]
    base = pipe.settings

    def measure(knobs: dict[str, Any], part: list[Question]) -> tuple[dict[str, Any], list]:
        pipe.retriever.settings = base.with_overrides(**knobs)
        ranked, ms = run_ranker(ours, part)
        m: dict[str, Any] = dict(score(ranked, part, "realtimeqa"))
        m["p50_ms"] = round(statistics.median(ms), 2)
        return m, ranked

    before = {k: getattr(base, k) for k in GRID}
    current = dict(before)
    best = _objective(measure(current, tune)[0])
    trail = []
    for _ in range(rounds):
        moved = False
        for knob, values in GRID.items():
            for v in values:
                if v == current[knob]:
                    continue
                m, _ = measure({**current, knob: v}, tune)
                trail.append({"knobs": {**current, knob: v}, "tune": m})
                if _objective(m) > best + 0.005:  # a tie keeps what is there
                    best, current, moved = _objective(m), {**current, knob: v}, True
        if not moved:
            break
    out: dict[str, Any] = {
        "tune_weeks": TUNE_WEEKS,
        "n_tune": len(tune),
        "n_validate": len(validate),
    }
    ranked_val = {}
    for label, knobs in (("before", before), ("tuned", current), ("simplest", SIMPLEST)):
        mt, _ = measure(knobs, tune)
        mv, ranked_val[label] = measure(knobs, validate)
        mv["ci95"] = bootstrap(ranked_val[label], validate, "realtimeqa")
        out[label] = {"knobs": knobs, "tune": mt, "validate": mv}
    out["validate_diff_ci95"] = {
        "tuned_minus_before": paired_interval(ranked_val["tuned"], ranked_val["before"], validate),
        "before_minus_simplest": paired_interval(
            ranked_val["before"], ranked_val["simplest"], validate
        ),
    }
    out["trail"] = trail
    pipe.retriever.settings = base
    for label in ("before", "tuned", "simplest"):
        t, v = out[label]["tune"], out[label]["validate"]
        print(
            f"{label:9} tune R@5 {t['recall@5']:.3f} MRR {t['mrr@10']:.3f} | validate R@5 "
            f"{v['recall@5']:.3f} {v['ci95']['recall@5']} MRR {v['mrr@10']:.3f} "
            f"{v['ci95']['mrr@10']} p50 {v['p50_ms']} ms  {out[label]['knobs']}"
        )
    print("validate differences (95%):", out["validate_diff_ci95"])
    return out
