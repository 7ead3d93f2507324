"""Store seam, chosen by `Settings.vector_store`: the local index (rag/index.py) keeps its
vectors in FAISS, `faiss` (`faiss:flat`, exact, the default) or `faiss:hnsw`; `milvus:PATH.db`
and `milvus://host:port` hold the whole index in Milvus instead (rag/store/milvus.py).

A local vector store maps integer row ids to unit vectors and answers inner-product top-k
queries, optionally restricted to an allowed set of rows (metadata filters are resolved to rows
by the index, so filtering happens inside the search, never after the top-k cut).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import ConfigError


class VectorStore(Protocol):
    dim: int

    def add(self, rows: np.ndarray, vectors: np.ndarray) -> None: ...
    def remove(self, rows: np.ndarray) -> None: ...
    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]: ...
    def __len__(self) -> int: ...
    def save(self, directory: Path) -> None: ...


def open_store(uri: str, dim: int, directory: Path | None) -> VectorStore:
    """The local index's FAISS store named by `uri`, loaded from `directory` when it holds one."""
    from rag.store.faiss import FaissStore

    if uri not in ("faiss", "faiss:flat", "faiss:hnsw"):
        raise ConfigError(
            f"vector_store {uri!r}: unknown store (use faiss, faiss:flat, faiss:hnsw, "
            "milvus:PATH.db or milvus://host:port)"
        )
    if directory is not None and (directory / FaissStore.FILENAME).exists():
        return FaissStore.load(directory)
    return FaissStore(dim, kind="hnsw" if uri == "faiss:hnsw" else "flat")
