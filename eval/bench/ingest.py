"""`newsrag bench ingest`: how fast an index is built, per embedder variant, in one run.

The same RealTimeQA pool articles (a fixed-seed sample) are indexed once per variant, each in its
own process so that the model load is counted and the peak RSS is the variant's own:
  sentence_transformers_1t  raw sentence-transformers on one thread over the chunk texts our
                            pipeline embeds (chunking not timed): the reference of the goal
  ours_*                    `Pipeline.ingest` of the articles file (read, chunk, embed, index,
                            commit) with the embedder runtime, precision and threads named
Every variant's vectors are compared with the reference's (cosine per chunk). With --retrieval N,
each distinct embedder (model and precision; the runtime does not change the vectors) also gets
Recall@5 / MRR@10 on the validation weeks of RealTimeQA over the gold articles and N others.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.settings import Settings

REFERENCE = "sentence_transformers_1t"
VARIANTS: dict[str, dict[str, Any]] = {
    REFERENCE: {},
    "ours_torch_fp32_1t": {
        "embed_runtime": "torch",
        "embed_precision": "fp32",
        "embed_threads": 1,
    },
    "ours_torch_fp32": {"embed_runtime": "torch", "embed_precision": "fp32"},
    "ours_onnx_fp32": {"embed_runtime": "onnx", "embed_precision": "fp32"},
    "ours_onnx_int8": {"embed_runtime": "onnx", "embed_precision": "int8"},
}


def sample_articles(data: Path, n: int, seed: int, out: Path) -> int:
    """Write `n` pool records drawn with a fixed seed to a JSONL file; returns the count."""
    import gzip

    with gzip.open(data / "realtimeqa_news" / "articles_pool.jsonl.gz", "rt") as f:
        lines = [line for line in f if line.strip()]
    picked = random.Random(seed).sample(lines, min(n, len(lines)))
    out.write_text("".join(picked))
    return len(picked)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker(variant: str, articles: Path, out: Path) -> None:
    """One variant, timed from a cold start of its embedder; vectors saved by chunk id."""
    if variant == REFERENCE:
        from rag.chunk import chunk_document
        from rag.embed import Embedder
        from rag.load import load_file
        from rag.pipeline import Pipeline

        s = Settings(index_dir=out / "unused")
        pipe = Pipeline(s, embedder=Embedder.from_settings(s))  # for embed_text; nothing loads
        counter = pipe.embedder
        docs = load_file(articles)
        ids, texts = [], []
        for doc in docs:
            for c in chunk_document(
                doc, counter.count_tokens, s.chunk_tokens, s.chunk_overlap_sentences
            ):
                ids.append(c.id)
                texts.append(pipe.embed_text(doc, c.text))
        t0 = time.perf_counter()
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(1)
        model = SentenceTransformer(counter.path, device="cpu", local_files_only=True)
        vecs = model.encode(texts, batch_size=32, normalize_embeddings=True)
        seconds = time.perf_counter() - t0
        articles_n = len(docs)
    else:
        from rag.pipeline import Pipeline

        t0 = time.perf_counter()
        pipe = Pipeline(Settings(index_dir=out / "index", **VARIANTS[variant]))
        report = pipe.ingest([articles])
        seconds = time.perf_counter() - t0
        index = pipe.index
        rows = sorted(index.chunk_at)
        ids = [index.chunks[index.chunk_at[r]].id for r in rows]
        vecs = np.vstack([index.vectors.index.reconstruct(int(r)) for r in rows])
        articles_n = len(report.added)
    np.save(out / "vectors.npy", np.asarray(vecs, dtype=np.float32))
    (out / "ids.json").write_text(json.dumps(ids))
    result = {
        "seconds": round(seconds, 2),
        "chunks": len(ids),
        "articles": articles_n,
        "chunks_per_s": round(len(ids) / seconds, 2),
        "articles_per_s": round(articles_n / seconds, 3),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }
    (out / "result.json").write_text(json.dumps(result))


def _vectors(folder: Path) -> dict[str, np.ndarray]:
    """Vectors by chunk id; an id embedded twice (one text under two articles' titles: the
    reference embeds duplicate articles, an index keeps one) is left out of the comparison."""
    from collections import Counter

    ids = json.loads((folder / "ids.json").read_text())
    twice = {i for i, n in Counter(ids).items() if n > 1}
    vecs = zip(ids, np.load(folder / "vectors.npy"), strict=True)
    return {i: v for i, v in vecs if i not in twice}


def run_ingest_bench(
    settings: Settings,
    data: Path,
    articles: int = 300,
    seed: int = 5,
    variants: list[str] | None = None,
    retrieval: int | None = None,
) -> dict[str, Any]:
    names = variants or list(VARIANTS)
    if REFERENCE not in names:
        names = [REFERENCE, *names]
    record: dict[str, Any] = {"bench": "ingest", "articles": articles, "seed": seed, "variants": {}}
    with tempfile.TemporaryDirectory(prefix="newsrag-bench-ingest-") as tmp:
        root = Path(tmp)
        file = root / "articles.jsonl"
        record["articles"] = sample_articles(data, articles, seed, file)
        for name in names:
            out = root / name
            out.mkdir()
            cmd = [sys.executable, "-m", "rag.eval.bench.ingest", name, str(file), str(out)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"bench ingest: variant {name} failed:\n{proc.stderr[-2000:]}")
            record["variants"][name] = json.loads((out / "result.json").read_text())
            print(f"{name:26} {record['variants'][name]}", flush=True)
        ref = _vectors(root / REFERENCE)
        base = record["variants"][REFERENCE]["chunks_per_s"]
        for name in names:
            v = record["variants"][name]
            vecs = _vectors(root / name)
            cos = np.array([float(vecs[i] @ ref[i]) for i in ref if i in vecs])
            v["x_reference"] = round(v["chunks_per_s"] / base, 2)
            v["cosine_to_reference"] = {
                "mean": round(float(cos.mean()), 4),
                "min": round(float(cos.min()), 4),
            }
            v["settings"] = VARIANTS[name]
    if retrieval:
        record["retrieval"] = _retrieval_by_embedder(settings, data, names, retrieval)
    record["cpu_count"] = os.cpu_count()
    _print(record)
    return record


def _retrieval_by_embedder(
    settings: Settings, data: Path, names: list[str], corpus_sample: int
) -> dict[str, Any]:
    from rag.eval.bench.retrieval import run_retrieval_bench

    out: dict[str, Any] = {}
    for name in names:
        if name == REFERENCE:
            continue
        s = settings.with_overrides(**VARIANTS[name])
        if s.embedder in out:
            out[s.embedder]["variants"].append(name)
            continue
        rec = run_retrieval_bench(
            s, "realtimeqa", data, ablations=False, corpus_sample=corpus_sample, weeks="validate"
        )
        ours = rec["systems"]["ours"]
        out[s.embedder] = {
            "variants": [name],
            "weeks": "validate",
            "questions": rec["n_questions"],
            "corpus": rec["corpus"],
            "recall@5": ours["recall@5"],
            "mrr@10": ours["mrr@10"],
            "ci95": ours["ci95"],
        }
    return out


def _print(record: dict[str, Any]) -> None:
    print(f"ingest of {record['articles']} pool articles, {record['cpu_count']} cores")
    print(f"{'variant':26}{'chunks/s':>10}{'x ref':>8}{'art/s':>8}{'RSS MB':>9}{'cos min':>9}")
    for name, v in record["variants"].items():
        print(
            f"{name:26}{v['chunks_per_s']:>10}{v['x_reference']:>8}{v['articles_per_s']:>8}"
            f"{v['peak_rss_mb']:>9}{v['cosine_to_reference']['min']:>9}"
        )
    for emb, r in record.get("retrieval", {}).items():
        print(f"{emb}: validate weeks R@5 {r['recall@5']} MRR@10 {r['mrr@10']} {r['ci95']}")


def main() -> None:
    p = argparse.ArgumentParser(description="one variant of `newsrag bench ingest` (internal)")
    p.add_argument("variant", choices=list(VARIANTS))
    p.add_argument("articles", type=Path)
    p.add_argument("out", type=Path)
    a = p.parse_args()
    _worker(a.variant, a.articles, a.out)


if __name__ == "__main__":
    main()
