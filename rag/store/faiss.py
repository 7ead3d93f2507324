"""FAISS store: exact inner product over unit vectors, with deletes and in-search filters.

Written over faiss directly rather than llama-index's FaissVectorStore because that store can
neither delete vectors nor filter by metadata; here an IndexIDMap2 keeps our row ids (so deletes
are `remove_ids`) and an IDSelectorBatch restricts a search to the rows that pass the filters.
"""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np


class FaissStore:
    FILENAME = "vectors.faiss"

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        if len(rows) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.index.add_with_ids(vectors, np.asarray(rows, dtype=np.int64))

    def remove(self, rows: np.ndarray) -> None:
        if len(rows):
            self.index.remove_ids(np.asarray(rows, dtype=np.int64))

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        if len(self) == 0 or k <= 0:
            return []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params = None
        if allowed is not None:
            if len(allowed) == 0:
                return []
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed.astype(np.int64)))
            k = min(k, len(allowed))
        scores, ids = self.index.search(q, min(k, len(self)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def save(self, directory: Path) -> None:
        tmp = directory / (self.FILENAME + ".tmp")
        faiss.write_index(self.index, str(tmp))
        os.replace(tmp, directory / self.FILENAME)

    @classmethod
    def load(cls, directory: Path) -> FaissStore:
        index = faiss.read_index(str(directory / cls.FILENAME))
        return cls(index.d, index)
