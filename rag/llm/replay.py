"""A replay file of the local model's outputs, keyed by exact prompt: an opt-in for benchmarks.

Why: a refusal or news benchmark spends nearly all its time in the LLM (~15 s a question on two
cores), while most changes under study are to the checker and the refusal rules, which read the
model's draft and yes/no scores but do not change them. With `llm_replay` set, every reply and
every yes/no score is recorded under a hash of the model, the exact prompt and the generation
settings; a rerun takes the recorded value for a prompt seen before and runs the model only for
new prompts, so the same figures come out as from a full run (greedy decoding is deterministic).
Off by default: the app and the tests always run the model.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from rag.errors import ConfigError


class Replay:
    """An append-only JSONL of {"k": key, "v": value}; the last value of a key wins."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {}
        if self.path.exists():
            for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    self._values[row["k"]] = row["v"]
                except (json.JSONDecodeError, KeyError, TypeError) as e:
                    raise ConfigError(f"{self.path}: line {n} is not a replay record ({e})") from e

    @staticmethod
    def key(*parts: object) -> str:
        return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()

    def get(self, key: str) -> Any:
        return self._values.get(key)

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._values[key] = value
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"k": key, "v": value}, ensure_ascii=False) + "\n")

    def __len__(self) -> int:
        return len(self._values)
