"""Many users at once on the app over loopback: `newsrag bench users` is the 20-user run (real
LLM); these are small runs with the extractive backend, and two with a planted fault each, so
the checks are seen to fail when writes are lost."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from rag.errors import LoadError
from rag.eval.bench.users import run_users_bench
from rag.pipeline import IngestReport, Pipeline
from rag.settings import Settings
from rag.turns import Turns
from rag.ui import library

SETTINGS = Settings(llm_backend="extractive")


def test_askers_uploaders_and_deleters_leave_the_index_they_asked_for() -> None:
    r = run_users_bench(SETTINGS, users=8, writers=3, requests=2, timeout=120)
    load = r["load"]
    assert load["errors"] == 0, load["error_samples"]
    assert r["ok"] and r["on_disk_as_expected"] and not r["on_disk_problems"]
    assert len(load["kept"]) == 3 and len(load["deleted"]) == 3 and not load["lost"]
    kinds = load["by_kind"]
    assert kinds["upload"]["n"] == 6 and kinds["delete"]["n"] == 3
    assert kinds["ask"]["n"] == 5 * 2 + 3  # askers' questions, and each writer's own
    assert 0 < kinds["ask"]["p50_s"] <= kinds["ask"]["p95_s"]


def test_a_delete_that_keeps_the_article_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Pipeline, "delete", lambda self, ids: list(ids))  # says done, keeps it
    r = run_users_bench(SETTINGS, users=3, writers=2, requests=2, timeout=120)
    assert not r["ok"] and not r["in_memory_as_expected"] and not r["on_disk_as_expected"]
    assert len(r["load"]["undeleted"]) == 2


def test_an_upload_that_is_never_indexed_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def claims_added(
        pipe: Pipeline, paths: list[str], progress: object
    ) -> tuple[IngestReport, list[LoadError]]:
        return IngestReport(added=[Path(p).name for p in paths], chunks=1), []  # indexes nothing

    monkeypatch.setattr(library, "ingest_uploads", claims_added)
    r = run_users_bench(SETTINGS, users=3, writers=1, requests=2, timeout=120)
    assert not r["ok"] and r["load"]["errors"] >= 2
    assert any("uploaded but not listed" in e for e in r["load"]["error_samples"])


def test_questions_take_turns_in_arrival_order() -> None:
    """Threads arrive one by one while the first holds its turn; they are served in that order
    (a plain lock wakes its waiters in no promised order)."""
    turns = Turns()
    served: list[int] = []
    first_in = threading.Event()
    release = threading.Event()

    def question(n: int) -> None:
        with turns.take():
            if n == 0:
                first_in.set()
                release.wait(10)
            served.append(n)

    threads = [threading.Thread(target=question, args=(0,))]
    threads[0].start()
    assert first_in.wait(10)
    for n in range(1, 8):
        t = threading.Thread(target=question, args=(n,))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 5
        while turns.waiting < n + 1 and time.monotonic() < deadline:  # it holds a ticket now
            time.sleep(0.001)
    release.set()
    for t in threads:
        t.join(10)
    assert served == list(range(8)) and turns.waiting == 0


def test_a_server_with_slots_lets_that_many_questions_in_at_once_in_order() -> None:
    """Width 2 (llama-server with two slots): two questions inside at once, never three, and the
    rest let in in arrival order as places free up."""
    turns = Turns()
    inside: list[int] = []
    most = [0]
    entered: list[int] = []
    lock = threading.Lock()
    release = {n: threading.Event() for n in range(6)}

    def question(n: int) -> None:
        with turns.take(2):
            with lock:
                inside.append(n)
                entered.append(n)
                most[0] = max(most[0], len(inside))
            release[n].wait(10)
            with lock:
                inside.remove(n)

    threads = []
    for n in range(6):
        t = threading.Thread(target=question, args=(n,))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 5
        while turns.waiting < n + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
    deadline = time.monotonic() + 5
    while len(entered) < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(0.05)
    assert entered == [0, 1]  # two in, four in line
    release[1].set()  # the second leaves first: the third comes in, not the sixth
    deadline = time.monotonic() + 5
    while len(entered) < 3 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert entered == [0, 1, 2]
    for n in range(6):
        release[n].set()
    for t in threads:
        t.join(10)
    assert entered == list(range(6)) and most[0] == 2 and turns.waiting == 0
