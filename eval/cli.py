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


def _check(args: argparse.Namespace, settings: SettingsFn) -> int:
    from rag.embed import Embedder
    from rag.ground import SupportChecker, check_text
    from rag.load import expand_paths, load_file

    s = settings(args)
    docs = [d for p in expand_paths(args.articles) for d in load_file(p)]
    text = args.text
    if Path(text).is_file():
        text = Path(text).read_text(encoding="utf-8")
    checker = SupportChecker(Embedder(s.embed_model), s.support_threshold)
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


def add_eval_command(
    sub: Any, common: Callable[[argparse.ArgumentParser], None], settings: SettingsFn
) -> None:
    p = sub.add_parser("eval", help="eval harness: check text against articles, ...")
    cmds = p.add_subparsers(dest="eval_command", required=True)
    c = cmds.add_parser("check", help="verify any text against articles, sentence by sentence")
    c.add_argument("--articles", nargs="+", required=True, help="article files or folders")
    c.add_argument("--text", required=True, help="the text, or a file holding it")
    c.add_argument("--json", action="store_true")
    common(c)
    c.set_defaults(func=lambda a: _check(a, settings))


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: newsrag eval ...")
