"""llama.cpp's own server (llama-server) on loopback, and the `server` backend that talks to it.

Why: the in-process model (rag.llm.local) holds one llama.cpp context, so questions take turns.
llama-server decodes several requests at once in parallel slots with continuous batching (8
seed questions at once: about 2.3x the throughput of one at a time, DESIGN.md) and reuses a
prompt prefix one slot has read in the others. It is built from the same llama-cpp-python sdist
as the wheel (`make llama-server`, part of `make setup`) and cached as
`<cache_dir>/bin/llama-server-<version>`; `llm_server_bin` points elsewhere.

The process is bound to 127.0.0.1 on a free port, owns `llm_server_slots` slots of
`llm_context` tokens each, and is stopped when the process that started it ends: by the context
manager or atexit on a normal exit, and by the kernel (PR_SET_PDEATHSIG, asked for by a thread
that lives as long as the server) when Python is killed, so no server outlives its app.

The backend (`llm_backend = "server"`) goes through the same code as any OpenAI-compatible
server (rag.llm.openai), with the base URL pointed at this one; llama-server returns token
log-probabilities, so the answerability gate and the answer check (rag.judge) read their yes/no
scores from it as from the in-process model.
"""

from __future__ import annotations

import atexit
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any

from rag.errors import ConfigError, ModelError
from rag.llm import ChatMessage, register
from rag.models import llm_path
from rag.settings import Settings

LLAMA_VERSION = "0.3.36"  # the Makefile's LLAMA_VERSION: the sdist the binary is built from
HOST = "127.0.0.1"


def default_binary(cache_dir: Path) -> Path:
    """Where `make llama-server` caches the binary."""
    return Path(cache_dir) / "bin" / f"llama-server-{LLAMA_VERSION}"


def server_binary(settings: Settings) -> Path:
    """`llm_server_bin`, or the cached build under `cache_dir`."""
    return Path(settings.llm_server_bin or default_binary(settings.cache_dir)).expanduser()


def free_port() -> int:
    """A TCP port free on loopback now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def server_command(settings: Settings, binary: Path, model: Path, port: int) -> list[str]:
    """The llama-server command line for `settings`: `llm_server_slots` parallel slots with
    continuous batching, `llm_threads` threads, `llm_context` tokens per slot."""
    slots = settings.llm_server_slots
    return [
        str(binary),
        "--model",
        str(model),
        "--alias",
        model.stem,  # the name the API reports and takes as `model`
        "--host",
        HOST,
        "--port",
        str(port),
        "--parallel",
        str(slots),
        "--cont-batching",
        "--threads",
        str(settings.llm_threads),
        "--ctx-size",
        str(settings.llm_context * slots),
        "--no-webui",
        *shlex.split(settings.llm_server_args),
    ]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask the kernel to send SIGTERM to the server when the thread that started it ends."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LlamaServer:
    """One llama-server process on 127.0.0.1. `with LlamaServer(settings) as s:` starts it and
    waits until it has loaded the model (`/health` answers 200); leaving stops it. `start()` and
    `stop()` do the same by hand; an atexit hook stops a server left running."""

    def __init__(
        self, settings: Settings, port: int | None = None, start_timeout: float = 300.0
    ) -> None:
        self.settings = settings
        self.binary = server_binary(settings)
        self.port = port  # the port asked for, or the one picked at the first start
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self._keeper: threading.Thread | None = None
        self._lock = threading.RLock()

    # ---- addresses -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("llama-server is not started")
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible API's base (what `openai_base_url` takes)."""
        return self.url + "/v1"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self, port: int) -> list[str]:
        return server_command(self.settings, self.binary, self.model_path, port)

    @cached_property
    def model_path(self) -> Path:
        return llm_path(self.settings.llm_model, self.settings.cache_dir)

    # ---- life ----------------------------------------------------------------------------
    def check_binary(self) -> None:
        """ConfigError naming the binary when it is not there (or cannot run)."""
        if not self.binary.is_file():
            raise ConfigError(
                f"llama-server binary {self.binary} is missing: run make setup (it builds and "
                "caches it), or set NEWSRAG_LLM_SERVER_BIN to a llama-server binary"
            )
        if not os.access(self.binary, os.X_OK):
            raise ConfigError(f"llama-server binary {self.binary} is not executable")

    def start(self) -> LlamaServer:
        """Start the server and wait until it answers; a no-op when it is running."""
        with self._lock:
            if self.running:
                return self
            self.check_binary()
            # the port asked for, else the last one (a restarted server keeps its URL), else any
            port = self.port or free_port()
            command = self.command(port)
            if self.log_path is not None:  # a server that died: its log goes with it
                self.log_path.unlink(missing_ok=True)
            fd, log = tempfile.mkstemp(prefix="newsrag-llama-server-", suffix=".log")
            os.close(fd)
            self.log_path = Path(log)
            started = threading.Event()
            failure: list[OSError] = []

            def keep() -> None:
                # PR_SET_PDEATHSIG fires when the *thread* that forked the child ends: this one
                # lives until the server exits, so only the server's end or Python's ends it
                try:
                    with open(log, "wb") as out:
                        process = subprocess.Popen(
                            command,
                            stdin=subprocess.DEVNULL,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,  # Ctrl+C reaches Python, which stops it
                            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                        )
                except OSError as e:
                    failure.append(e)
                    started.set()
                    return
                self.process = process
                started.set()
                process.wait()

            self._keeper = threading.Thread(target=keep, name="llama-server", daemon=True)
            self._keeper.start()
            started.wait()
            if failure:
                self.stop(keep_log=True)
                raise ConfigError(
                    f"llama-server binary {self.binary} could not start: {failure[0]}"
                )
            self.port = port
            _running.add(self)
            try:
                self._wait_healthy()
            except BaseException:
                self.stop(keep_log=True)
                raise
        return self

    def _wait_healthy(self) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
        deadline = time.monotonic() + self.start_timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise ModelError(
                    f"llama-server exited with code {self.process.returncode} before it was "
                    f"ready; its log ({self.log_path}) ends:\n{self.log_tail()}"
                )
            try:
                with opener.open(self.url + "/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass  # not listening yet, or 503 while it loads the model
            if time.monotonic() > deadline:
                raise ModelError(
                    f"llama-server did not become ready within {self.start_timeout:.0f} s; its "
                    f"log ({self.log_path}) ends:\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0, keep_log: bool = False) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `timeout` s) and reap it."""
        with self._lock:
            process, self.process = self.process, None
            _running.discard(self)
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if self._keeper is not None:
                self._keeper.join(timeout)
                self._keeper = None
            if self.log_path is not None and not keep_log:
                self.log_path.unlink(missing_ok=True)
                self.log_path = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


_running: set[LlamaServer] = set()  # started and not stopped: stopped at exit
_shared: dict[tuple[str, ...], LlamaServer] = {}  # one server per command line, per process
_shared_lock = threading.Lock()


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        server.stop()


def shared_server(settings: Settings) -> LlamaServer:
    """The process's server for these settings: started on first use, reused after, stopped at
    exit. Settings that give the same command line (but for the port) share one server."""
    probe = LlamaServer(settings)
    key = tuple(probe.command(0))
    with _shared_lock:
        server = _shared.get(key)
        if server is None:
            server = _shared[key] = probe
        return server.start()


class ServerLLM:
    """`llm_backend = "server"`: llama-server on loopback (started on first use, once per
    process), through the OpenAI-compatible backend. The server's slots decode several
    questions at once: `llm_server_slots` questions are let in at a time, in arrival order. No
    replay file: `llm_replay` is the in-process model's."""

    token_logprobs = True  # llama-server returns the first token's top log-probabilities

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = f"server:{settings.llm_model}"
        # as many questions at once as the server has slots; the rest take turns (rag.turns)
        self.questions_at_once = settings.llm_server_slots

    @cached_property
    def server(self) -> LlamaServer:
        return shared_server(self.settings)

    @cached_property
    def client(self) -> Any:
        """rag.llm.openai's backend, pointed at the server."""
        from rag.llm.openai import OpenAICompatibleLLM

        s = self.server
        return OpenAICompatibleLLM(
            self.settings.with_overrides(
                openai_base_url=s.base_url, openai_model=s.model_path.stem, openai_logprobs=True
            )
        )

    def _openai(self) -> Any:
        """The client, after starting the server again if it has died (same port, same URL)."""
        client = self.client
        self.server.start()  # a no-op while it runs
        return client

    @property
    def llama_index_llm(self) -> Any:
        """llama-index's OpenAILike on the server (what llama-index engines are given)."""
        return self._openai().llama_index_llm

    def stream(self, messages: list[ChatMessage], max_tokens: int) -> Iterator[str]:
        yield from self._openai().stream(messages, max_tokens)

    def complete(self, messages: list[ChatMessage], max_tokens: int) -> str:
        return self._openai().complete(messages, max_tokens)

    def first_token_logprobs(self, messages: list[ChatMessage]) -> dict[str, float]:
        return self._openai().first_token_logprobs(messages)

    def prompt_tokens(self) -> tuple[int, int]:
        """(prefilled, reused) prompt tokens of this thread's requests (rag.llm.openai)."""
        return self.client.prompt_tokens() if "client" in self.__dict__ else (0, 0)


register("server")(ServerLLM)
