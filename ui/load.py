"""Load test: N simultaneous users asking the running app questions through its queue.

    newsrag serve --llm-backend extractive --port 7860 &        # or `make serve`
    python -m rag.ui.load --url http://127.0.0.1:7860 --users 20 --requests 2

Each user is a thread that sends its questions one after another through Gradio's HTTP call
API (the same queue and `chat` event the page uses), all users starting together. Reported:
latency p50/p95/max (request sent → final answer), time to the first streamed update, and
errors (HTTP failures, queue errors, time-outs, answers that are neither cited nor refused).
Bounded by design: users × requests calls, each with a time-out, and only to a loopback
address: it refuses any other host.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import urlparse

import httpx

QUESTIONS = (
    "Who manufactures the Patriot missiles in Japan?",
    "What is Japan considering exporting to the UK?",
    "How much aid did the US Congress fail to approve for Ukraine?",
    "What is the best recipe for banana bread?",  # refused: no article is about it
)
_CURSOR = "\\u258c"  # the ▌ after a streamed draft, as JSON escapes it
MAX_USERS = 100
MAX_REQUESTS = 10


@dataclass
class Result:
    ok: bool
    seconds: float
    first_update: float | None = None
    first_word: float | None = None  # the first streamed word of the model's draft
    refused: bool = False
    error: str = ""


@dataclass
class Report:
    users: int
    requests: int
    ok: int = 0
    errors: int = 0
    refused: int = 0
    p50_s: float = 0.0
    p95_s: float = 0.0
    max_s: float = 0.0
    first_update_p50_s: float | None = None
    first_update_p95_s: float | None = None
    first_word_p50_s: float | None = None
    first_word_p95_s: float | None = None
    wall_s: float = 0.0
    error_samples: list[str] = field(default_factory=list)


def loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (q in 0..100)."""
    v = sorted(values)
    if not v:
        return 0.0
    k = (len(v) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def ask(client: httpx.Client, base: str, question: str, timeout: float) -> Result:
    """One question through the queue; the final chat message must be cited or a refusal."""
    t0 = time.perf_counter()
    first: float | None = None
    word: float | None = None
    try:
        r = client.post(
            f"{base}/gradio_api/call/v2/chat",
            json={
                "message": question,
                "history": [],
                "source": [],
                "date_from": "",
                "date_to": "",
                "doc_ids": [],
            },
        )
        r.raise_for_status()
        event_id = r.json()["event_id"]
        event, final = "", None
        with client.stream("GET", f"{base}/gradio_api/call/chat/{event_id}", timeout=timeout) as s:
            for line in s.iter_lines():
                if time.perf_counter() - t0 > timeout:
                    return Result(False, time.perf_counter() - t0, first, error="time-out")
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    if event == "generating" and first is None:
                        first = time.perf_counter() - t0
                    if event == "generating" and word is None and _CURSOR in line:
                        word = time.perf_counter() - t0
                    if event == "error":
                        return Result(False, time.perf_counter() - t0, first, error=line[5:99])
                    if event == "complete":
                        final = json.loads(line[5:])
                        break
        seconds = time.perf_counter() - t0
        if final is None:
            return Result(False, seconds, first, error="stream ended without an answer")
        text = json.dumps(final[0][-1], ensure_ascii=False) if final and final[0] else ""
        refused = "do not answer" in text
        if not refused and "#cite:chat:" not in text:
            return Result(
                False, seconds, first, error=f"answer neither cited nor refused: {text[:80]}"
            )
        return Result(True, seconds, first, word, refused=refused)
    except (httpx.HTTPError, KeyError, ValueError) as e:
        return Result(
            False, time.perf_counter() - t0, first, error=f"{type(e).__name__}: {e}"[:120]
        )


def run(base: str, users: int, requests: int, timeout: float) -> Report:
    results: list[Result] = []
    lock = threading.Lock()
    start = threading.Barrier(users)

    def user(n: int) -> None:
        with httpx.Client(timeout=timeout) as client:
            start.wait()
            for i in range(requests):
                res = ask(client, base, QUESTIONS[(n + i) % len(QUESTIONS)], timeout)
                with lock:
                    results.append(res)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout * requests + 30)
    rep = Report(users=users, requests=users * requests, wall_s=round(time.perf_counter() - t0, 2))
    ok = [r for r in results if r.ok]
    rep.ok, rep.refused = len(ok), sum(r.refused for r in ok)
    rep.errors = rep.requests - len(ok)  # a thread that never returned counts as an error too
    rep.error_samples = sorted({r.error for r in results if not r.ok})[:5]
    lat = [r.seconds for r in ok]
    if lat:
        rep.p50_s, rep.p95_s = round(percentile(lat, 50), 2), round(percentile(lat, 95), 2)
        rep.max_s = round(max(lat), 2)
    firsts = [r.first_update for r in ok if r.first_update is not None]
    if firsts:
        rep.first_update_p50_s = round(statistics.median(firsts), 2)
        rep.first_update_p95_s = round(percentile(firsts, 95), 2)
    words = [r.first_word for r in ok if r.first_word is not None]
    if words:
        rep.first_word_p50_s = round(statistics.median(words), 2)
        rep.first_word_p95_s = round(percentile(words, 95), 2)
    return rep


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:7860")
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--requests", type=int, default=2, help="questions per user, in sequence")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per request")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if not loopback(a.url):
        print(
            "error: the load test only targets a server on this machine (127.0.0.1)",
            file=sys.stderr,
        )
        return 2
    if not (1 <= a.users <= MAX_USERS and 1 <= a.requests <= MAX_REQUESTS):
        print(f"error: at most {MAX_USERS} users × {MAX_REQUESTS} requests", file=sys.stderr)
        return 2
    rep = run(a.url.rstrip("/"), a.users, a.requests, a.timeout)
    if a.json:
        print(json.dumps(asdict(rep)))
    else:
        print(
            f"{rep.users} users × {a.requests} requests = {rep.requests}: {rep.ok} ok "
            f"({rep.refused} refused as expected), {rep.errors} errors, {rep.wall_s} s wall\n"
            f"latency p50 {rep.p50_s} s, p95 {rep.p95_s} s, max {rep.max_s} s\n"
            f"first update (status) p50 {rep.first_update_p50_s} s, p95 {rep.first_update_p95_s} s;"
            f" first drafted word p50 {rep.first_word_p50_s} s, p95 {rep.first_word_p95_s} s"
        )
        for e in rep.error_samples:
            print(f"  error: {e}")
    return 1 if rep.errors else 0


if __name__ == "__main__":
    sys.exit(main())
