"""`newsrag train support|answerable`: thin flags over rag.train (never run by `make setup`)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cmd_train_support(args: argparse.Namespace, settings: Any) -> int:
    from rag.train.crossencoder import TrainConfig
    from rag.train.pairs import NON_COMMERCIAL, SETS
    from rag.train.support import train_support

    sets = tuple(args.set or SETS)
    if args.permissive:
        sets = tuple(s for s in sets if s not in NON_COMMERCIAL)
    out = args.out or settings.cache_dir / "train" / args.name
    config = TrainConfig(
        epochs=args.epochs,
        seed=args.seed,
        threads=args.threads,
        lr=args.lr,
        max_length=args.max_length,
    )
    card = train_support(
        settings.data, settings.cache_dir, out, sets, config, args.name, progress=not args.quiet
    )
    print(json.dumps({k: card[k] for k in ("threshold", "validation", "test")}, indent=2))
    print(f"model written to {out}")
    return 0


def cmd_train_answerable(args: argparse.Namespace, settings: Any) -> int:
    from rag.train.answerable import train_answerable
    from rag.train.crossencoder import TrainConfig

    out = args.out or settings.cache_dir / "train" / args.name
    config = TrainConfig(
        epochs=args.epochs,
        seed=args.seed,
        threads=args.threads,
        lr=args.lr,
        max_length=args.max_length,
    )
    card = train_answerable(settings.data, out, config, args.name, progress=not args.quiet)
    print(json.dumps({k: card[k] for k in ("threshold", "validation", "test")}, indent=2))
    print(f"model written to {out}")
    return 0


def training_options(t: argparse.ArgumentParser, name: str, max_length: int) -> None:
    """The options both trainers share (TrainConfig's fields, where the model goes)."""
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--seed", type=int, default=13)
    t.add_argument("--lr", type=float, default=3e-5)
    t.add_argument("--max-length", type=int, default=max_length)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--name", default=name)
    t.add_argument("--out", type=Path, help="where the model goes (default: the cache)")
    t.add_argument("--quiet", action="store_true")


def add_train_command(sub: Any, common: Callable[[Any], None], settings_of: Callable) -> None:
    p = sub.add_parser("train", help="train the support or answerability model (CPU, hours)")
    tsub = p.add_subparsers(dest="what", required=True)
    t = tsub.add_parser("support", help="(source span, claim) -> supported, on labelled pairs")
    t.add_argument("--set", action="append", help="a training set (repeatable; default all)")
    t.add_argument(
        "--permissive",
        action="store_true",
        help="leave out the non-commercial sets (ANLI, SICK, FaithBench)",
    )
    training_options(t, "support", max_length=192)
    common(t)
    t.set_defaults(func=lambda a: cmd_train_support(a, settings_of(a)))

    t = tsub.add_parser("answerable", help="(passage, question) -> holds the answer (SQuAD 2.0)")
    training_options(t, "answerable", max_length=256)
    common(t)
    t.set_defaults(func=lambda a: cmd_train_answerable(a, settings_of(a)))
