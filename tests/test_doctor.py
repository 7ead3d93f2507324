"""`newsrag doctor` on a healthy index and on indexes damaged by hand in three ways."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.cli import main
from rag.pipeline import Pipeline


def _doctor(index: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(["doctor", "--index", str(index), "--llm-backend", "extractive"])
    return rc, capsys.readouterr().out


def _live(index: Path) -> Path:
    return index / (index / "CURRENT").read_text().strip()


def test_healthy_index(seed_pipe: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _doctor(Path(seed_pipe.settings.index_dir), capsys)
    assert rc == 0, out
    assert "FAIL" not in out and "vectors and BM25 agree" in out and "sha256 ok" in out


def _drop_last_chunk(gen: Path) -> None:
    lines = (gen / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    (gen / "chunks.jsonl").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")


def _edit_chunk_text(gen: Path) -> None:
    lines = (gen / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["text"] = "Japan approved nothing."
    (gen / "chunks.jsonl").write_text(
        "\n".join([json.dumps(first), *lines[1:]]) + "\n", encoding="utf-8"
    )


def _drop_document(gen: Path) -> None:
    (gen / "documents.jsonl").write_text("", encoding="utf-8")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (_drop_last_chunk, "vectors for"),
        (_edit_chunk_text, "text differs from their document"),
        (_drop_document, "not among the documents"),
    ],
)
def test_damaged_index_fails_with_a_fix(
    seed_pipe: Pipeline, capsys: pytest.CaptureFixture[str], damage, expected: str
) -> None:
    index = Path(seed_pipe.settings.index_dir)
    damage(_live(index))
    rc, out = _doctor(index, capsys)
    assert rc != 0
    assert "FAIL index" in out and expected in out and "fix:" in out
