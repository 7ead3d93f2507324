"""The benchmark replay file: recorded replies and yes/no scores come back without the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.judge import yes_no_many
from rag.llm.replay import Replay


class _NoModel:
    """An LLM whose model must never be touched: only the replay may answer."""

    name = "local:test.gguf"

    def __init__(self, replay: Replay) -> None:
        self.replay = replay

    @property
    def raw(self) -> object:
        raise AssertionError("the model was run although every score was recorded")


class _Unloaded:
    def __getattr__(self, name: str) -> object:
        raise AssertionError("the model was loaded although the reply was recorded")


def test_replay_survives_reopening_and_last_value_wins(tmp_path: Path) -> None:
    path = tmp_path / "replay.jsonl"
    r = Replay(path)
    k = Replay.key("reply", "m", "prompt", 160, 0.0)
    assert r.get(k) is None
    r.put(k, "first")
    r.put(k, "second")
    again = Replay(path)
    assert again.get(k) == "second" and len(again) == 1
    assert Replay.key("reply", "m", "prompt", 160, 0.0) != Replay.key(
        "reply", "m", "prompt", 80, 0.0
    )


def test_bad_replay_line_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "replay.jsonl"
    path.write_text(json.dumps({"k": "a", "v": 1}) + "\nnot json\n")
    with pytest.raises(ConfigError, match=r"replay.jsonl: line 2"):
        Replay(path)


def test_yes_no_scores_come_from_the_replay_when_all_are_recorded(tmp_path: Path) -> None:
    r = Replay(tmp_path / "replay.jsonl")
    llm = _NoModel(r)
    for suffix, v in (("a", 1.25), ("b", -0.5)):
        r.put(Replay.key("yes_no", llm.name, "prefix", suffix), v)
    assert yes_no_many(llm, "prefix", ["a", "b"]) == [1.25, -0.5]
    with pytest.raises(AssertionError, match="model was run"):
        yes_no_many(llm, "prefix", ["a", "c"])  # one unrecorded: the model runs for all


def test_local_llm_replays_a_recorded_reply_without_loading_the_model(tmp_path: Path) -> None:
    from rag.llm import ChatMessage, chatml
    from rag.llm.local import LocalLLM
    from rag.settings import Settings

    settings = Settings(llm_replay=tmp_path / "replay.jsonl")
    try:
        llm = LocalLLM(settings)
    except Exception as e:  # the packaged model is assembled by `make setup`
        pytest.skip(f"packaged LLM not set up: {e}")
    messages = [ChatMessage(role="user", content="When?")]
    key = Replay.key("reply", llm.name, chatml(messages), 40, settings.llm_temperature)
    llm.replay.put(key, "In 2014 [1].")  # type: ignore[union-attr]
    llm.__dict__["llama_index_llm"] = _Unloaded()  # what the cached_property would hold
    assert llm.complete(messages, 40) == "In 2014 [1]."
