"""`newsrag bench users`: 20 people on the app at once, asking, uploading and deleting.

The app is served here, on a free loopback port, over a fresh index of the bundled corpus,
exactly as `newsrag serve` builds it (same Pipeline, same queue and concurrency groups); the
users are `rag.ui.load`'s threads talking HTTP to it. Afterwards the index must hold what the
users left (the corpus, plus every upload kept, minus every one deleted) three ways: as the
running app lists it, as the pipeline holds it in memory, and as a fresh process would open it
from disk, where `newsrag doctor`'s index check (documents, chunks, vectors, BM25 and the
manifest agree) must pass. Figures are the load client's per-operation p50/p95.
"""

from __future__ import annotations

import socket
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rag.doctor import CHECKS
from rag.index import Index
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings
from rag.ui import load


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_users_bench(
    settings: Settings,
    users: int = 20,
    writers: int = 4,
    requests: int = 2,
    timeout: float = 900.0,
    corpus: Path | None = None,
) -> dict[str, Any]:
    from rag.ui.app import build_app, launch_options

    with tempfile.TemporaryDirectory(prefix="newsrag-users-") as tmp:
        s = settings.with_overrides(index_dir=Path(tmp) / "index", port=_free_port())
        pipe = Pipeline(s)
        pipe.ingest([corpus or PROJECT_ROOT / "corpus"])
        before = set(pipe.index.documents)
        pipe.warm()  # as `serve` does in the background: the figures are of a warm app
        app = build_app(pipe)
        app.launch(prevent_thread_lock=True, quiet=True, **launch_options(s))
        try:
            rep = load.run(f"http://127.0.0.1:{s.port}", users, requests, timeout, writers)
        finally:
            app.close()
        expected = (before | set(rep.kept)) - set(rep.deleted)
        in_memory = set(pipe.index.documents)
        on_disk = Index.open(Path(s.index_dir), pipe.embedder.dim, s.vector_store)
        doctor = CHECKS["index"](s)
        record: dict[str, Any] = {
            "bench": "users",
            "llm_backend": s.llm_backend,
            "load": asdict(rep),
            "documents_expected": len(expected),
            "in_memory_as_expected": in_memory == expected,
            "on_disk_as_expected": set(on_disk.documents) == expected,
            "on_disk_problems": on_disk.problems(),
            "doctor_index_ok": doctor.ok,
            "doctor_index": doctor.detail,
        }
    record["ok"] = bool(
        rep.errors == 0
        and record["in_memory_as_expected"]
        and record["on_disk_as_expected"]
        and record["doctor_index_ok"]
    )
    print(load.summary(rep))
    print(
        f"index afterwards: {record['documents_expected']} documents expected; in memory as "
        f"expected {record['in_memory_as_expected']}, on disk as expected "
        f"{record['on_disk_as_expected']}; doctor: {doctor.detail}"
    )
    return record
