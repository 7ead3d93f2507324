"""Shared fixtures: the real packaged embedder, a seed-article index, the public data path."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.embed import Embedder
from rag.llm.extractive import ExtractiveLLM
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings

CORPUS = PROJECT_ROOT / "corpus"
SEED = CORPUS / "japan-patriot-missile-exports.txt"


def _loopback(address: Any) -> bool:
    """Unix sockets and 127.0.0.0/8, ::1 or localhost: the only places a test may connect."""
    if not isinstance(address, tuple):
        return True  # AF_UNIX path (Milvus Lite, multiprocessing)
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a name to resolve: that is the network already


@pytest.fixture(autouse=True, scope="session")
def no_network() -> Iterator[None]:
    """Outbound connections fail the test that makes them: the product must run offline."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guard(address: Any) -> None:
        if not _loopback(address):
            raise OSError(f"test tried to reach {address!r}: only loopback is allowed")

    def connect(self: socket.socket, address: Any) -> None:
        guard(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard(address)
        return real_connect_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect, socket.socket.connect_ex = real_connect, real_connect_ex


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
