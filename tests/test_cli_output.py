"""What the CLI prints on stderr: one progress bar for long work, nothing else; `--quiet` none.

Runs the installed `newsrag` command in a subprocess (the real embedder and support model), as
a user's shell would, and reads its stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import CORPUS

NEWSRAG = [sys.executable, "-m", "rag.cli"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "default"}  # a warning would show
    return subprocess.run(
        [*NEWSRAG, *args], capture_output=True, text=True, timeout=600, env=env, check=False
    )


def test_ingest_shows_one_bar_and_other_commands_nothing(tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    quiet = _run("ingest", str(CORPUS), "--index", index, "--quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert "added 1" in quiet.stdout

    other = str(tmp_path / "other")
    loud = _run("ingest", str(CORPUS), "--index", other)
    assert loud.returncode == 0, loud.stderr
    assert "Loading weights" not in loud.stderr
    states = [s.strip() for s in loud.stderr.replace("\r", "\n").splitlines() if s.strip()]
    assert states and all(s.startswith("ingest:") for s in states), loud.stderr
    assert len(states) == len(set(states)), f"a state printed twice: {states}"
    assert "chunk" in states[-1] and states[-1].count("100%") == 1  # the rate, in chunks

    for args in (
        ("documents", "--index", index),
        ("summarize", "--index", index, "--llm-backend", "extractive"),
        (
            "ask",
            "Who",
            "makes",
            "the",
            "missiles?",
            "--index",
            index,
            "--llm-backend",
            "extractive",
        ),
    ):
        done = _run(*args)
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", f"{args[0]} wrote to stderr: {done.stderr[:500]}"
