"""Ingest, re-ingest, replace, delete, persist, and atomic commits that never lose data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import IndexStoreError
from rag.index import Index
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.conftest import SEED


def _write(p: Path, title: str, text: str) -> Path:
    p.write_text(text)
    p.with_name(p.name + ".meta.json").write_text(json.dumps({"title": title, "source": "Test"}))
    return p


def test_reingest_is_noop_and_changed_file_replaces(pipe: Pipeline, tmp_path: Path) -> None:
    f = _write(
        tmp_path / "a.txt", "Dam", "The dam on the river burst on Monday. Ten homes flooded."
    )
    r1 = pipe.ingest([f])
    assert len(r1.added) == 1 and r1.chunks >= 1
    r2 = pipe.ingest([f])
    assert r2.unchanged == r1.added and not r2.added
    f.write_text("The dam on the river burst on Tuesday. Twelve homes flooded.")
    r3 = pipe.ingest([f])
    assert r3.replaced == r1.added and len(r3.added) == 1
    assert len(pipe.documents()) == 1
    hits = pipe.retrieve("When did the dam burst?")
    assert hits and all(h.chunk.doc_id == r3.added[0] for h in hits)


def test_delete_removes_from_every_store_and_persists(pipe: Pipeline, tmp_path: Path) -> None:
    a = _write(tmp_path / "a.txt", "Dam", "The dam on the river burst on Monday.")
    b = _write(tmp_path / "b.txt", "Vote", "The senate passed the farm bill by 60 votes.")
    pipe.ingest([a, b])
    dam = next(d["id"] for d in pipe.documents() if d["title"] == "Dam")
    assert pipe.delete([dam]) == [dam]
    assert pipe.delete([dam]) == []
    idx = pipe.index
    assert dam not in idx.documents and all(c.doc_id != dam for c in idx.chunks.values())
    assert len(idx.vectors) == len(idx.chunks)
    assert all(idx.chunk_at.get(r) for r, _ in idx.lexical.search("dam river burst", 10))
    reloaded = Index.open(Path(pipe.settings.index_dir), idx.dim)
    assert set(reloaded.documents) == set(idx.documents)
    assert len(reloaded.vectors) == len(idx.vectors)
    assert "settings.json" in {p.name for p in Path(pipe.settings.index_dir).iterdir()}


def test_bad_files_reported_good_ones_indexed(pipe: Pipeline, tmp_path: Path) -> None:
    pipe.ingest([SEED])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{oops\n')
    good = _write(tmp_path / "good.txt", "Dam", "The dam on the river burst on Monday.")
    report = pipe.ingest([bad, good])
    assert [e.path for e in report.errors] == [str(bad)] and "line 2" in report.errors[0].problem
    assert len(report.added) == 1
    assert len(pipe.documents()) == 2


def test_crash_during_commit_keeps_previous_generation(
    pipe: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe.ingest([SEED])
    before = {d["id"] for d in pipe.documents()}
    f = _write(tmp_path / "c.txt", "Dam", "The dam on the river burst on Monday.")

    def boom(directory: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pipe.index.lexical, "save", boom)
    with pytest.raises(IndexStoreError, match=r"disk full.*stays as committed before"):
        pipe.ingest([f])
    # the same pipeline reloaded what the disk holds: nothing answers from the lost write
    assert {d["id"] for d in pipe.documents()} == before
    assert not list(Path(pipe.settings.index_dir).glob(".gen-*.tmp"))
    fresh = Pipeline(
        Settings(index_dir=pipe.settings.index_dir, llm_backend="extractive"),
        embedder=pipe.embedder,
    )
    assert {d["id"] for d in fresh.documents()} == before


def test_settings_written_and_adopted(pipe: Pipeline) -> None:
    pipe.ingest([SEED])
    stored = json.loads((Path(pipe.settings.index_dir) / "settings.json").read_text())
    assert stored["chunk_tokens"] == pipe.settings.chunk_tokens
    other = Settings(index_dir=pipe.settings.index_dir, chunk_tokens=100)
    assert other.adopt_index(Path(pipe.settings.index_dir)).chunk_tokens == stored["chunk_tokens"]
