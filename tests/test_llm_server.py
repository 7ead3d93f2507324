"""llama-server as the LLM engine (rag.llm.server): its command line from settings, a missing
binary named, the yes/no judge reading a server's top log-probabilities (from a recorded
response), start / health / stop against a stand-in binary (no orphans, even when Python is
killed), and one slow test on the real binary with the packaged model."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.answerable import ASK, CHECK, SYSTEM, USER, answerable_logodds
from rag.errors import ConfigError, ModelError
from rag.judge import gives_token_probabilities, logodds_from_top, yes_no, yes_no_many
from rag.llm import ChatMessage, chatml, load_llm, unchatml
from rag.llm.openai import TOP_LOGPROBS, OpenAICompatibleLLM, first_token_top_logprobs
from rag.llm.server import (
    LLAMA_VERSION,
    LlamaServer,
    ServerLLM,
    default_binary,
    server_binary,
    server_command,
)
from rag.models import llm_path
from rag.settings import PROJECT_ROOT, Settings
from rag.types import Chunk, Hit
from tests.conftest import SEED

# A chat completion as llama-server returns it with "logprobs": true, "top_logprobs": 5 and
# "max_tokens": 1, written by hand in its layout (ids, bytes and the extra fields trimmed).
RECORDED = {
    "choices": [
        {
            "finish_reason": "length",
            "index": 0,
            "message": {"role": "assistant", "content": "Yes"},
            "logprobs": {
                "content": [
                    {
                        "id": 9454,
                        "token": "Yes",
                        "bytes": [89, 101, 115],
                        "logprob": -0.0513,
                        "top_logprobs": [
                            {
                                "id": 9454,
                                "token": "Yes",
                                "bytes": [89, 101, 115],
                                "logprob": -0.0513,
                            },
                            {"id": 2753, "token": "No", "bytes": [78, 111], "logprob": -3.1},
                            {"id": 9693, "token": "yes", "bytes": [121, 101, 115], "logprob": -5.2},
                            {"id": 785, "token": "The", "bytes": [84, 104, 101], "logprob": -6.0},
                            {
                                "id": 7414,
                                "token": " Yes",
                                "bytes": [32, 89, 101, 115],
                                "logprob": -7.5,
                            },
                        ],
                    }
                ]
            },
        }
    ],
    "created": 1765000000,
    "model": "qwen2.5-coder-1.5b-instruct-q4_k_m",
    "object": "chat.completion",
    "usage": {"completion_tokens": 1, "prompt_tokens": 88, "total_tokens": 89},
}


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF")
    base: dict[str, Any] = {
        "index_dir": tmp_path / "index",
        "cache_dir": tmp_path / "cache",
        "llm_model": str(model),
        "llm_backend": "server",
    }
    return Settings(**{**base, **kw})


# ---- command line and binary ----------------------------------------------------------------
def test_the_command_line_comes_from_settings(tmp_path: Path) -> None:
    s = _settings(tmp_path, llm_server_slots=3, llm_threads=2, llm_context=1024)
    binary = tmp_path / "bin" / "llama-server"
    cmd = server_command(s, binary, Path(s.llm_model), 45678)
    assert cmd[0] == str(binary)

    def flags(name: str) -> str:
        return cmd[cmd.index(name) + 1]

    assert flags("--model") == s.llm_model
    assert flags("--host") == "127.0.0.1"
    assert flags("--port") == "45678"
    assert flags("--parallel") == "3"
    assert flags("--threads") == "2"
    assert flags("--ctx-size") == str(1024 * 3)  # llm_context for each slot
    assert "--cont-batching" in cmd
    more = _settings(tmp_path, llm_server_args="--spec-type ngram-simple --alias 'two words'")
    tail = server_command(more, binary, Path(s.llm_model), 45678)[len(cmd) :]
    assert tail == ["--spec-type", "ngram-simple", "--alias", "two words"]


def test_the_binary_defaults_to_the_cached_build_and_a_setting_overrides_it(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    assert s.llm_server_slots == 2
    assert server_binary(s) == tmp_path / "cache" / "bin" / f"llama-server-{LLAMA_VERSION}"
    assert default_binary(s.cache_dir) == server_binary(s)
    other = tmp_path / "elsewhere" / "llama-server"
    assert server_binary(s.with_overrides(llm_server_bin=other)) == other
    # the Makefile builds the binary this module looks for
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert re.search(rf"^LLAMA_VERSION := {re.escape(LLAMA_VERSION)}$", makefile, re.MULTILINE)
    assert "SERVER_BIN := $(CACHE)/bin/llama-server-$(LLAMA_VERSION)" in makefile


def test_a_missing_binary_is_a_config_error_naming_it(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    missing = server_binary(s)
    with pytest.raises(ConfigError, match="run make setup") as e:
        LlamaServer(s).start()
    assert str(missing) in str(e.value)
    llm = load_llm(s)  # the backend is registered and starts nothing until asked
    assert isinstance(llm, ServerLLM)
    with pytest.raises(ConfigError, match=re.escape(str(missing))):
        llm.complete([ChatMessage(role="user", content="Hi")], 4)


def test_the_backend_offers_token_probabilities_without_starting_anything(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    llm = ServerLLM(s)
    assert gives_token_probabilities(llm)
    assert "server" not in llm.__dict__  # not started by asking
    openai = OpenAICompatibleLLM(s.with_overrides(llm_backend="openai"))
    assert not gives_token_probabilities(openai)  # opt-in for a server we did not start
    assert gives_token_probabilities(
        OpenAICompatibleLLM(s.with_overrides(llm_backend="openai", openai_logprobs=True))
    )


# ---- log-probabilities --------------------------------------------------------------------
def test_top_logprobs_are_read_from_a_recorded_response() -> None:
    top = first_token_top_logprobs(RECORDED)
    assert top == {"Yes": -0.0513, "No": -3.1, "yes": -5.2, "The": -6.0, " Yes": -7.5}
    yes = np.logaddexp.reduce([-0.0513, -5.2, -7.5])  # "Yes", "yes", " Yes" as the local judge
    assert logodds_from_top(top) == pytest.approx(yes - (-3.1))


def test_a_side_missing_from_top_logprobs_is_bounded_by_the_lowest_listed() -> None:
    top = {"Yes": -0.01, "Sure": -5.0, "The": -8.0}
    assert logodds_from_top(top) == pytest.approx(-0.01 - (-8.0))
    top = {"No": -0.02, " no": -6.0, "Not": -9.5}
    assert logodds_from_top(top) == pytest.approx(-9.5 - (-0.02))


def test_two_tokens_printing_alike_add_up_and_no_logprobs_is_an_error() -> None:
    doubled = json.loads(json.dumps(RECORDED))
    top = doubled["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    top.append({"id": 1, "token": "No", "bytes": [78, 111], "logprob": -3.1})
    assert first_token_top_logprobs(doubled)["No"] == pytest.approx(-3.1 + np.log(2))
    plain = json.loads(json.dumps(RECORDED))
    plain["choices"][0]["logprobs"] = None  # a server that does not give them
    with pytest.raises(ModelError, match="no token log-probabilities"):
        first_token_top_logprobs(plain)


def _judge_prompt(question: str, text: str) -> str:
    user = USER.format(title="Japan changes arms export rules", text=text, question=question)
    return chatml(
        [ChatMessage(role="system", content=SYSTEM), ChatMessage(role="user", content=user)]
    )


def test_chatml_prompts_go_back_to_the_messages_they_were_written_from() -> None:
    messages = [
        ChatMessage(role="system", content=SYSTEM),
        ChatMessage(role="user", content="Passage: a\n\nb\n\nQuestion: c?"),
    ]
    assert [(m.role, m.content) for m in unchatml(chatml(messages))] == [
        (m.role, m.content) for m in messages
    ]
    # the answer check's prompt: the gate's prefix with another ending
    prefix, tail = _judge_prompt("Who?", "Text.").split(ASK)
    checked = unchatml(prefix + CHECK.format(answer="Mitsubishi") + tail)
    assert checked[-1].content.endswith("correct according to the passage? Answer Yes or No.")
    with pytest.raises(ValueError):
        unchatml("plain text")


class FakeServerLLM:
    """A backend behind a server: first-token log-probabilities, no logits."""

    name = "fake-server"
    token_logprobs = True

    def __init__(self) -> None:
        self.asked: list[list[ChatMessage]] = []

    def first_token_logprobs(self, messages: list[ChatMessage]) -> dict[str, float]:
        self.asked.append(messages)
        text = str(messages[-1].content)
        sure = "Patriot" in text.split("Question:")[-1]
        return {"Yes": -0.1, "No": -2.5} if sure else {"No": -0.2, "Yes": -3.0}


def test_the_judge_asks_a_server_the_same_prompts_as_messages() -> None:
    llm = FakeServerLLM()
    prompt = _judge_prompt("Who makes the Patriot missiles?", "Mitsubishi makes them.")
    assert yes_no(llm, prompt) == pytest.approx(2.4)
    assert [m.role.value for m in llm.asked[0]] == ["system", "user"]
    assert llm.asked[0][0].content == SYSTEM
    prefix, tail = prompt.split(ASK)
    scores = yes_no_many(llm, prefix, [ASK + tail, CHECK.format(answer="Mitsubishi") + tail])
    assert len(scores) == 2 and len(llm.asked) == 3
    assert llm.asked[2][-1].content.startswith(llm.asked[1][-1].content.split("Question:")[0])


def test_the_gate_runs_on_a_server_backend() -> None:
    llm = FakeServerLLM()
    chunk = Chunk(
        id="d1:0",
        doc_id="d1",
        text="Mitsubishi makes Patriot missiles.",
        start=0,
        end=34,
        sentences=((0, 34),),
    )
    hits = [Hit(chunk=chunk, score=1.0)]
    odds = answerable_logodds(llm, "Who makes the Patriot missiles?", hits, {"d1": "Japan"})
    assert odds == pytest.approx(2.4)
    assert answerable_logodds(llm, "What is Tokyo's population?", hits, {}) == pytest.approx(-2.8)


# ---- a stand-in binary: start, health, the OpenAI path, stop, no orphans -------------------
FAKE = """\
#!{python}
# Stands in for llama-server: /health, and /v1/chat/completions (streamed or with logprobs).
import json, os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = sys.argv[1:]
value = lambda flag: args[args.index(flag) + 1]
with open({log!r}, "a") as f:
    f.write(json.dumps({{"argv": args, "pid": os.getpid()}}) + "\\n")
time.sleep(0.3)  # a model loads


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _send(self, code, body, kind="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            self._send(200, '{{"status": "ok"}}')
        else:
            self._send(404, "{{}}")

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with open({log!r}, "a") as f:
            f.write(json.dumps({{"request": body}}) + "\\n")
        base = {{"id": "x", "created": 0, "model": body["model"]}}
        if body.get("stream"):
            out = ""
            for word in ["Mitsubishi ", "makes ", "them."]:
                chunk = dict(base, object="chat.completion.chunk", choices=[
                    {{"index": 0, "delta": {{"content": word}}, "finish_reason": None}}])
                out += "data: " + json.dumps(chunk) + "\\n\\n"
            if (body.get("stream_options") or {{}}).get("include_usage"):
                chunk = dict(base, object="chat.completion.chunk", choices=[], usage={{
                    "prompt_tokens": 30, "completion_tokens": 3, "total_tokens": 33,
                    "prompt_tokens_details": {{"cached_tokens": 12}}}})
                out += "data: " + json.dumps(chunk) + "\\n\\n"
            self._send(200, out + "data: [DONE]\\n\\n", "text/event-stream")
            return
        user = body["messages"][-1]["content"]
        yes = -0.1 if "Patriot" in user.split("Question:")[-1] else -4.0
        top = [{{"token": "Yes", "logprob": yes}}, {{"token": "No", "logprob": -1.0}}]
        reply = dict(base, object="chat.completion", choices=[{{
            "index": 0, "finish_reason": "length",
            "message": {{"role": "assistant", "content": "Yes"}},
            "logprobs": {{"content": [dict(top[0], top_logprobs=top)]}}}}],
            usage={{"prompt_tokens": 50, "completion_tokens": 1, "total_tokens": 51}})
        self._send(200, json.dumps(reply))


ThreadingHTTPServer((value("--host"), int(value("--port"))), Handler).serve_forever()
"""


@pytest.fixture()
def fake(tmp_path: Path) -> tuple[Settings, Path]:
    log = tmp_path / "fake.log"
    binary = tmp_path / "bin" / "llama-server"
    binary.parent.mkdir()
    binary.write_text(FAKE.format(python=sys.executable, log=str(log)))
    binary.chmod(0o755)
    return _settings(tmp_path, llm_server_bin=binary, llm_server_slots=2, llm_threads=1), log


def _gone(pid: int) -> bool:
    """No such process, or a zombie nobody reaped yet (it runs nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


def _stop(llm: ServerLLM) -> None:
    server = llm.__dict__.get("server")  # started, or not: never start one to stop it
    if server is not None:
        server.stop()


def test_the_server_starts_answers_through_the_openai_backend_and_stops(
    fake: tuple[Settings, Path],
) -> None:
    settings, log = fake
    llm = ServerLLM(settings)
    try:
        text = llm.complete([ChatMessage(role="user", content="Who?")], 8)
        assert text == "Mitsubishi makes them."
        # the usage record's prompt tokens less those the server had cached, per thread
        assert llm.prompt_tokens() == (18, 12)
        server = llm.server
        assert server.running and server.url.startswith("http://127.0.0.1:")
        prompt = _judge_prompt("Who makes the Patriot missiles?", "Mitsubishi makes them.")
        assert yes_no(llm, prompt) == pytest.approx(0.9)
        assert yes_no(llm, _judge_prompt("What is Tokyo's population?", "x")) == pytest.approx(-3)
        assert llm.prompt_tokens() == (118, 12)  # two judgments without cached_tokens
        elsewhere: list[tuple[int, int]] = []
        worker = threading.Thread(target=lambda: elsewhere.append(llm.prompt_tokens()))
        worker.start()
        worker.join()
        assert elsewhere == [(0, 0)]  # another thread's question counts its own
        rows = [json.loads(line) for line in log.read_text().splitlines()]
        argv = rows[0]["argv"]
        assert argv[argv.index("--parallel") + 1] == "2"
        asked = [r["request"] for r in rows if "request" in r and not r["request"].get("stream")]
        assert asked[0]["logprobs"] is True and asked[0]["top_logprobs"] == TOP_LOGPROBS
        assert asked[0]["max_tokens"] == 1
        assert [m["role"] for m in asked[0]["messages"]] == ["system", "user"]
        pid = server.process.pid if server.process else -1
        url = server.url
        os.kill(pid, signal.SIGKILL)  # the server dies under the app: the next call restarts it
        deadline = time.monotonic() + 5
        while server.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert llm.complete([ChatMessage(role="user", content="Who?")], 8)
        assert server.running and server.url == url and server.process.pid != pid
        pid = server.process.pid
    finally:
        _stop(llm)
    assert not llm.server.running
    deadline = time.monotonic() + 5
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid)


def test_a_context_manager_stops_it_and_a_dying_server_is_reported(
    fake: tuple[Settings, Path], tmp_path: Path
) -> None:
    settings, _ = fake
    with LlamaServer(settings) as server:
        pid = server.process.pid if server.process else -1
        assert not _gone(pid)
    assert _gone(pid)
    broken = tmp_path / "bin" / "broken"
    broken.write_text("#!/bin/sh\necho 'error: cannot load the model' >&2\nexit 3\n")
    broken.chmod(0o755)
    dead = LlamaServer(settings.with_overrides(llm_server_bin=broken))
    with pytest.raises(ModelError, match="cannot load the model") as e:
        dead.start()
    assert dead.log_path is not None and str(dead.log_path) in str(e.value)  # kept, named
    dead.log_path.unlink()


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_no_server_outlives_a_killed_python(fake: tuple[Settings, Path], tmp_path: Path) -> None:
    settings, _ = fake
    script = textwrap.dedent(
        f"""
        import sys, time
        from rag.llm.server import LlamaServer
        from rag.settings import Settings
        s = Settings(**{json.loads(settings.model_dump_json())!r})
        server = LlamaServer(s).start()
        print(server.process.pid, server.log_path, flush=True)
        time.sleep(60)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    assert parent.stdout is not None
    pid, log = parent.stdout.readline().split()
    child = int(pid)
    assert not _gone(child)
    parent.send_signal(signal.SIGKILL)  # no atexit, no finally: only the kernel can stop it
    parent.wait()
    deadline = time.monotonic() + 10
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)
    Path(log.decode()).unlink()  # the killed Python could not


def test_llm_serve_without_the_binary_says_make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.cli import build_parser, main

    s = _settings(tmp_path)
    monkeypatch.setenv("NEWSRAG_CACHE_DIR", str(s.cache_dir))
    assert main(["llm", "serve", "--llm-model", s.llm_model]) == 2
    err = capsys.readouterr().err
    assert str(server_binary(s)) in err and "make setup" in err
    args = build_parser().parse_args(["serve", "--llm-backend", "server"])
    assert args.llm_backend == "server"


def test_llm_serve_prints_the_url_and_stops_the_server_on_ctrl_c(
    fake: tuple[Settings, Path],
) -> None:
    import urllib.request

    settings, log = fake
    env = dict(
        os.environ,
        PYTHONPATH=str(PROJECT_ROOT),
        NEWSRAG_LLM_SERVER_BIN=str(settings.llm_server_bin),
        NEWSRAG_CACHE_DIR=str(settings.cache_dir),
    )
    command = [sys.executable, "-m", "rag.cli", "llm", "serve", "--llm-model", settings.llm_model]
    cli = subprocess.Popen([*command, "--slots", "3"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert cli.stdout is not None
        lines = [cli.stdout.readline(), cli.stdout.readline()]
        url = re.search(r"(http://127\.0\.0\.1:\d+)/v1", lines[1])
        assert url, lines
        with urllib.request.urlopen(url.group(1) + "/health", timeout=5) as r:
            assert r.status == 200
        started = json.loads(log.read_text().splitlines()[0])
        argv, pid = started["argv"], started["pid"]
        assert argv[argv.index("--parallel") + 1] == "3"
        cli.send_signal(signal.SIGINT)
        assert cli.wait(20) == 0
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    deadline = time.monotonic() + 5
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid)


# ---- the real binary ------------------------------------------------------------------------
@pytest.mark.slow
def test_the_real_server_gives_logprobs_and_judges_answerability(tmp_path: Path) -> None:
    s = Settings(
        index_dir=tmp_path / "index", llm_backend="server", llm_server_slots=2, llm_context=1024
    )
    binary = server_binary(s)
    if not binary.is_file():
        pytest.skip(f"llama-server is not built at {binary} (make llama-server builds it)")
    llm_path(s.llm_model, s.cache_dir)  # the packaged model, assembled by make setup
    llm = ServerLLM(s)
    try:
        reply = llm.complete([ChatMessage(role="user", content="Say OK.")], 4)
        assert reply.strip()
        server = llm.server
        top = llm.first_token_logprobs(
            [ChatMessage(role="user", content="Is Paris in France? Answer Yes or No.")]
        )
        assert len(top) >= 5 and all(v <= 0 for v in top.values())
        text = SEED.read_text(encoding="utf-8")[:900]
        answerable = yes_no(
            llm, _judge_prompt("Who manufactures the Patriot missiles in Japan?", text)
        )
        unanswerable = yes_no(llm, _judge_prompt("What is the population of Tokyo?", text))
        assert answerable > unanswerable, (answerable, unanswerable)
        # the second prompt shares the passage's prefix: llama-server reports it as cached
        prefilled, reused = llm.prompt_tokens()
        assert prefilled > 100 and reused > 100, (prefilled, reused)
        pid = server.process.pid if server.process else -1
    finally:
        _stop(llm)
    assert not llm.server.running
    assert _gone(pid)
