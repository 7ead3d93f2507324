"""Two app servers, one index: `newsrag serve` twice, as separate processes, both pointed at one
Milvus endpoint (Milvus Lite's own gRPC server, `milvus-lite server`, on a loopback port) and
at no local index. An article uploaded to A is answered by B with a citation of it; deleted on
A, the same question on B is refused."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("milvus_lite", reason="milvus-lite is not installed (newsrag[milvus])")
httpx = pytest.importorskip("httpx")

from rag.ui import load  # noqa: E402

TIMEOUT = 180.0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen, log: Path) -> None:
    """Until `url` answers (the server is up), or fail with the process's log."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < TIMEOUT:
        if proc.poll() is not None:
            pytest.fail(f"{url}: the process ended ({proc.returncode}):\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url}: no answer in {TIMEOUT:.0f} s:\n{log.read_text()[-2000:]}")


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    out = log.open("w")
    return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=log.parent)


@pytest.fixture()
def servers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    env = {
        **os.environ,
        "GRADIO_ANALYTICS_ENABLED": "False",
        "NEWSRAG_DIGEST_AT_START": "false",
    }
    procs: list[subprocess.Popen] = []
    try:
        mport = _port()
        milvus = _start(
            [
                sys.executable,
                "-m",
                "milvus_lite",
                "server",
                "--data-dir",
                str(tmp_path / "db"),
                "--host",
                "127.0.0.1",
                "--port",
                str(mport),
            ],
            tmp_path / "milvus.log",
            env,
        )
        procs.append(milvus)
        t0 = time.monotonic()
        while True:  # the gRPC port accepts connections
            try:
                socket.create_connection(("127.0.0.1", mport), timeout=1).close()
                break
            except OSError:
                if milvus.poll() is not None or time.monotonic() - t0 > 60:
                    pytest.fail((tmp_path / "milvus.log").read_text()[-2000:])
                time.sleep(0.3)
        urls = []
        for name in ("a", "b"):  # one after the other: A indexes the bundled article first
            port = _port()
            (tmp_path / name).mkdir()
            cmd = [
                sys.executable,
                "-m",
                "rag.cli",
                "serve",
                "--store",
                f"milvus://127.0.0.1:{mport}",
                "--llm-backend",
                "extractive",
                "--port",
                str(port),
            ]
            procs.append(_start(cmd, tmp_path / name / "serve.log", env))
            url = f"http://127.0.0.1:{port}"
            _wait(url + "/", procs[-1], tmp_path / name / "serve.log")
            urls.append(url)
        assert not (tmp_path / "a" / ".newsrag").exists()  # no local index was written
        yield urls[0], urls[1]
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_ingest_on_a_ask_on_b_delete_on_a_refused_on_b(
    servers: tuple[str, str], tmp_path: Path
) -> None:
    a, b = servers
    name, text, question, says = load.made_up_article(7, 3)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    title = text.split("\n", 1)[0]
    with httpx.Client(timeout=TIMEOUT) as client:
        up = load.upload(client, a, path, TIMEOUT)
        assert up.ok, up.error
        res, on_b = load.listed(client, b, TIMEOUT)  # B lists what A ingested
        assert res.ok and title in on_b, res.error
        doc_id = on_b[title]
        seen = load.ask(client, b, question, TIMEOUT, cites=doc_id, says=says)
        assert seen.ok and not seen.refused, seen.error
        gone = load.delete(client, a, doc_id, TIMEOUT)
        assert gone.ok, gone.error
        after = load.ask(client, b, question, TIMEOUT)
        assert after.ok and after.refused, after
        res, on_b = load.listed(client, b, TIMEOUT)
        assert res.ok and title not in on_b and len(on_b) == 1  # the bundled article stays
