"""FAISS stores: flat and HNSW give the same neighbours, delete and filter inside the search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.store import open_store
from rag.store.faiss import FaissStore


def _vectors(n: int, dim: int = 32) -> np.ndarray:
    v = np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("uri", ["faiss", "faiss:hnsw"])
def test_store_search_delete_filter_persist(uri: str, tmp_path: Path) -> None:
    v = _vectors(500)
    store = open_store(uri, 32, None)
    rows = np.arange(1000, 1500)
    store.add(rows, v)
    top = store.search(v[7], 5)
    assert top[0][0] == 1007 and top[0][1] == pytest.approx(1.0, abs=1e-4)
    store.remove(np.array([1007, 1008]))
    assert len(store) == 498 and all(r not in (1007, 1008) for r, _ in store.search(v[7], 20))
    allowed = np.array([1100, 1200, 1300])
    assert {r for r, _ in store.search(v[7], 10, allowed)} == {1100, 1200, 1300}
    store.save(tmp_path)
    again = FaissStore.load(tmp_path)
    assert again.kind == ("hnsw" if uri.endswith("hnsw") else "flat")
    assert again.search(v[9], 1)[0][0] == 1009
