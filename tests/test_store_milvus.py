"""Milvus store against a real Milvus Lite: same neighbours as FAISS flat, filters inside the
search, deletes, persistence through index generations, and the whole pipeline on the corpus."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.embed import Embedder
from rag.errors import ConfigError, IndexStoreError
from rag.llm.extractive import ExtractiveLLM
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.store import VectorStore, open_store
from rag.store.faiss import FaissStore
from tests.conftest import CORPUS

pytest.importorskip("pymilvus", reason="pymilvus is not installed (pip install 'newsrag[milvus]')")
pytest.importorskip(
    "milvus_lite", reason="milvus-lite cannot be imported (pip install 'newsrag[milvus]')"
)
from rag.store.milvus import MilvusStore

DIM = 32


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(params=["private", "file"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """`milvus` (Lite inside the index) and `milvus:PATH.db` (a Lite database of its own)."""
    return "milvus" if request.param == "private" else f"milvus:{tmp_path / 'lite.db'}"


def _pair(uri: str, n: int = 400) -> tuple[VectorStore, FaissStore, np.ndarray, np.ndarray]:
    v, rows = _vectors(n), np.arange(1000, 1000 + n, dtype=np.int64)
    milvus, flat = open_store(uri, DIM, None), FaissStore(DIM)
    milvus.add(rows, v)
    flat.add(rows, v)
    return milvus, flat, v, rows


def _same(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    assert [r for r, _ in got] == [r for r, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-4)


def test_same_top_rows_and_scores_as_faiss_flat(uri: str) -> None:
    milvus, flat, v, _ = _pair(uri)
    assert isinstance(milvus, MilvusStore) and len(milvus) == 400
    for q in [*v[:3], *_vectors(5, seed=1)]:
        _same(milvus.search(q, 10), flat.search(q, 10))
    assert milvus.search(v[7], 1)[0] == (1007, pytest.approx(1.0, abs=1e-4))
    assert milvus.search(v[7], 0) == []


def test_allowed_rows_filter_inside_the_search(uri: str) -> None:
    milvus, flat, v, rows = _pair(uri)
    few = np.array([1100, 1200, 1300])
    assert {r for r, _ in milvus.search(v[7], 10, few)} == {1100, 1200, 1300}
    # the best rows are excluded: filtering after a top-k cut would return nothing here
    rest = rows[rows % 2 == 0][50:]
    got = milvus.search(v[7], 10, rest)
    assert len(got) == 10 and set(r for r, _ in got) <= set(rest.tolist())
    _same(got, flat.search(v[7], 10, rest))
    assert milvus.search(v[7], 5, np.array([], dtype=np.int64)) == []


def test_remove_and_len(uri: str) -> None:
    milvus, flat, v, _ = _pair(uri)
    gone = np.array([1007, 1008, 1100])
    milvus.remove(gone)
    flat.remove(gone)
    assert len(milvus) == 397
    assert all(r not in (1007, 1008) for r, _ in milvus.search(v[7], 20))
    _same(milvus.search(v[7], 10), flat.search(v[7], 10))
    milvus.add(np.array([1007]), v[7:8])  # a row can come back
    assert len(milvus) == 398 and milvus.search(v[7], 1)[0][0] == 1007


def test_persists_across_reopen_from_a_generation(uri: str, tmp_path: Path) -> None:
    milvus, flat, v, _ = _pair(uri)
    gen = tmp_path / "gen-000001"
    gen.mkdir()
    milvus.save(gen)
    milvus.add(np.array([5000]), _vectors(1, seed=2))  # still usable after saving
    assert len(milvus) == 401
    again = open_store(uri, DIM, gen)
    assert isinstance(again, MilvusStore) and again.collection == milvus.collection
    assert again.dim == DIM
    if uri == "milvus":
        # the generation holds its own copy: what changed after the save is not in it
        assert sorted(p.name for p in gen.iterdir()) == ["milvus.json", "vectors.milvus.zip"]
        assert len(again) == 400
    _same(again.search(v[9], 10), flat.search(v[9], 10))


def test_private_lite_copies_are_independent(tmp_path: Path) -> None:
    store = open_store("milvus", DIM, None)
    store.add(np.arange(10), _vectors(10))
    gen = tmp_path / "gen"
    gen.mkdir()
    store.save(gen)
    a, b = open_store("milvus", DIM, gen), open_store("milvus", DIM, gen)
    a.remove(np.arange(5))
    assert len(a) == 5 and len(b) == 10


def test_collections_of_two_indexes_do_not_collide(tmp_path: Path) -> None:
    uri = f"milvus:{tmp_path / 'shared.db'}"
    one, two = open_store(uri, DIM, None), open_store(uri, DIM, None)
    one.add(np.arange(5), _vectors(5))
    two.add(np.arange(3), _vectors(3, seed=3))
    assert (len(one), len(two)) == (5, 3)


def test_errors_name_the_uri_and_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="milvus:nowhere"):
        open_store("milvus:nowhere", DIM, None)
    with pytest.raises(ConfigError, match="milvus://host:port"):
        open_store("milvus://", DIM, None)
    with pytest.raises(ConfigError, match=r"milvus:PATH\.db or milvus://host:port"):
        open_store("qdrant", DIM, None)
    down = open_store("milvus://127.0.0.1:1", DIM, None)  # nothing listens on port 1
    with pytest.raises(IndexStoreError, match=r"'milvus://127\.0\.0\.1:1'.*cannot connect"):
        down.search(_vectors(1)[0], 3)
    gen = tmp_path / "gen"
    gen.mkdir()
    (gen / MilvusStore.FILENAME).write_text('{"collection": "newsrag_gone", "dim": 32}')
    lost = open_store(f"milvus:{tmp_path / 'x.db'}", DIM, gen)
    with pytest.raises(IndexStoreError, match="newsrag_gone is missing"):
        len(lost)
    with pytest.raises(IndexStoreError, match=MilvusStore.ARCHIVE):
        open_store("milvus", DIM, gen)
    (gen / MilvusStore.ARCHIVE).write_bytes(b"not a zip")
    with pytest.raises(IndexStoreError, match="damaged Milvus Lite database"):
        open_store("milvus", DIM, gen)


def test_missing_packages_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "milvus_lite" else find_spec(name, *a),
    )
    with pytest.raises(ConfigError, match="'milvus': Milvus Lite is not installed"):
        len(open_store("milvus", DIM, None))
    monkeypatch.setitem(sys.modules, "rag.store.milvus", None)  # as if pymilvus were absent
    with pytest.raises(ConfigError, match="'milvus://db:19530': Milvus needs pymilvus"):
        open_store("milvus://db:19530", DIM, None)


def test_settings_record_an_absolute_lite_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings(vector_store="milvus:v.db").vector_store == f"milvus:{tmp_path / 'v.db'}"
    assert Settings(vector_store="milvus://db:19530").vector_store == "milvus://db:19530"


def test_pipeline_on_milvus_lite_matches_faiss(
    seed_pipe: Pipeline, embedder: Embedder, tmp_path: Path
) -> None:
    settings = Settings(index_dir=tmp_path / "m", llm_backend="extractive", vector_store="milvus")
    pipe = Pipeline(settings, llm=ExtractiveLLM(), embedder=embedder)
    report = pipe.ingest([CORPUS])
    assert report.added and not report.errors
    assert isinstance(pipe.index.vectors, MilvusStore)
    assert len(pipe.index.vectors) == len(seed_pipe.index.vectors)
    gen = sorted((tmp_path / "m").glob("gen-*"))[-1]
    assert (gen / MilvusStore.ARCHIVE).exists() and not (gen / FaissStore.FILENAME).exists()

    questions = [
        "Who manufactures the Patriot missiles in Japan?",
        "What is Japan considering exporting to the UK?",
        "What is the best recipe for banana bread?",
    ]
    # a fresh Pipeline reopens the committed generation (vector_store adopted from settings.json)
    reopened = Pipeline(
        Settings(index_dir=tmp_path / "m", llm_backend="extractive"),
        llm=ExtractiveLLM(),
        embedder=embedder,
    )
    assert reopened.settings.vector_store == "milvus"
    assert len(reopened.index.vectors) == len(seed_pipe.index.vectors)
    for p in (pipe, reopened):
        for q in questions:
            want, got = seed_pipe.ask(q), p.ask(q)
            assert [h.chunk.id for h in got.retrieved] == [h.chunk.id for h in want.retrieved]
            assert (got.text, got.refused) == (want.text, want.refused)
            assert [c.quote for c in got.citations] == [c.quote for c in want.citations]
    assert not pipe.ask(questions[0]).refused

    # a document filter reaches the store as allowed rows; a delete commits a new generation
    doc_id = next(iter(reopened.index.documents))
    only = {"doc_ids": [doc_id]}
    got = [h.chunk.id for h in reopened.retrieve(questions[1], only)]
    assert got == [h.chunk.id for h in seed_pipe.retrieve(questions[1], only)]
    assert reopened.delete([doc_id]) == [doc_id] and len(reopened.index.vectors) == 0
    after = Pipeline(Settings(index_dir=tmp_path / "m"), llm=ExtractiveLLM(), embedder=embedder)
    assert len(after.index.vectors) == 0 and not after.index.documents
