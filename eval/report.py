"""The HTML report of a run (work in progress: the signature is fixed)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from rag.eval.run import read_run


def write_report(run_dir: Path, baseline: Path | None = None) -> Path:
    """Write run_dir/report.html (self-contained) and return its path."""
    summary, _records = read_run(Path(run_dir))
    out = Path(run_dir) / "report.html"
    body = html.escape(json.dumps(summary, indent=2))
    out.write_text(f"<!doctype html><meta charset=utf-8><pre>{body}</pre>", encoding="utf-8")
    return out
