"""`newsrag` command line: a thin layer over rag.Pipeline (argparse, no logic of its own)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from rag.errors import ConfigError, NewsragError
from rag.settings import Settings

EXIT_ERROR = 2


def store_overrides(uri: str | None) -> dict[str, Any]:
    """Settings for a `--store` URI: `faiss:DIR` (a local index directory), `faiss` or
    `faiss:hnsw` (the local index's kind), `milvus:FILE.db` or `milvus://host:port`."""
    if not uri:
        return {}
    if uri.startswith("faiss:") and uri not in ("faiss:flat", "faiss:hnsw"):
        return {"vector_store": "faiss", "index_dir": Path(uri.removeprefix("faiss:"))}
    return {"vector_store": uri}


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("index_dir", "llm_backend", "llm_model", "top_k", "port", "host", "collection"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    overrides.update(store_overrides(getattr(args, "store", None)))
    try:
        return Settings(**overrides)
    except ValueError as e:  # pydantic's validation error names the field and the problem
        raise ConfigError(str(e)) from e


def _pipeline(args: argparse.Namespace) -> Any:
    from rag.pipeline import Pipeline

    return Pipeline(_settings(args))


def _filters(args: argparse.Namespace) -> dict[str, Any] | None:
    f = {
        "sources": args.source or None,
        "date_from": args.date_from,
        "date_to": args.date_to,
        "doc_ids": args.doc or None,
        "titles": args.title or None,
    }
    return {k: v for k, v in f.items() if v} or None


def _print_answer(a: Any) -> None:
    if a.refused:
        print(f"\nRefused: {a.refusal_reason}")
        for s in a.sentences:
            print(f"  (unsupported draft) {s.text}  — {s.reason}")
        return
    cites = a.citations
    number = {(c.doc_id, c.start, c.end): i for i, c in enumerate(cites, start=1)}
    print()
    for s in a.sentences:
        marks = "".join(f"[{number[(c.doc_id, c.start, c.end)]}]" for c in s.citations)
        flag = "" if s.supported else f"  ⚠ unsupported: {s.reason}"
        print(f"{s.text} {marks}{flag}")
    if cites:
        print("\nSources:")
        for i, c in enumerate(cites, start=1):
            meta = ", ".join(x for x in (c.source, c.published_at or "") if x)
            print(f"[{i}] {c.title} ({meta}) chars {c.start}-{c.end}, support {c.support:.2f}")
            print(f'    "{c.quote}"')


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    pipe = _pipeline(args)
    # one bar, drawn once the work is counted (not during the model load), redrawn in place (a
    # pipe gets a line at most every few seconds); its rate is chunks/s, its time left follows
    bars: list[tqdm] = []

    def progress(done: int, total: int, what: str) -> None:
        if not bars:
            bars.append(
                tqdm(
                    total=total,
                    unit="chunk",
                    desc="ingest",
                    disable=args.quiet,
                    file=sys.stderr,
                    mininterval=0.5 if sys.stderr.isatty() else 5.0,
                    dynamic_ncols=True,
                    postfix=what[:40],
                )
            )
        bar = bars[0]
        if bar.total != total:
            bar.reset(total)
        bar.update(done - bar.n)

    report = pipe.ingest(args.paths, progress=progress)
    for bar in bars:
        bar.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(
            f"added {len(report.added)}, replaced {len(report.replaced)}, "
            f"unchanged {len(report.unchanged)} documents ({report.chunks} chunks, "
            f"{report.seconds:.1f}s) into {pipe.settings.store_name}"
        )
    for e in report.errors:
        print(f"error: {e.path}: {e.problem}", file=sys.stderr)
    return EXIT_ERROR if report.errors else 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.types import Answer

    pipe = _pipeline(args)
    question = " ".join(args.question)
    answer = None
    for event in pipe.stream(question, _filters(args)):
        if isinstance(event, Answer):
            answer = event
        elif args.stream and not args.json:
            print(event, end="", flush=True)
    assert answer is not None
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        _print_answer(answer)
    return 0


def cmd_summarize(args: argparse.Namespace) -> int:
    pipe = _pipeline(args)
    summary = pipe.summarize(doc_ids=args.doc or None, query=args.query)
    if args.json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False))
        return 0
    cites = summary.citations
    number = {(c.doc_id, c.start, c.end): i for i, c in enumerate(cites, start=1)}
    docs = pipe.index.documents
    sections = [("", summary.sentences)]
    if summary.topics:
        print(f"Digest of the {len(summary.doc_ids)} newest articles, by topic:")
        sections = [
            (
                f"\n## {t.label}  ({'; '.join(docs[d].title for d in t.doc_ids if d in docs)})",
                t.sentences,
            )
            for t in summary.topics
        ]
    for heading, sentences in sections:
        if heading:
            print(heading)
        for s in sentences:
            marks = "".join(f"[{number[(c.doc_id, c.start, c.end)]}]" for c in s.citations)
            print(f"{s.text} {marks}" + ("" if s.supported else f"  ⚠ unsupported: {s.reason}"))
    print()
    for i, c in enumerate(cites, start=1):
        print(f'[{i}] {c.title}: "{c.quote}"')
    return 0


def cmd_documents(args: argparse.Namespace) -> int:
    docs = _pipeline(args).documents()
    if args.json:
        print(json.dumps(docs, ensure_ascii=False, indent=2))
        return 0

    def mark(d: dict[str, Any], name: str) -> str:
        return "~" if name in d["guessed"] else " "

    for d in docs:
        print(
            f"{d['id']}  {mark(d, 'published_at')}{d['published_at'] or '----------'}  "
            f"{d['source'][:18]:18}  {d['chunks']:3d} chunks  {mark(d, 'title')}{d['title'][:70]}"
        )
    print(f"{len(docs)} documents")
    if any(d["guessed"] for d in docs):
        print("~ read from the text (the file states no title or date)")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    pipe = _pipeline(args)
    gone = pipe.delete(args.ids)
    missing = [i for i in args.ids if i not in gone]
    print(f"deleted {len(gone)} documents")
    for i in missing:
        print(f"error: no document with id {i}", file=sys.stderr)
    return EXIT_ERROR if missing else 0


def cmd_serve(args: argparse.Namespace) -> int:
    from rag.ui.app import serve

    settings = _settings(args)
    return serve(settings, corpus=args.corpus)


def cmd_llm_serve(args: argparse.Namespace) -> int:
    """llama-server alone, on 127.0.0.1, until Ctrl+C (the `server` backend's engine)."""
    import signal
    import threading

    from rag.llm.server import LlamaServer

    s = _settings(args)
    if args.slots is not None:
        s = s.with_overrides(llm_server_slots=args.slots)
    server = LlamaServer(s, port=args.server_port)
    print(f"starting {server.binary} ({s.llm_server_slots} slots)...", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with server:
        print(
            f"llama-server ready: {server.base_url} (OpenAI-compatible; Ctrl+C stops)", flush=True
        )
        try:
            while server.running and not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        if not server.running and not stop.is_set():
            print(f"error: llama-server exited:\n{server.log_tail()}", file=sys.stderr)
            return EXIT_ERROR
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from rag.models import LLMS, llm_path, verify

    s = _settings(args)
    names = [args.name] if args.name else [s.llm_model]
    for name in names:
        path = llm_path(name, s.cache_dir)
        ok = verify(path, name) if (args.verify and name in LLMS) else True
        print(f"{name}: {path} {'verified' if ok else 'CHECKSUM MISMATCH'}")
        if not ok:
            return EXIT_ERROR
    from rag.embed_export import PRECISIONS, onnx_model

    for precision in PRECISIONS:  # built from the packaged weights, checksummed
        print(f"{s.embed_model}@{precision}: {onnx_model(s.embed_model, precision, s.cache_dir)}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from rag.doctor import run_doctor

    findings = run_doctor(_settings(args))
    for f in findings:
        print(f"{'ok  ' if f.ok else 'FAIL'} {f.check}: {f.detail}")
        if f.fix:
            print(f"     fix: {f.fix}")
    return 0 if all(f.ok for f in findings) else EXIT_ERROR


def cmd_migrate(args: argparse.Namespace) -> int:
    from rag.migrate import migrate

    target = Settings(**store_overrides(args.to), collection=args.collection or "newsrag")
    report = migrate(Path(args.source), target, sample=args.sample)
    print(json.dumps(report, indent=2) if args.json else report["summary"])
    return 0 if report["ok"] else EXIT_ERROR


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", dest="index_dir", type=Path, help="index directory")
    p.add_argument(
        "--store",
        metavar="URI",
        help="where the index lives: faiss:DIR (default .newsrag/index), milvus:FILE.db "
        "(Milvus Lite) or milvus://host:port (a Milvus server); NEWSRAG_VECTOR_STORE sets it too",
    )
    p.add_argument("--collection", help="Milvus collection name (default newsrag)")
    p.add_argument(
        "--llm-backend",
        choices=["local", "server", "openai", "extractive"],
        default=None,
        help="local: llama.cpp in this process (default); server: llama.cpp's own server on "
        "127.0.0.1 with parallel slots, started once and stopped at exit; openai: an "
        "OpenAI-compatible server; extractive: no model",
    )
    p.add_argument("--llm-model", default=None, help="packaged model name or GGUF path")


def _filter_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", action="append", help="only articles from this source")
    p.add_argument("--date-from", help="only articles published on/after YYYY-MM-DD")
    p.add_argument("--date-to", help="only articles published on/before YYYY-MM-DD")
    p.add_argument("--doc", action="append", help="only this document id")
    p.add_argument("--title", action="append", help="only articles whose title contains this")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsrag", description="Ask news articles questions; answers cite quoted sources."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="index files or folders")
    p.add_argument("paths", nargs="+")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _common(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", help="ask a question")
    p.add_argument("question", nargs="+")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--stream", action="store_true", help="print the draft as it is written")
    p.add_argument("--top-k", type=int)
    _common(p)
    _filter_flags(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser(
        "summarize",
        help="summarise documents, what a query finds, or (no flags) the newest articles by topic",
    )
    p.add_argument("--doc", action="append", help="document id (repeatable)")
    p.add_argument("--query")
    p.add_argument("--json", action="store_true")
    _common(p)
    p.set_defaults(func=cmd_summarize)

    p = sub.add_parser("documents", help="list indexed documents")
    p.add_argument("--json", action="store_true")
    _common(p)
    p.set_defaults(func=cmd_documents)

    p = sub.add_parser("delete", help="remove documents from the index")
    p.add_argument("ids", nargs="+")
    _common(p)
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("serve", help="start the web app on 127.0.0.1")
    p.add_argument("--port", type=int)
    p.add_argument("--host")
    p.add_argument("--corpus", type=Path, help="index this folder first if the index is empty")
    _common(p)
    p.set_defaults(func=cmd_serve)

    from rag.eval.bench.cli import add_bench_command
    from rag.eval.cli import add_eval_command
    from rag.train.cli import add_train_command

    add_bench_command(sub, _common, _settings)
    add_eval_command(sub, _common, _settings)
    add_train_command(sub, _common, _settings)

    p = sub.add_parser("llm", help="the LLM engine on its own")
    llm_sub = p.add_subparsers(dest="llm_command", required=True)
    p = llm_sub.add_parser(
        "serve",
        help="run llama.cpp's server (parallel slots) on 127.0.0.1, print its URL, until Ctrl+C",
    )
    p.add_argument(
        "--port", dest="server_port", type=int, help="port on 127.0.0.1 (default: a free one)"
    )
    p.add_argument("--slots", type=int, help="parallel slots (default llm_server_slots, 2)")
    p.add_argument("--llm-model", default=None, help="packaged model name or GGUF path")
    p.set_defaults(func=cmd_llm_serve)

    p = sub.add_parser(
        "models", help="assemble and verify the packaged LLM; export the embedder to ONNX"
    )
    p.add_argument("name", nargs="?")
    p.add_argument("--verify", action="store_true", help="full sha256 check")
    _common(p)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser(
        "migrate", help="copy a local FAISS index into Milvus without embedding again"
    )
    p.add_argument("--from", dest="source", required=True, help="local index directory")
    p.add_argument("--to", required=True, help="milvus:FILE.db or milvus://host:port")
    p.add_argument("--collection", help="Milvus collection name (default newsrag)")
    p.add_argument("--sample", type=int, default=20, help="questions whose answers are compared")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("doctor", help="check the models, the index and the settings")
    _common(p)
    p.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except NewsragError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
