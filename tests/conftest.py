"""Shared fixtures: the real packaged embedder, a seed-article index, the public data path."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from rag.embed import Embedder
from rag.llm.extractive import ExtractiveLLM
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings

CORPUS = PROJECT_ROOT / "corpus"
SEED = CORPUS / "japan-patriot-missile-exports.txt"


def data_dir() -> Path:
    return Path(os.environ.get("NEWSRAG_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def need_data(rel: str) -> Path:
    p = data_dir() / rel
    if not p.exists():
        pytest.skip(f"public data set not found at {p} (set NEWSRAG_DATA to its folder)")
    return p


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index", llm_backend="extractive")


@pytest.fixture()
def pipe(settings: Settings, embedder: Embedder) -> Pipeline:
    return Pipeline(settings, llm=ExtractiveLLM(), embedder=embedder)


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """An index of the bundled corpus, built once; tests copy it before writing."""
    d = tmp_path_factory.mktemp("seed") / "index"
    p = Pipeline(Settings(index_dir=d, llm_backend="extractive"), embedder=embedder)
    report = p.ingest([CORPUS])
    assert report.added and not report.errors
    return d


@pytest.fixture()
def seed_pipe(seed_index: Path, tmp_path: Path, embedder: Embedder) -> Pipeline:
    d = tmp_path / "index"
    shutil.copytree(seed_index, d)
    return Pipeline(
        Settings(index_dir=d, llm_backend="extractive"), llm=ExtractiveLLM(), embedder=embedder
    )


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Pipeline:
    """The bundled corpus with the real local LLM: one model load for every slow test."""
    d = tmp_path_factory.mktemp("real") / "index"
    p = Pipeline(Settings(index_dir=d, llm_backend="local"), embedder=embedder)
    p.ingest([CORPUS])
    return p
