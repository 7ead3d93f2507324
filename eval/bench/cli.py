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
