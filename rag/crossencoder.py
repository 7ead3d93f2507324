"""The models we train here (rag/weights/<name>/), loaded offline and checked before use.

Each folder holds fp16 safetensors, the tokenizer and `card.json` (training data with hashes
and licences, command, seed, measured figures, and the sha256 of every file). Loading checks
those hashes, so a damaged or swapped file is an error naming it, never a silently different
judgment. Inference goes through sentence-transformers' CrossEncoder (sigmoid of one logit).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelError
from rag.models import quiet_transformers  # importing rag.models sets the offline environment

WEIGHTS = Path(__file__).resolve().parent / "weights"
CARD = "card.json"


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file in `folder` but the card itself."""
    out = {}
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.name != CARD:
            out[f.name] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def weights_path(spec: str | Path) -> Path:
    """A shipped model's folder by name ("support"), or any folder with a card."""
    p = Path(spec)
    folder = p if p.is_dir() else WEIGHTS / str(spec)
    if not (folder / CARD).is_file():
        raise ModelError(f"{spec}: no trained model there (expected {folder / CARD})")
    return folder


def read_card(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / CARD).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"{folder / CARD}: unreadable model card ({e})") from e


def verify(folder: Path, card: dict[str, Any]) -> None:
    """Every file the card lists is there with its sha256; else ModelError naming it."""
    expected = card.get("files") or {}
    if not expected:
        raise ModelError(f"{folder / CARD}: lists no files to check")
    actual = file_hashes(folder)
    for name, digest in expected.items():
        if name not in actual:
            raise ModelError(f"{folder / name}: missing (listed in {CARD})")
        if actual[name] != digest:
            raise ModelError(
                f"{folder / name}: sha256 {actual[name][:12]}… differs from the card's "
                f"{digest[:12]}…; the file is damaged or not the trained model"
            )


class CrossEncoderModel:
    """(source, text) pairs → probabilities, from a checked folder of trained weights."""

    def __init__(self, spec: str | Path = "support", threads: int | None = None) -> None:
        self.path = weights_path(spec)
        self.card = read_card(self.path)
        self.threads = threads
        self.threshold = float(self.card.get("threshold", 0.5))
        self.max_length = int(self.card.get("max_length", 192))
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        digest = (self.card.get("files") or {}).get("model.safetensors", "")
        return f"{self.card.get('name', self.path.name)}@{digest[:12]}"

    @cached_property
    def model(self) -> Any:
        verify(self.path, self.card)
        import torch
        from sentence_transformers import CrossEncoder

        quiet_transformers()
        if self.threads:
            torch.set_num_threads(self.threads)
        return CrossEncoder(
            str(self.path),
            device="cpu",
            local_files_only=True,
            max_length=self.max_length,
            model_kwargs={"dtype": torch.float32},  # stored fp16; CPUs compute fp32 faster
        )

    def score(self, pairs: Sequence[tuple[str, str]], batch_size: int = 16) -> np.ndarray:
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            probs = self.model.predict(list(pairs), batch_size=batch_size, show_progress_bar=False)
        return np.asarray(probs, dtype=np.float32).reshape(-1)
