"""`newsrag eval ...`: the eval harness on the command line (thin over rag.eval)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.settings import Settings

SettingsFn = Callable[[argparse.Namespace], Settings]
EXIT_GATE = 1  # a metric fell short; errors exit 2 (rag.cli)


def _is_file(text: str) -> bool:
    try:
        return "\n" not in text and Path(text).is_file()
    except OSError:  # a long text is no valid path ("File name too long")
        return False


def _check(args: argparse.Namespace, settings: SettingsFn) -> int:
    from rag.embed import Embedder
    from rag.ground import SupportChecker, check_text
    from rag.load import expand_paths, load_file

    s = settings(args)
    docs = [d for p in expand_paths(args.articles) for d in load_file(p)]
    text = args.text
    if _is_file(text):  # --text is a file's path or the text itself
        text = Path(text).read_text(encoding="utf-8")
    checker = SupportChecker.from_settings(Embedder.from_settings(s), s)
    sentences = check_text(text, docs, checker)
    ok = sum(x.supported for x in sentences)
    faithfulness = ok / len(sentences) if sentences else 0.0
    if args.json:
        out = {
            "faithfulness": round(faithfulness, 4),
            "checker": checker.version,
            "sentences": [x.to_dict() for x in sentences],
        }
        print(json.dumps(out, ensure_ascii=False))
    else:
        for x in sentences:
            mark = "✓" if x.supported else "✗"
            print(f"{mark} {x.support:.2f} {x.text}")
            for c in x.citations:
                print(f'      "{c.quote}" ({c.title}, chars {c.start}-{c.end})')
            if not x.supported:
                print(f"      unsupported: {x.reason}")
        print(f"faithfulness {faithfulness:.2f} ({ok}/{len(sentences)} sentences supported)")
    return 0


def _bar(quiet: bool, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=0, unit="case", desc=desc, disable=quiet, file=sys.stderr, leave=False)


def _generate(args: argparse.Namespace, settings: SettingsFn) -> int:
    from rag.eval.generate import generate_suite
    from rag.eval.suite import save_suite
    from rag.load import expand_paths, load_file
    from rag.pipeline import Pipeline

    docs = [d for p in expand_paths(args.articles) for d in load_file(p)]
    # temperature 0: with the seed fixing the passages, the same command gives the same suite
    pipe = Pipeline(settings(args).with_overrides(llm_temperature=0.0))
    bar = _bar(args.quiet, "generate")
    attempts = 0

    def progress(kept: int, total: int) -> None:
        nonlocal attempts
        attempts += 1
        bar.total = total
        bar.n = kept
        bar.set_postfix_str(f"{attempts} attempts")
        bar.refresh()

    cases = generate_suite(pipe, docs, args.n, args.seed, progress=progress)
    bar.close()
    save_suite(cases, args.out)
    kinds: dict[str, int] = {}
    for c in cases:
        kind = "unanswerable" if not c.answerable else ("multi" if "multi" in c.tags else "single")
        kinds[kind] = kinds.get(kind, 0) + 1
    detail = ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
    print(
        f"wrote {len(cases)} cases ({detail}) from {len(docs)} articles to {args.out} "
        f"({attempts} attempts, {attempts - len(cases)} dropped by verification)"
    )
    return 0


def _import(args: argparse.Namespace) -> int:
    from rag.eval.importers import import_suite
    from rag.eval.suite import save_suite

    cases = import_suite(
        args.format,
        args.file,
        limit=args.limit,
        seed=args.seed,
        gold_only=args.gold_only,
        unanswerable_share=args.unanswerable_share,
    )
    save_suite(cases, args.out)
    un = sum(not c.answerable for c in cases)
    print(f"wrote {len(cases)} cases ({un} unanswerable) to {args.out}")
    return 0


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    from rag.eval.run import METRICS

    n = summary["counts"]["metric_cases"]
    for name in METRICS:
        if name not in summary:
            continue
        v = summary.get(name)
        shown = "  n/a" if v is None else f"{v:5.3f}"
        print(f"{name:20} {shown}  (over {n.get(name, 0)} cases)")
    c, t = summary["counts"], summary["timings"]
    print(
        f"{c['cases']} cases ({c['unanswerable']} unanswerable), {c['refused']} refused, "
        f"{c['errors']} errors; {t['total_seconds']:.0f}s total, {t['ask_ms_p50']} ms/ask p50; "
        f"checker {summary['checker']}"
    )
    print(f"wrote {out / 'summary.json'}, {out / 'cases.jsonl'}, {out / 'report.html'}")


def _run(args: argparse.Namespace, settings: SettingsFn) -> int:
    import tempfile

    from rag.eval.run import gate, index_articles, parse_thresholds, run_suite
    from rag.eval.suite import EvalError, load_suite
    from rag.pipeline import Pipeline

    if args.articles and args.index_dir:
        raise EvalError("give --index or --articles, not both")
    fail_under = parse_thresholds(args.fail_under)
    fail_over = parse_thresholds(args.fail_over)
    cases = load_suite(args.suite)
    if args.limit:
        cases = cases[: args.limit]
    bar = _bar(args.quiet, "eval")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    with tempfile.TemporaryDirectory(prefix="newsrag-eval-") as tmp:
        if args.articles:
            pipe = index_articles(settings(args), args.articles, Path(tmp) / "index")
        else:
            pipe = Pipeline(settings(args))
            if not pipe.index.documents:
                raise EvalError(f"{pipe.settings.store_name}: the index is empty (or missing)")
        judge = None
        if args.judge:
            from rag.eval.judge import openai_judge

            judge = openai_judge(pipe.settings)
        summary = run_suite(
            pipe,
            cases,
            args.out,
            progress,
            suite_path=str(args.suite),
            baseline=args.baseline,
            judge=judge,
            index_label=f"temporary index of {' '.join(args.articles)}" if args.articles else None,
        )
    bar.close()
    _print_summary(summary, Path(args.out))
    failures = gate(summary, fail_under, fail_over)
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    return EXIT_GATE if failures else 0


def _report(args: argparse.Namespace) -> int:
    from rag.eval.report import write_report

    print(write_report(args.run_dir, args.baseline))
    return 0


def add_eval_command(
    sub: Any, common: Callable[[argparse.ArgumentParser], None], settings: SettingsFn
) -> None:
    p = sub.add_parser("eval", help="eval harness: generate/import suites, run, report, check")
    cmds = p.add_subparsers(dest="eval_command", required=True)

    g = cmds.add_parser("generate", help="write a suite of verified questions from articles")
    g.add_argument("articles", nargs="+", help="article files or folders (any loader format)")
    g.add_argument("--out", type=Path, required=True, help="suite file to write (JSONL)")
    g.add_argument("--n", type=int, default=12, help="number of cases (default 12)")
    g.add_argument("--seed", type=int, default=0, help="passage choice (same seed, same suite)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    common(g)
    g.set_defaults(func=lambda a: _generate(a, settings))

    i = cmds.add_parser("import", help="turn a public question set into a suite")
    i.add_argument("format", choices=["realtimeqa", "squad2"])
    i.add_argument("file", type=Path, help="the set's questions.jsonl")
    i.add_argument("--out", type=Path, required=True, help="suite file to write (JSONL)")
    i.add_argument("--limit", type=int, help="keep N questions (the first N, or a seeded sample)")
    i.add_argument("--seed", type=int, help="sample --limit questions with this seed")
    i.add_argument("--gold-only", action="store_true", help="realtimeqa: only gold-linked ones")
    i.add_argument(
        "--unanswerable-share", type=float, help="squad2: share of unanswerables, e.g. 0.5"
    )
    i.set_defaults(func=_import)

    r = cmds.add_parser("run", help="run a suite through the pipeline and measure it")
    r.add_argument("suite", type=Path)
    r.add_argument("--articles", nargs="+", help="index these into a temporary index first")
    r.add_argument("--out", type=Path, required=True, help="run directory to write")
    r.add_argument("--baseline", type=Path, help="an earlier run directory to diff against")
    r.add_argument("--limit", type=int, help="only the first N cases")
    r.add_argument(
        "--fail-under", help="gate: exit 1 if a metric is below, e.g. faithfulness=0.9,..."
    )
    r.add_argument(
        "--fail-over", help="gate: exit 1 if a metric is above, e.g. false_refusal_rate=0.2"
    )
    r.add_argument(
        "--judge",
        action="store_true",
        help="opt-in: a judge on the OpenAI-compatible server of NEWSRAG_OPENAI_* settings",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    common(r)
    r.set_defaults(func=lambda a: _run(a, settings))

    rp = cmds.add_parser("report", help="(re)write RUN_DIR/report.html")
    rp.add_argument("run_dir", type=Path)
    rp.add_argument("--baseline", type=Path, help="an earlier run directory to diff against")
    rp.set_defaults(func=_report)

    c = cmds.add_parser("check", help="verify any text against articles, sentence by sentence")
    c.add_argument("--articles", nargs="+", required=True, help="article files or folders")
    c.add_argument("--text", required=True, help="the text, or a file holding it")
    c.add_argument("--json", action="store_true")
    common(c)
    c.set_defaults(func=lambda a: _check(a, settings))


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: newsrag eval ...")
