"""kill -9 during real ingest/delete processes: the index reopens whole, at the state before or
after the command, and a re-run completes it; a full disk is one clear error, nothing lost.
(`newsrag bench crash --kills 50` is the long loop; this is a short one.)"""

from __future__ import annotations

from rag.eval.bench.crash import run_crash_bench


def test_kills_and_a_full_disk_lose_nothing() -> None:
    r = run_crash_bench(kills=3, seed=11, articles=12)
    assert r["kills"] == 3 and r["killed_mid_run"] >= 1
    assert r["inconsistent"] == 0 and r["neither_state"] == 0 and r["rerun_wrong"] == 0
    assert r["state_before"] + r["state_after"] == 3
    full = r["full_disk"]
    assert full["exit_code"] != 0 and full["index_unchanged"]
    assert "could not write" in full["stderr"] and "Traceback" not in full["stderr"]
