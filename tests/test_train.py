"""Training the cross-encoders: a tiny real run that resumes from its checkpoint, exports
fp16 weights with a card, and loads back only while every file matches its sha256."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.crossencoder import CARD, CrossEncoderModel
from rag.errors import ModelError
from rag.models import embedder_path
from rag.train.card import export
from rag.train.crossencoder import Example, TrainConfig, length_batches, train
from rag.train.perturb import drop_detail, past, perturbed

SOURCE = "Japan allowed the shipment of Patriot missiles to the United States."
PAIRS = [
    Example(SOURCE, "Japan allowed Patriot missiles to be shipped to the US.", 1, "a"),
    Example(SOURCE, "Japan banned the shipment of Patriot missiles.", 0, "a"),
    Example("The Congress failed to approve the aid.", "The Congress approved the aid.", 0, "b"),
    Example("The Congress failed to approve the aid.", "The aid was not approved.", 1, "b"),
] * 4


@pytest.mark.slow
def test_tiny_training_resumes_from_its_checkpoint_and_exports(tmp_path: Path) -> None:
    base = embedder_path("packaged:all-MiniLM-L6-v2")
    work = tmp_path / "work"
    config = TrainConfig(epochs=1, batch_size=8, max_length=48, checkpoint_every=1)
    first = train(base, PAIRS, PAIRS[:4], work, config, progress=False)
    assert first["step"] == 2 and len(first["epochs"]) == 1 and (work / "checkpoint.pt").exists()
    # a second call with more epochs resumes at step 2 instead of starting over
    more = TrainConfig(epochs=2, batch_size=8, max_length=48, checkpoint_every=1)
    second = train(base, PAIRS, PAIRS[:4], work, more, progress=False)
    assert second["step"] == 4 and second["epochs"][0] == first["epochs"][0]
    assert len(second["epochs"]) == 2

    out = tmp_path / "model"
    card = export(work / "best", out, {"name": "tiny", "threshold": 0.5, "max_length": 48})
    assert set(card["files"]) >= {"model.safetensors", "config.json", "tokenizer.json"}
    model = CrossEncoderModel(out)
    probs = model.score([(p.source, p.text) for p in PAIRS[:4]])
    assert probs.shape == (4,) and np.all((probs >= 0) & (probs <= 1))
    assert model.version.startswith("tiny@")

    # a damaged weights file is an error naming it, never a silently different judgment
    weights = out / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match=r"model\.safetensors"):
        _ = CrossEncoderModel(out).model


def test_a_folder_without_a_card_or_with_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no trained model"):
        CrossEncoderModel(tmp_path)
    (tmp_path / CARD).write_text(json.dumps({"files": {"model.safetensors": "0" * 64}}))
    with pytest.raises(ModelError, match="missing"):
        _ = CrossEncoderModel(tmp_path).model


def test_batches_group_lengths_and_are_fixed_by_the_seed() -> None:
    lengths = [5, 50, 6, 51, 7, 52, 8, 53] * 10
    a, b = length_batches(lengths, 4, 1), length_batches(lengths, 4, 1)
    assert a == b and a != length_batches(lengths, 4, 2)
    assert sorted(i for batch in a for i in batch) == list(range(len(lengths)))
    spread = [max(lengths[i] for i in bt) - min(lengths[i] for i in bt) for bt in a]
    assert max(spread) <= 3  # sorted within pools: short with short, long with long


def test_synthetic_edits_change_one_fact_and_kept_copies_only_drop_detail() -> None:
    import random

    assert past("approve") == "approved" and past("send") == "sent" and past("stop") == "stopped"
    text = (
        "The US Congress recently failed to approve a $60 billion aid package for Ukraine, "
        "leading to concerns about ammunition shortages. Japan has been exporting parts."
    )
    made = list(perturbed(text, random.Random(0), per_article=1))
    assert [x["label"] for x in made] == [0, 1]
    assert made[0]["claim"].startswith("The US Congress recently approved a $60 billion")
    kept = made[1]["claim"]
    assert (
        kept == "The US Congress recently failed to approve a $60 billion aid package for Ukraine."
    )
    assert drop_detail("Japan sent the missiles (made under license) to the US.") == (
        "Japan sent the missiles to the US."
    )
