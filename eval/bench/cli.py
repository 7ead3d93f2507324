"""`newsrag bench [core|...]`: benchmark commands, each printing figures and writing a JSON record.

`newsrag bench --json FILE` with no subcommand runs the core bench (speed and memory of the
product path on a corpus). Benchmarks of retrieval, the support checker and refusal register
their own subcommands here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.eval.bench.ingest import VARIANTS
from rag.settings import Settings

SettingsFn = Callable[[argparse.Namespace], Settings]


def write_record(record: dict[str, Any], path: str | None) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(record, indent=2, ensure_ascii=False))
        print(f"wrote {path}", file=sys.stderr)


def _core(args: argparse.Namespace, settings: SettingsFn) -> int:
    from rag.eval.bench.core import run_core_bench

    record = run_core_bench(settings(args), corpus=args.corpus, questions=args.questions)
    write_record(record, args.json)
    return 0


def _retrieval(args: argparse.Namespace, settings: SettingsFn) -> int:
    from rag.eval.bench.retrieval import run_retrieval_bench

    s = settings(args)
    if args.tune:
        from rag.eval.bench.retrieval import tune_retrieval

        record = tune_retrieval(s, args.data or s.data, corpus_sample=args.corpus_sample)
        write_record({"bench": "retrieval-tune", **record}, args.json)
        return 0
    if s.shared_store:  # ours on FAISS and on that Milvus store, side by side
        from rag.eval.bench.retrieval import run_store_comparison

        record = run_store_comparison(
            s,
            args.dataset,
            args.data or s.data,
            args.questions,
            args.limit,
            args.seed,
            args.corpus_sample,
            args.weeks,
            args.ingest_articles,
        )
        write_record({"bench": "retrieval-stores", **record}, args.json)
        return 0
    record = run_retrieval_bench(
        s,
        args.dataset,
        args.data or s.data,
        args.questions,
        args.limit,
        args.seed,
        ablations=not args.no_ablations,
        corpus_sample=args.corpus_sample,
        weeks=args.weeks,
    )
    write_record(record, args.json)
    return 0


def _ingest(args: argparse.Namespace, settings: SettingsFn) -> int:
    from rag.eval.bench.ingest import run_ingest_bench

    s = settings(args)
    record = run_ingest_bench(
        s, args.data or s.data, args.articles, args.seed, args.variant, args.retrieval
    )
    write_record(record, args.json)
    return 0


def _crash(args: argparse.Namespace, settings: SettingsFn) -> int:
    from rag.eval.bench.crash import run_crash_bench

    record = run_crash_bench(args.kills, args.seed)
    write_record({"bench": "crash", **record}, args.json)
    bad = record["inconsistent"] + record["neither_state"] + record["rerun_wrong"]
    return 1 if bad or not record["full_disk"]["index_unchanged"] else 0


def _latency(args: argparse.Namespace, settings: SettingsFn) -> int:
    from rag.eval.bench.latency import run_latency_bench

    qs = json.loads(args.questions.read_text()) if args.questions else None
    systems = tuple(args.system or ("ours", "prompt_only", "llamaindex_citation"))
    s = settings(args)
    if args.data:
        s = s.with_overrides(data=args.data)
    record = run_latency_bench(
        s, args.corpus, qs, args.users, systems, args.news, args.news_corpus, args.seed
    )
    write_record(record, args.json)
    return 0


def _users(args: argparse.Namespace, settings: SettingsFn) -> int:
    from rag.eval.bench.users import run_users_bench

    record = run_users_bench(
        settings(args), args.users, args.writers, args.requests, args.timeout, args.corpus
    )
    write_record(record, args.json)
    return 0 if record["ok"] else 1


def _checker(args: argparse.Namespace, settings: SettingsFn) -> int:
    from rag.eval.bench.checker import run_checker_bench

    s = settings(args)
    if args.threshold is not None:
        s = s.with_overrides(support_threshold=args.threshold)
    splits = tuple(args.split or ("validation", "test"))
    record = run_checker_bench(s, args.data or s.data, args.limit, splits, args.ablations)
    write_record(record, args.json)
    return 0


def _refusal(args: argparse.Namespace, settings: SettingsFn) -> int:
    from rag.eval.bench.refusal import news_answers, run_refusal_bench

    s = settings(args)
    if args.news_only:
        news = news_answers(s, args.data or s.data, args.news or 40, args.seed, args.news_corpus)
        write_record({"bench": "refusal", "news": news}, args.json)
        return 0
    record = run_refusal_bench(
        s,
        args.data or s.data,
        args.questions,
        args.limit or None,
        args.seed,
        peer=not args.no_peer and s.llm_backend != "extractive",
        news=args.news,
        articles=args.articles,
        news_corpus=args.news_corpus,
    )
    write_record(record, args.json)
    return 0


def _scale(args: argparse.Namespace, settings: SettingsFn) -> int:
    from rag.eval.bench.scale import run_scale_bench

    s = settings(args)
    runs = [
        run_scale_bench(
            s.cache_dir,
            n,
            args.queries,
            tuple(args.kind or ("flat", "hnsw", "ivf")),
            noise=args.noise,
            milvus=args.milvus,
            milvus_kinds=tuple(args.milvus_index or ("FLAT", "HNSW")),
        )
        for n in args.chunks or [100_000]
    ]
    write_record({"bench": "scale", "runs": runs}, args.json)
    return 0


def _core_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", help="write the JSON record here")
    p.add_argument("--corpus", type=Path, help="corpus to index (default: the bundled corpus)")
    p.add_argument("--questions", type=Path, help="JSON list of questions (default: built-in)")


def add_bench_command(
    sub: Any, common: Callable[[argparse.ArgumentParser], None], settings: SettingsFn
) -> None:
    p = sub.add_parser("bench", help="benchmarks: speed/memory (default), retrieval, checker, ...")
    _core_flags(p)
    common(p)
    p.set_defaults(func=lambda a: _core(a, settings))
    benches = p.add_subparsers(dest="bench_command")
    c = benches.add_parser("core", help="speed and memory of the product path on a corpus")
    _core_flags(c)
    common(c)
    c.set_defaults(func=lambda a: _core(a, settings))

    r = benches.add_parser("retrieval", help="news and multi-hop retrieval against peers")
    r.add_argument("--dataset", required=True, choices=["realtimeqa", "musique", "hotpotqa"])
    r.add_argument("--data", type=Path, help="data folder (default: NEWSRAG_DATA)")
    r.add_argument("--questions", type=Path, help="another questions file of the same format")
    r.add_argument("--limit", type=int, help="a fixed-seed sample of this many questions")
    r.add_argument("--seed", type=int, default=13)
    r.add_argument("--no-ablations", action="store_true")
    r.add_argument(
        "--corpus-sample",
        type=int,
        metavar="N",
        help="index only the gold documents and N others (for studies of index settings)",
    )
    r.add_argument(
        "--weeks",
        choices=["all", "tune", "validate"],
        default="all",
        help="realtimeqa: the first 11 weekly releases (tune), the later ones (validate)",
    )
    r.add_argument(
        "--tune",
        action="store_true",
        help="realtimeqa: search the retrieval knobs on the tune weeks, check on validate weeks",
    )
    r.add_argument(
        "--ingest-articles",
        type=int,
        default=100,
        help="with --store milvus...: articles ingested into a fresh index of each store",
    )
    r.add_argument("--json", help="write the JSON record here")
    common(r)
    r.set_defaults(func=lambda a: _retrieval(a, settings))

    i = benches.add_parser(
        "ingest", help="index build speed per embedder variant, beside raw sentence-transformers"
    )
    i.add_argument("--data", type=Path, help="data folder (default: NEWSRAG_DATA)")
    i.add_argument("--articles", type=int, default=300, help="pool articles to index")
    i.add_argument("--seed", type=int, default=5)
    i.add_argument(
        "--variant",
        action="append",
        choices=list(VARIANTS),
        help="repeatable (default: all; the raw reference always runs)",
    )
    i.add_argument(
        "--retrieval",
        type=int,
        metavar="N",
        help="also validate-week retrieval per embedder over the gold articles and N others",
    )
    i.add_argument("--json", help="write the JSON record here")
    common(i)
    i.set_defaults(func=lambda a: _ingest(a, settings))

    x = benches.add_parser("crash", help="kill -9 ingest/delete at random moments, check the index")
    x.add_argument("--kills", type=int, default=50)
    x.add_argument("--seed", type=int, default=3)
    x.add_argument("--json", help="write the JSON record here")
    common(x)
    x.set_defaults(func=lambda a: _crash(a, settings))

    t = benches.add_parser(
        "latency", help="per-stage ms and tokens read, ours beside prompt-only and llama-index"
    )
    _core_flags(t)
    t.add_argument("--users", type=int, default=0, help="also N users at once on the app")
    t.add_argument("--news", type=int, default=0, help="also N RealTimeQA questions")
    t.add_argument("--news-corpus", type=int, default=190, help="pool articles beside the gold")
    t.add_argument("--seed", type=int, default=5)
    t.add_argument("--data", type=Path, help="data folder (default: NEWSRAG_DATA)")
    t.add_argument(
        "--system",
        action="append",
        choices=["ours", "prompt_only", "llamaindex_citation"],
        help="repeatable (default: all three)",
    )
    common(t)
    t.set_defaults(func=lambda a: _latency(a, settings))

    u = benches.add_parser(
        "users", help="users asking, uploading and deleting on the app at once, over loopback"
    )
    u.add_argument("--users", type=int, default=20)
    u.add_argument("--writers", type=int, default=4, help="of the users, those who upload")
    u.add_argument("--requests", type=int, default=2, help="questions or uploads per user")
    u.add_argument("--timeout", type=float, default=900.0, help="seconds per operation")
    u.add_argument("--corpus", type=Path, help="corpus to index first (default: the bundled one)")
    u.add_argument("--json", help="write the JSON record here")
    common(u)
    u.set_defaults(func=lambda a: _users(a, settings))

    k = benches.add_parser(
        "checker", help="the support checker on FaithBench and the factcheck sets"
    )
    k.add_argument("--data", type=Path, help="data folder (default: NEWSRAG_DATA)")
    k.add_argument("--threshold", type=float, help="support threshold (default: the model's)")
    k.add_argument("--limit", type=int, help="at most this many items per set and split")
    k.add_argument("--split", action="append", choices=["validation", "test"], help="default: both")
    k.add_argument("--ablations", action="store_true", help="constraints off, edit rules on")
    k.add_argument("--json", help="write the JSON record here")
    common(k)
    k.set_defaults(func=lambda a: _checker(a, settings))

    f = benches.add_parser("refusal", help="refusal on SQuAD 2.0, ours beside a llama-index peer")
    f.add_argument("--data", type=Path, help="data folder (default: NEWSRAG_DATA)")
    f.add_argument("--questions", type=Path, help="another questions file of the same format")
    f.add_argument("--limit", type=int, default=40, help="stratified sample size (0 = all)")
    f.add_argument("--seed", type=int, default=7)
    f.add_argument("--no-peer", action="store_true", help="ours only")
    f.add_argument(
        "--news",
        type=int,
        default=0,
        help="also ask N RealTimeQA questions (all answerable): what refusal costs on news",
    )
    f.add_argument("--news-only", action="store_true", help="only the --news questions")
    f.add_argument(
        "--news-corpus",
        type=int,
        help="index the gold articles plus this many other pool articles (default: the pool)",
    )
    f.add_argument(
        "--articles",
        choices=["test", "validation", "all"],
        default="test",
        help="SQuAD articles to sample from (test: never seen by the answerability model)",
    )
    f.add_argument("--json", help="write the JSON record here")
    common(f)
    f.set_defaults(func=lambda a: _refusal(a, settings))

    g = benches.add_parser("scale", help="FAISS flat vs HNSW vs IVF on 100k-1M vectors")
    g.add_argument("--chunks", type=int, action="append", help="vector count (repeatable)")
    g.add_argument("--queries", type=int, default=200)
    g.add_argument("--noise", type=float, default=0.6, help="distance of points from centres")
    g.add_argument(
        "--kind", action="append", choices=["flat", "hnsw", "ivf"], help="FAISS kinds (all)"
    )
    g.add_argument(
        "--milvus",
        metavar="URI",
        help="also the Milvus path (FLAT and HNSW) at milvus:FILE.db or milvus://host:port",
    )
    g.add_argument(
        "--milvus-index", action="append", choices=["FLAT", "HNSW"], help="Milvus kinds (both)"
    )
    g.add_argument("--json", help="write the JSON record here")
    common(g)
    g.set_defaults(func=lambda a: _scale(a, settings))
