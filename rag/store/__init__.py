"""Vector store seam: FAISS on local disk (default) or Milvus, chosen by `Settings.vector_store`:
`faiss` (`faiss:flat`), `faiss:hnsw`, `milvus` (Milvus Lite inside the index), `milvus:PATH.db`
(a Milvus Lite database) or `milvus://host:port` (a Milvus server or cluster).

A store maps integer row ids to unit vectors and answers inner-product top-k queries, optionally
restricted to an allowed set of rows (metadata filters are resolved to rows by the index, so
filtering happens inside the search, never after the top-k cut).
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
    """The store named by `uri`, loaded from `directory` when it holds one."""
    if uri in ("faiss", "faiss:flat", "faiss:hnsw"):
        from rag.store.faiss import FaissStore

        if directory is not None and (directory / FaissStore.FILENAME).exists():
            return FaissStore.load(directory)
        return FaissStore(dim, kind="hnsw" if uri == "faiss:hnsw" else "flat")
    if uri == "milvus" or uri.startswith("milvus:"):
        try:
            from rag.store.milvus import MilvusStore
        except ImportError as e:  # pymilvus is the optional `milvus` extra
            raise ConfigError(
                f"vector_store {uri!r}: Milvus needs pymilvus (pip install 'newsrag[milvus]'): {e}"
            ) from e
        return MilvusStore.open(uri, dim, directory)
    raise ConfigError(
        f"vector_store {uri!r}: unknown store (use faiss, faiss:flat, faiss:hnsw, milvus, "
        "milvus:PATH.db or milvus://host:port)"
    )
