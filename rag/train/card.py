"""Train, choose, score once, export: what both trained models share after their data.

The epoch and the decision threshold are chosen on validation only (rag.train.crossencoder);
the test split is scored once, after. The chosen epoch goes out as fp16 safetensors with the
tokenizer and a card.json (data, licences, hashes, command, seed, figures, speed, and every
file's sha256, which rag.crossencoder checks at load).
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.train.crossencoder import Example, TrainConfig, evaluate, figures, load_base, train


def export(best: Path, target: Path, card: dict[str, Any]) -> dict[str, Any]:
    """fp16 safetensors + config + tokenizer of `best` into `target`, with card.json."""
    import torch

    from rag.crossencoder import CARD, file_hashes

    tok, model = load_base(str(best))
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    model.to(torch.float16).save_pretrained(target, safe_serialization=True)
    tok.save_pretrained(target)
    card = card | {"files": file_hashes(target)}
    (target / CARD).write_text(json.dumps(card, indent=2) + "\n")
    return card


def ms_per_pair(target: Path, sample: Sequence[Example], threads: int) -> float:
    """Milliseconds per pair for the exported model, batches of 16, `threads` threads."""
    from rag.crossencoder import CrossEncoderModel

    model = CrossEncoderModel(target, threads=threads)
    pairs = [(e.source, e.text) for e in sample[:256]]
    model.score(pairs[:16])  # warm
    t = time.perf_counter()
    model.score(pairs, batch_size=16)
    return round(1000 * (time.perf_counter() - t) / max(1, len(pairs)), 2)


def interleave(examples: Sequence[Example]) -> list[Example]:
    """Examples of every group in turn (a fair sample of lengths for timing)."""
    by: dict[str, list[Example]] = {}
    for e in examples:
        by.setdefault(e.group, []).append(e)
    out: list[Example] = []
    for i in range(max((len(v) for v in by.values()), default=0)):
        out += [v[i] for v in by.values() if i < len(v)]
    return out


def train_and_export(
    base: str,
    splits: dict[str, list[Example]],
    out: Path,
    config: TrainConfig,
    card: dict[str, Any],
    progress: bool = True,
) -> dict[str, Any]:
    """Train on splits["train"], choose on splits["validation"], score splits["test"] once,
    export to `out` with `card` completed. Returns the card."""
    from rag.crossencoder import CARD

    work = out.with_name(out.name + ".work")
    state = train(base, splits["train"], splits["validation"], work, config, progress)
    threshold = state["best"]["threshold"]
    tok, best_model = load_base(str(work / "best"))
    scored = {
        split: evaluate(best_model, tok, splits[split], config.max_length)
        for split in ("validation", "test")
    }
    card = card | {
        "threshold": threshold,
        "max_length": config.max_length,
        "config": {k: v for k, v in vars(config).items() if k != "extra"},
        "seed": config.seed,
        "chosen_epoch": state["best"]["epoch"],
        "epochs": [{k: v for k, v in e.items() if k != "validation"} for e in state["epochs"]],
        "validation": figures(*scored["validation"], threshold),
        "test": figures(*scored["test"], threshold),
        "training_seconds": round(state["seconds"]),
        "trained_on": f"{platform.machine()}, {config.threads} CPU threads",
    }
    card["validation_mean_balanced_accuracy"] = round(
        float(np.mean([v["balanced_accuracy"] for v in card["validation"].values()])), 2
    )
    card = export(work / "best", out, card)
    card["ms_per_pair_2_threads"] = ms_per_pair(out, interleave(splits["validation"]), 2)
    (out / CARD).write_text(json.dumps(card, indent=2) + "\n")
    return card
