"""`newsrag bench scale --chunks N`: FAISS flat vs HNSW vs IVF at 100k-1M chunk vectors, and
with `--milvus URI` the Milvus path: the same vectors in a Milvus collection with the dense index
the Milvus store makes (`milvus_index` FLAT or HNSW, rag/store/milvus.py), searched through
pymilvus as the store searches, against the same exact (FAISS flat) neighbours.

Vectors are synthetic but shaped like ours: unit vectors drawn around centres that are real
MiniLM chunk vectors when a cached benchmark index exists (else random centres), with noise, so
the neighbourhood structure resembles a news corpus rather than uniform noise (on which every
approximate index looks worse than it is). Reports build time, index size (serialised; RSS growth
too), p50/p95 query time and recall@10 against exact (flat) search, for each index type.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import psutil

from rag.store.faiss import FaissStore


def _centres(cache_dir: Path, dim: int, rng: np.random.Generator) -> np.ndarray:
    for path in sorted((cache_dir / "bench").glob("*/gen-*/vectors.faiss")):
        index = faiss.read_index(str(path))
        if index.d == dim and index.ntotal >= 1000:
            n = min(index.ntotal, 20_000)
            ids = faiss.vector_to_array(index.id_map)[:n]
            return np.vstack([index.reconstruct(int(i)) for i in ids]).astype(np.float32)
    c = rng.standard_normal((4096, dim)).astype(np.float32)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def synthetic(n: int, centres: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    out = np.empty((n, centres.shape[1]), dtype=np.float32)
    step = 100_000
    for i in range(0, n, step):
        m = min(step, n - i)
        base = centres[rng.integers(0, len(centres), m)]
        # noise of norm ~`noise` around each centre (per-component sigma = noise / sqrt(dim))
        v = base + (noise / np.sqrt(base.shape[1])) * rng.standard_normal(base.shape).astype(
            np.float32
        )
        out[i : i + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


class _IvfStore:
    """IVF-flat, for comparison only: it needs training on the data, so no store uses it yet."""

    def __init__(self, index: faiss.Index) -> None:
        self.index = index

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        scores, ids = self.index.search(query.reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


def build(kind: str, vectors: np.ndarray) -> FaissStore | _IvfStore:
    """Flat and HNSW through the same store class the pipeline uses (`vector_store` setting)."""
    d = vectors.shape[1]
    if kind in ("flat", "hnsw"):
        store = FaissStore(d, kind=kind)
        step = 100_000
        for i in range(0, len(vectors), step):
            store.add(np.arange(i, min(i + step, len(vectors))), vectors[i : i + step])
        return store
    if kind == "ivf":
        nlist = int(4 * np.sqrt(len(vectors)))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = vectors[
            np.random.default_rng(0).choice(len(vectors), min(len(vectors), 40 * nlist), False)
        ]
        index.train(sample)
        index.nprobe = max(8, nlist // 64)
        index.add(vectors)
        return _IvfStore(index)
    raise ValueError(kind)


class _MilvusStore:
    """The vectors in a Milvus collection (id + dense, the store's index), for the scale figure."""

    def __init__(self, uri: str, kind: str, vectors: np.ndarray) -> None:
        from pymilvus import DataType, MilvusClient
        from pymilvus.exceptions import MilvusException

        from rag.store.milvus import GRPC_OPTIONS, address, dense_index_params

        self.client = MilvusClient(address(uri), timeout=600, grpc_options=GRPC_OPTIONS)
        self.name = f"newsrag_scale_{kind.lower()}"
        if self.client.has_collection(self.name):
            self.client.drop_collection(self.name)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=vectors.shape[1])
        params = self.client.prepare_index_params()
        params.add_index(field_name="dense", **dense_index_params(kind))
        self.client.create_collection(self.name, schema=schema, index_params=params)
        step = 5000
        for i in range(0, len(vectors), step):
            rows = [{"id": j, "dense": vectors[j]} for j in range(i, min(i + step, len(vectors)))]
            self.client.insert(self.name, rows)
        self.client.flush(self.name)
        t0 = time.perf_counter()  # until the index is built over every row, as a served one
        while time.perf_counter() - t0 < 1800:
            info = self.client.describe_index(self.name, "dense")
            if not info.get("pending_index_rows") and info.get("indexed_rows", 0) >= len(vectors):
                break
            time.sleep(1.0)
        # Milvus Lite searches the rows of a just-flushed collection without their index (recall
        # 1.0, slower than FLAT at 1M) until it is loaded again
        for attempt in range(5):
            try:
                self.client.release_collection(self.name)
                self.client.load_collection(self.name)
                break
            except MilvusException:  # Lite: "file seems not fully written" while it writes
                time.sleep(5.0 * (attempt + 1))

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        from rag.store.milvus import DENSE_SEARCH

        res = self.client.search(
            self.name, data=[query], anns_field="dense", limit=k, search_params=DENSE_SEARCH
        )
        return [(int(h["id"]), float(h["distance"])) for h in res[0]]

    def drop(self) -> None:
        self.client.drop_collection(self.name)
        self.client.close()


def _knobs(
    kind: str, index: FaissStore | _IvfStore | _MilvusStore
) -> Iterator[tuple[str, dict[str, int]]]:
    """Search-time settings swept without rebuilding (HNSW efSearch, IVF nprobe), set in turn."""
    if kind == "hnsw":
        graph = faiss.downcast_index(index.index.index)
        for ef in (64, 128, 256):
            graph.hnsw.efSearch = ef
            yield (f"hnsw@ef{ef}", {"efSearch": ef})
        return
    if kind == "ivf":
        ivf = index.index
        for nprobe in sorted({ivf.nprobe, 2 * ivf.nprobe}):
            ivf.nprobe = nprobe
            yield (f"ivf@nprobe{nprobe}", {"nprobe": nprobe})
        return
    yield (kind, {})


def run_scale_bench(
    cache_dir: Path,
    chunks: int,
    queries: int = 200,
    kinds: tuple[str, ...] = ("flat", "hnsw", "ivf"),
    seed: int = 0,
    noise: float = 0.6,
    milvus: str | None = None,
    milvus_kinds: tuple[str, ...] = ("FLAT", "HNSW"),
) -> dict[str, Any]:
    """`kinds` of FAISS index, then (with a `milvus` URI) the Milvus FLAT and HNSW paths."""
    rng = np.random.default_rng(seed)
    dim = 384
    centres = _centres(cache_dir, dim, rng)
    vectors = synthetic(chunks, centres, rng, noise)
    qs = synthetic(queries, centres, rng, noise)
    faiss.omp_set_num_threads(max(1, faiss.omp_get_max_threads()))
    results: dict[str, Any] = {}
    truth: np.ndarray | None = None
    if milvus and "flat" not in kinds:
        kinds = ("flat", *kinds)  # the exact neighbours every recall is measured against
    runs = [*kinds, *((f"milvus-{k}" for k in milvus_kinds) if milvus else ())]
    for kind in runs:
        before = _rss_mb()
        t = time.perf_counter()
        index: FaissStore | _IvfStore | _MilvusStore
        if kind.startswith("milvus-"):
            index = _MilvusStore(str(milvus), kind.removeprefix("milvus-"), vectors)
        else:
            index = build(kind, vectors)
        build_s = time.perf_counter() - t
        mem = _rss_mb() - before
        inner = getattr(index, "index", None)
        size_mb = len(faiss.serialize_index(inner)) / 2**20 if inner is not None else 0.0
        for label, knob in _knobs(kind, index):
            ms = []
            found = []
            for q in qs:
                t = time.perf_counter()
                hits = index.search(q, 10)
                ms.append((time.perf_counter() - t) * 1000)
                found.append(np.array([h[0] for h in hits] + [-1] * (10 - len(hits))))
            found_arr = np.vstack(found)
            if kind == "flat":
                truth = found_arr
            recall = (
                float(
                    np.mean(
                        [len(set(a) & set(b)) / 10 for a, b in zip(found_arr, truth, strict=True)]
                    )
                )
                if truth is not None
                else None
            )
            r = results[label] = {
                "build_s": round(build_s, 2),
                "memory_mb": round(mem, 1),
                "index_mb": round(size_mb, 1),
                **knob,
                "p50_ms": round(statistics.median(ms), 3),
                "p95_ms": round(float(np.percentile(ms, 95)), 3),
                "recall@10_vs_flat": round(recall, 4) if recall is not None else None,
            }
            print(
                f"{chunks:>9} {label:12} build {r['build_s']:>7}s  index {r['index_mb']:>7} MB  "
                f"p50 {r['p50_ms']:>8} ms  p95 {r['p95_ms']:>8} ms  recall@10 "
                f"{r['recall@10_vs_flat']}"
            )
        if isinstance(index, _MilvusStore):
            index.drop()
        del index
    return {
        "bench": "scale",
        "chunks": chunks,
        "dim": dim,
        "queries": queries,
        "vectors": f"synthetic around real MiniLM chunk vectors (noise {noise:.2f})",
        "threads": faiss.omp_get_max_threads(),
        "indexes": results,
        "settings": {
            "hnsw": {"M": 32, "efConstruction": 80, "efSearch": "64, 128 (store default), 256"},
            "ivf": {"nlist": "4*sqrt(N)", "nprobe": "max(8, nlist/64)"},
            "milvus": {
                "uri": milvus,
                "HNSW": {"M": 32, "efConstruction": 80, "ef": 128},
                "note": "build_s includes inserting over gRPC, flush and load; index_mb 0: "
                "held by Milvus",
            },
        },
    }
