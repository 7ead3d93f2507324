"""`newsrag bench crash`: kill -9 real `newsrag ingest` / `newsrag delete` processes at random
moments, in a bounded loop, and check the index after every kill.

After each kill the index must open, pass its consistency check (`Index.problems`: documents,
chunks, vectors and BM25 agree) and hold exactly the documents of before the command or of after
it (a commit is atomic); then the same command is run again to the end and must leave exactly the
after-state. A last run with the file-size limit set (RLIMIT_FSIZE, what a full disk does to a
write) must fail with a one-line error and leave the index as it was. The articles are written
here: numbered sentences, distinct per article, so ids are stable across runs.
"""

from __future__ import annotations

import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rag.index import Index

DIM = 384


def _articles(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        lines = [f"Report {i}: council meeting number {i}."] + [
            f"On day {d} of session {i}, the council of district {i % 7} voted {d + i} to {d}."
            for d in range(1, 12)
        ]
        p = folder / f"article-{i:03d}.txt"
        p.write_text("\n\n".join(lines), encoding="utf-8")
        paths.append(p)
    return paths


def _state(index_dir: Path) -> tuple[frozenset[str], list[str], dict[str, str]]:
    """Document ids, consistency problems, and path -> id of what is committed."""
    index = Index.open(index_dir, DIM)
    by_path = {d.path: d.id for d in index.documents.values()}
    return frozenset(index.documents), index.problems(), by_path


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "rag.cli", *args]


def _fsize_limit(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def run_crash_bench(kills: int = 50, seed: int = 3, articles: int = 40) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="newsrag-crash-") as tmp:
        root = Path(tmp)
        files = _articles(root / "articles", articles)
        index_dir = root / "index"
        common = ["--index", str(index_dir), "--llm-backend", "extractive"]
        t = time.perf_counter()
        first = subprocess.run(
            _cli("ingest", *map(str, files[:5]), "--quiet", *common), stdout=subprocess.DEVNULL
        )
        assert first.returncode == 0, "the first ingest failed"
        run_s = time.perf_counter() - t
        ids_of: dict[str, str] = {}
        out: dict[str, Any] = {
            "kills": 0,
            "killed_mid_run": 0,
            "state_before": 0,
            "state_after": 0,
            "inconsistent": 0,
            "neither_state": 0,
            "rerun_wrong": 0,
            "commands": {"ingest": 0, "delete": 0},
            "normal_run_s": round(run_s, 2),
            "reopen_ms_max": 0.0,
        }
        for _ in range(kills):
            before, _, by_path = _state(index_dir)
            ids_of.update(by_path)
            if before and rng.random() < 0.35:
                gone = rng.sample(sorted(before), rng.randint(1, min(4, len(before))))
                cmd = _cli("delete", *gone, *common)
                after = before - set(gone)
                kind = "delete"
            else:
                pick = rng.sample(files, rng.randint(2, 8))
                cmd = _cli("ingest", *map(str, pick), "--quiet", *common)
                after = None  # known once a run has finished (ids come from the text)
                kind = "ingest"
            out["commands"][kind] += 1
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.05, run_s * 1.1))
            if proc.poll() is None:
                out["killed_mid_run"] += 1
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            out["kills"] += 1
            t = time.perf_counter()
            seen, problems, _ = _state(index_dir)
            out["reopen_ms_max"] = max(out["reopen_ms_max"], (time.perf_counter() - t) * 1000)
            out["inconsistent"] += bool(problems)
            if kind == "delete":  # what the killed run already deleted is not asked again
                left = [i for i in gone if i in seen]
                cmd = _cli("delete", *left, *common) if left else []
            rerun = (
                subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if cmd
                else subprocess.CompletedProcess([], 0)
            )
            final, problems, by_path = _state(index_dir)
            ids_of.update(by_path)
            if after is None:
                after = before | {ids_of[str(p)] for p in pick if str(p) in ids_of}
            if seen == before:
                out["state_before"] += 1
            elif seen == after:
                out["state_after"] += 1
            else:
                out["neither_state"] += 1
            out["rerun_wrong"] += bool(problems) or final != after or rerun.returncode != 0
        # a full disk, as the file-size limit makes it: a clear error, nothing lost
        before, _, _ = _state(index_dir)
        extra = _articles(root / "more", articles + 10)[articles:]
        full = subprocess.run(
            _cli("ingest", *map(str, extra), "--quiet", *common),
            capture_output=True,
            text=True,
            preexec_fn=lambda: _fsize_limit(4096),  # below every index file's size
        )
        after_full, problems, _ = _state(index_dir)
        out["full_disk"] = {
            "exit_code": full.returncode,
            "stderr": full.stderr.strip()[-400:],
            "index_unchanged": after_full == before and not problems,
        }
        out["reopen_ms_max"] = round(out["reopen_ms_max"], 1)
    _print(out)
    return out


def _print(r: dict[str, Any]) -> None:
    print(
        f"{r['kills']} kills ({r['killed_mid_run']} mid-run; {r['commands']}): index reopened at "
        f"the state before {r['state_before']}x, after {r['state_after']}x, neither "
        f"{r['neither_state']}x; inconsistent {r['inconsistent']}; re-runs wrong "
        f"{r['rerun_wrong']}; reopen <= {r['reopen_ms_max']} ms"
    )
    f = r["full_disk"]
    print(
        f"full disk: exit {f['exit_code']}, index unchanged {f['index_unchanged']}: {f['stderr']}"
    )
