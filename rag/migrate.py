"""`newsrag migrate`: copy a local FAISS index into Milvus without embedding anything again.

The documents, chunks and the very vectors FAISS holds are written to the Milvus index in
batches (each one commit, so a failed run leaves whole batches and a re-run skips them: the
copy is idempotent by content hash). Afterwards the copy is checked: the same documents and
chunks, stored vectors equal to FAISS's for a sample of chunks, and a sample of questions (the
first sentence, of 8 words or more, of random chunks) answered by both with the extractive
backend, so that the check needs no LLM: the answers and their citations compared one by one.
Both BM25s read the same words with the same k1 and b, but chunks of equal score may come in
another order (Milvus breaks ties its own way), so an answer may differ where a tie decides it:
those are reported, not hidden; counts and vectors must be equal.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError
from rag.index import Index
from rag.settings import Settings

DOCS_PER_COMMIT = 500


def migrate(source: Path, target: Settings, sample: int = 20, seed: int = 0) -> dict[str, Any]:
    from rag.pipeline import Pipeline

    if not target.shared_store:
        raise ConfigError(
            f"--to {target.vector_store!r}: migrate writes to milvus:FILE.db or milvus://"
        )
    if not (Path(source) / "CURRENT").exists():
        raise ConfigError(f"--from {source}: no index there (no CURRENT file)")
    t0 = time.perf_counter()
    local = Pipeline(Settings(index_dir=Path(source), llm_backend="extractive"))
    index = local.index
    assert isinstance(index, Index)
    built = local.settings
    shared = Pipeline(
        built.with_overrides(
            vector_store=target.vector_store,
            collection=target.collection,
            llm_backend="extractive",
        ),
        embedder=local.embedder,
    )
    dest = shared.index
    dest.refresh()
    todo = [d for d in index.documents.values() if d.id not in dest.documents]
    for i in range(0, len(todo), DOCS_PER_COMMIT):
        for doc in todo[i : i + DOCS_PER_COMMIT]:
            chunks = index.doc_chunks(doc.id)
            vecs = np.vstack([index.vectors.index.reconstruct(index.row_of[c.id]) for c in chunks])
            dest.add(doc, chunks, vecs)
        shared._commit()
    dest.flush()  # type: ignore[attr-defined]
    copy_s = time.perf_counter() - t0

    problems: list[str] = []
    dest.refresh()
    if set(dest.documents) != set(index.documents):
        problems.append(f"{len(dest.documents)} documents in Milvus, {len(index.documents)} local")
    if set(dest.chunks) != set(index.chunks):
        problems.append(f"{len(dest.chunks)} chunks in Milvus, {len(index.chunks)} local")
    rng = random.Random(seed)
    ids = rng.sample(sorted(index.chunks), min(200, len(index.chunks)))
    stored = dest.vectors_of(ids)  # type: ignore[attr-defined]
    worst = max(
        (
            float(np.abs(stored[c] - index.vectors.index.reconstruct(index.row_of[c])).max())
            for c in ids
            if c in stored
        ),
        default=0.0,
    )
    if len(stored) != len(ids) or worst > 1e-6:
        problems.append(f"vectors differ: {len(stored)}/{len(ids)} found, max difference {worst}")

    # questions: a chunk's first sentence of 8 words or more (bylines and datelines say little)
    openings = sorted(
        {
            text
            for c in index.chunks.values()
            if len((text := index.documents[c.doc_id].text[slice(*c.sentences[0])]).split()) >= 8
        }
    )
    questions = [t[:300] for t in rng.sample(openings, min(sample, len(openings)))]
    same_answer = same_top = 0
    differing = []
    for q in questions:
        a, b = local.ask(q), shared.ask(q)
        ta = [h.chunk.id for h in local.retrieve(q)]
        tb = [h.chunk.id for h in shared.retrieve(q)]
        same_top += ta[:1] == tb[:1]
        if a.text == b.text and [c.chunk_id for c in a.citations] == [
            c.chunk_id for c in b.citations
        ]:
            same_answer += 1
        else:
            differing.append(q)
    ok = not problems
    summary = (
        f"copied {len(todo)} documents ({len(index.documents)} in the source, "
        f"{len(dest.documents)} in {target.store_name}) in {copy_s:.1f}s; "
        f"{'counts and vectors equal' if ok else 'PROBLEMS: ' + '; '.join(problems)}; "
        f"answers equal for {same_answer}/{len(questions)} sample questions, "
        f"top passage equal for {same_top}/{len(questions)}"
    )
    return {
        "ok": ok,
        "summary": summary,
        "copied_documents": len(todo),
        "documents": len(dest.documents),
        "chunks": len(dest.chunks),
        "seconds": round(copy_s, 2),
        "problems": problems,
        "vectors_checked": len(ids),
        "max_vector_difference": worst,
        "sample_questions": len(questions),
        "answers_equal": same_answer,
        "top_passage_equal": same_top,
        "answers_differ_for": differing,
    }
