"""Fine-tune the packaged MiniLM as a cross-encoder: (source, text) → probability of "yes".

Both trained judgments use it: the support model (source span, claim → supported) and the
answerability model (passage, question → answerable). A plain torch loop over transformers'
AutoModelForSequenceClassification rather than sentence-transformers' CrossEncoderTrainer,
which needs `datasets` and `accelerate` on top of what we ship; the loop is short and does what
two CPU cores need: batches grouped by length (padding is most of the cost at these lengths), a
fixed seed, a checkpoint every few minutes that a rerun resumes from, and a progress bar.
The result loads with sentence-transformers' CrossEncoder (rag.crossencoder).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.models import quiet_transformers  # importing rag.models sets the offline environment


@dataclass
class TrainConfig:
    epochs: int = 3
    batch_size: int = 16
    lr: float = 3e-5
    warmup: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 192
    seed: int = 13
    threads: int = 2
    checkpoint_every: int = 150  # optimizer steps (about 3 minutes on 2 cores)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Example:
    source: str
    text: str
    label: int
    group: str = ""  # the set it belongs to (validation figures are per group)


def load_base(path: str) -> tuple[Any, Any]:
    """Tokenizer and a one-logit sequence classifier on top of the encoder at `path`."""
    quiet_transformers()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=1, local_files_only=True
    )
    return tok, model


def encode(tok: Any, examples: Sequence[Example], max_length: int) -> list[list[int]]:
    """Token ids of each (source, text) pair; the source is cut first when too long."""
    enc = tok(
        [e.source for e in examples],
        [e.text for e in examples],
        truncation="longest_first",
        max_length=max_length,
    )
    return [list(x) for x in enc["input_ids"]]


def _collate(tok: Any, ids: list[list[int]]) -> dict[str, Any]:
    import torch

    width = max(len(x) for x in ids)
    pad = tok.pad_token_id
    input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    types = torch.zeros((len(ids), width), dtype=torch.long)
    sep = tok.sep_token_id
    for i, x in enumerate(ids):
        input_ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
        first_sep = x.index(sep) if sep in x else len(x)
        types[i, first_sep + 1 : len(x)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": types}


def length_batches(lengths: Sequence[int], batch_size: int, seed: int) -> list[list[int]]:
    """Batches of similar length in a seeded random order (sorted within pools of 50)."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for i in range(0, len(order), pool):
        chunk = sorted(order[i : i + pool], key=lambda k: lengths[k])
        batches += [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def predict(model: Any, tok: Any, ids: list[list[int]], batch_size: int = 32) -> np.ndarray:
    """Probabilities for encoded pairs (batched by length, returned in input order)."""
    import torch

    model.eval()
    out = np.zeros(len(ids), dtype=np.float32)
    order = sorted(range(len(ids)), key=lambda k: len(ids[k]))
    with torch.inference_mode():
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            logits = model(**_collate(tok, [ids[k] for k in idx])).logits.squeeze(-1)
            out[idx] = torch.sigmoid(logits.float()).numpy()
    return out


def balanced_accuracy(pred: np.ndarray, gold: np.ndarray) -> float:
    pos, neg = gold == 1, gold == 0
    tpr = float((pred[pos] == 1).mean()) if pos.any() else 0.0
    tnr = float((pred[neg] == 0).mean()) if neg.any() else 0.0
    return 100 * (tpr + tnr) / 2 if pos.any() and neg.any() else 100 * (tpr if pos.any() else tnr)


def auc(score: np.ndarray, gold: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(gold, score)) if 0 < gold.sum() < len(gold) else None


def best_threshold(scores: dict[str, np.ndarray], golds: dict[str, np.ndarray]) -> float:
    """The one cut (steps of 0.01) with the best mean balanced accuracy over the groups."""
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)

    def mean_ba(t: float) -> float:
        return float(
            np.mean([balanced_accuracy((scores[g] >= t).astype(int), golds[g]) for g in scores])
        )

    return float(max(grid, key=lambda t: (mean_ba(t), -abs(t - 0.5))))


def figures(
    scores: dict[str, np.ndarray], golds: dict[str, np.ndarray], threshold: float
) -> dict[str, dict[str, Any]]:
    out = {}
    for g in sorted(scores):
        a = auc(scores[g], golds[g])
        out[g] = {
            "n": len(golds[g]),
            "positives": int(golds[g].sum()),
            "balanced_accuracy": round(
                balanced_accuracy((scores[g] >= threshold).astype(int), golds[g]), 2
            ),
            "auc": round(a, 4) if a is not None else None,
        }
    return out


def merge_groups(
    scores: dict[str, np.ndarray], golds: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Groups "summedits-news", "summedits-podcast", … pooled as "summedits": the epoch and
    threshold are chosen with each *set* weighing the same, not each of SummEdits' domains."""
    s: dict[str, list[np.ndarray]] = {}
    g: dict[str, list[np.ndarray]] = {}
    for k in scores:
        s.setdefault(k.split("-")[0], []).append(scores[k])
        g.setdefault(k.split("-")[0], []).append(golds[k])
    return {k: np.concatenate(v) for k, v in s.items()}, {
        k: np.concatenate(v) for k, v in g.items()
    }


def _by_group(examples: Sequence[Example]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        groups.setdefault(e.group, []).append(i)
    return groups


def evaluate(
    model: Any, tok: Any, examples: Sequence[Example], max_length: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    probs = predict(model, tok, encode(tok, examples, max_length))
    gold = np.array([e.label for e in examples])
    groups = _by_group(examples)
    return {g: probs[i] for g, i in groups.items()}, {g: gold[i] for g, i in groups.items()}


def train(
    base: str,
    train_set: Sequence[Example],
    validation: Sequence[Example],
    out: Path,
    config: TrainConfig,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune, resuming from `out/checkpoint.pt` when one is there; keeps the epoch with the
    best mean validation balanced accuracy in `out/best` and returns the training record."""
    import torch
    from tqdm import tqdm

    torch.set_num_threads(max(1, config.threads))
    torch.manual_seed(config.seed)
    out.mkdir(parents=True, exist_ok=True)
    tok, model = load_base(base)
    ids = encode(tok, train_set, config.max_length)
    labels = torch.tensor([float(e.label) for e in train_set])
    lengths = [len(x) for x in ids]
    per_epoch = math.ceil(len(ids) / config.batch_size)
    total = per_epoch * config.epochs
    no_decay = ("bias", "LayerNorm.weight")
    params = [
        {
            "params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
            "weight_decay": config.weight_decay,
        },
        {
            "params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)],
            "weight_decay": 0.0,
        },
    ]
    opt = torch.optim.AdamW(params, lr=config.lr)
    warm = max(1, int(config.warmup * total))

    def schedule(step: int) -> float:
        return step / warm if step < warm else max(0.0, (total - step) / max(1, total - warm))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    state: dict[str, Any] = {"step": 0, "epochs": [], "best": None, "seconds": 0.0}
    ckpt = out / "checkpoint.pt"
    if ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        sched.load_state_dict(saved["scheduler"])
        state = saved["state"]
        torch.set_rng_state(saved["torch_rng"])

    def save_checkpoint() -> None:
        tmp = ckpt.with_suffix(".tmp")
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "state": state,
                "torch_rng": torch.get_rng_state(),
            },
            tmp,
        )
        os.replace(tmp, ckpt)

    loss_fn = torch.nn.BCEWithLogitsLoss()
    bar = tqdm(
        total=total, initial=state["step"], desc="training", unit="batch", disable=not progress
    )
    t_start = time.perf_counter() - state["seconds"]
    while state["step"] < total:
        epoch = state["step"] // per_epoch
        batches = length_batches(lengths, config.batch_size, config.seed + epoch)
        model.train()
        running = 0.0
        for b in batches[state["step"] - epoch * per_epoch :]:
            batch = _collate(tok, [ids[k] for k in b])
            logits = model(**batch).logits.squeeze(-1)
            loss = loss_fn(logits, labels[b])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            state["step"] += 1
            value = float(loss.detach())
            running = 0.98 * running + 0.02 * value if running else value
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{running:.3f}")
            if state["step"] % config.checkpoint_every == 0:
                state["seconds"] = time.perf_counter() - t_start
                save_checkpoint()
        # end of an epoch: measure on validation, keep the best epoch
        scores, golds = evaluate(model, tok, validation, config.max_length)
        th = best_threshold(*merge_groups(scores, golds))
        figs = figures(*merge_groups(scores, golds), th)
        mean_ba = float(np.mean([f["balanced_accuracy"] for f in figs.values()]))
        record = {"epoch": epoch + 1, "threshold": th, "mean_balanced_accuracy": round(mean_ba, 2)}
        state["epochs"].append(record | {"validation": figs})
        if state["best"] is None or mean_ba > state["best"]["mean_balanced_accuracy"]:
            state["best"] = record
            model.save_pretrained(out / "best", safe_serialization=True)
            tok.save_pretrained(out / "best")
        state["seconds"] = time.perf_counter() - t_start
        save_checkpoint()
        bar.write(f"epoch {epoch + 1}: validation mean balanced accuracy {mean_ba:.2f} at {th:.2f}")
    bar.close()
    (out / "training.json").write_text(json.dumps(state, indent=2))
    return state
