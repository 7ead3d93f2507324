"""Load test: N simultaneous users asking, uploading and deleting on the running app.

    newsrag serve --llm-backend extractive --port 7860 &        # or `make serve`
    python -m rag.ui.load --url http://127.0.0.1:7860 --users 20 --writers 4 --requests 2

Each user is a thread working through Gradio's HTTP API (the same queue and events the page
uses), all users starting together. An asker sends `requests` questions one after another. A
writer uploads `requests` articles (at least 2) that it writes itself, made-up towns and figures
no other article holds; checks that each is listed; deletes its first; and asks about its last:
the answer must say that article's figure, quoting it. At the end every upload a writer kept
must be listed and every one it deleted gone. Reported per operation: latency p50/p95/max
(request sent → final reply), time to the first streamed update of answers, and errors (HTTP
failures, queue errors, time-outs, answers that are neither cited nor refused, lost or
undeleted uploads). Bounded by design: users × requests operations, each with a time-out, and
only to a loopback address: it refuses any other host.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
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
    kind: str = "ask"  # ask | upload | list | delete
    first_update: float | None = None
    first_word: float | None = None  # the first streamed word of the model's draft
    refused: bool = False
    error: str = ""


@dataclass
class Report:
    users: int
    requests: int  # operations of every kind
    writers: int = 0
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
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)  # n, errors, p50/p95/max
    kept: list[str] = field(default_factory=list)  # ids of the uploads the writers kept
    deleted: list[str] = field(default_factory=list)  # and of those they deleted
    lost: list[str] = field(default_factory=list)  # kept but not listed at the end
    undeleted: list[str] = field(default_factory=list)  # deleted but listed at the end
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


def _events(
    client: httpx.Client, base: str, api: str, body: dict[str, Any], timeout: float
) -> Iterator[tuple[str, str]]:
    """(event, data) of one queued call to the endpoint `api`, as the server streams them."""
    r = client.post(f"{base}/gradio_api/call/v2/{api}", json=body)
    r.raise_for_status()
    event_id = r.json()["event_id"]
    event = ""
    with client.stream("GET", f"{base}/gradio_api/call/{api}/{event_id}", timeout=timeout) as s:
        for line in s.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                yield event, line[5:]
                if event in ("complete", "error"):
                    return


def call(
    client: httpx.Client, base: str, api: str, body: dict[str, Any], timeout: float
) -> list[Any]:
    """The outputs of one queued call; an error event or a stream without an end raises."""
    t0 = time.perf_counter()
    for event, data in _events(client, base, api, body, timeout):
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"{api}: no reply in {timeout:.0f} s")
        if event == "error":
            raise ValueError(f"{api}: {data[:99]}")
        if event == "complete":
            return json.loads(data)
    raise ValueError(f"{api}: stream ended without a reply")


def ask(
    client: httpx.Client, base: str, question: str, timeout: float, cites: str = "", says: str = ""
) -> Result:
    """One question through the queue; the final chat message must be cited or a refusal
    (or, when `cites` is given, say `says` quoting that document)."""
    t0 = time.perf_counter()
    first: float | None = None
    word: float | None = None
    try:
        body = {
            "message": question,
            "history": [],
            "source": [],
            "date_from": "",
            "date_to": "",
            "doc_ids": [],
        }
        final = None
        for event, data in _events(client, base, "chat", body, timeout):
            if time.perf_counter() - t0 > timeout:
                return Result(False, time.perf_counter() - t0, "ask", first, error="time-out")
            if event == "generating" and first is None:
                first = time.perf_counter() - t0
            if event == "generating" and word is None and _CURSOR in data:
                word = time.perf_counter() - t0
            if event == "error":
                return Result(False, time.perf_counter() - t0, "ask", first, error=data[:99])
            if event == "complete":
                final = json.loads(data)
        seconds = time.perf_counter() - t0
        if final is None:
            return Result(False, seconds, "ask", first, error="stream ended without an answer")
        text = json.dumps(final[0][-1], ensure_ascii=False) if final and final[0] else ""
        refused = "do not answer" in text
        if not refused and "#cite:chat:" not in text:
            return Result(
                False, seconds, "ask", first, error=f"answer neither cited nor refused: {text[:80]}"
            )
        if cites and (f"#cite:chat:{cites}:" not in text or says not in text):
            wrong = f"the answer does not say {says!r} quoting {cites}: {text[:80]}"
            return Result(False, seconds, "ask", first, error=wrong)
        return Result(True, seconds, "ask", first, word, refused=refused)
    except (httpx.HTTPError, KeyError, ValueError) as e:
        return Result(
            False, time.perf_counter() - t0, "ask", first, error=f"{type(e).__name__}: {e}"[:120]
        )


_SYLLABLES = ("tor", "van", "el", "mir", "quen", "bal", "dra", "sol", "ith", "kor", "ne", "lu")
_BUILDINGS = ("library", "bridge", "ferry pier", "clinic", "bakery school", "observatory")


def made_up_article(writer: int, n: int) -> tuple[str, str, str, str]:
    """(file name, text, question, the answer's words) of an article no other one resembles."""
    k = writer * 10 + n
    n_syl = len(_SYLLABLES)  # k's digits in base 12 name the town: one town per article
    town = "".join(_SYLLABLES[(k // n_syl**j + 5 * j) % n_syl] for j in range(3)).title()
    town += f" {_SYLLABLES[(k * 7) % n_syl].title()}ville"
    building = _BUILDINGS[k % len(_BUILDINGS)]
    cost = 11 + 3 * k
    title = f"{town} opens its new {building}"
    text = (
        f"{title}\n\nThe town council of {town} opened its new {building} on Monday, after "
        f"{k % 9 + 2} years of planning. The new {building} in {town} cost {cost} million euros, "
        f"the mayor said, and will employ {k + 5} people.\n\nResidents of {town} had voted for "
        f"the {building} in a referendum. Building work was done by a cooperative from the "
        "region, and the opening ceremony drew a large crowd."
    )
    question = f"How much did the new {building} in {town} cost?"
    return f"writer-{writer:02d}-{n:02d}.txt", text, question, f"{cost} million euros"


def upload(client: httpx.Client, base: str, path: Path, timeout: float) -> Result:
    """Send a file as the page's drop zone does (upload, then the `upload` event)."""
    t0 = time.perf_counter()
    try:
        r = client.post(
            f"{base}/gradio_api/upload", files=[("files", (path.name, path.read_bytes()))]
        )
        r.raise_for_status()
        [server_path] = r.json()
        file = {"path": server_path, "meta": {"_type": "gradio.FileData"}}
        report, _ = call(client, base, "upload", {"paths": [file]}, timeout)
        ok = "Indexed **1** new" in report
        error = "" if ok else f"{path.name}: {report[:80]}"
        return Result(ok, time.perf_counter() - t0, "upload", error=error)
    except (httpx.HTTPError, KeyError, ValueError, TimeoutError) as e:
        return Result(False, time.perf_counter() - t0, "upload", error=f"{path.name}: {e}"[:120])


def listed(client: httpx.Client, base: str, timeout: float) -> tuple[Result, dict[str, str]]:
    """The library as the `documents` endpoint lists it: title -> document id."""
    t0 = time.perf_counter()
    try:
        [docs] = call(client, base, "documents", {}, timeout)
        titles = {d["title"]: d["id"] for d in docs}
        return Result(True, time.perf_counter() - t0, "list"), titles
    except (httpx.HTTPError, KeyError, ValueError, TimeoutError) as e:
        return Result(False, time.perf_counter() - t0, "list", error=f"list: {e}"[:120]), {}


def delete(client: httpx.Client, base: str, doc_id: str, timeout: float) -> Result:
    t0 = time.perf_counter()
    try:
        [said] = call(client, base, "delete", {"doc_ids": [doc_id]}, timeout)
        ok = said.startswith("✓ Deleted")
        error = "" if ok else f"delete {doc_id}: {said[:80]}"
        return Result(ok, time.perf_counter() - t0, "delete", error=error)
    except (httpx.HTTPError, KeyError, ValueError, TimeoutError) as e:
        return Result(False, time.perf_counter() - t0, "delete", error=f"delete: {e}"[:120])


def write(
    client: httpx.Client, base: str, writer: int, articles: int, folder: Path, timeout: float
) -> tuple[list[Result], list[str], list[str]]:
    """A writer's session: upload, check the list, delete the first, ask about the last.
    Returns its results and the ids it kept and deleted."""
    results: list[Result] = []
    made = [made_up_article(writer, n) for n in range(articles)]
    for name, text, _, _ in made:
        path = folder / name
        path.write_text(text, encoding="utf-8")
        results.append(upload(client, base, path, timeout))
    res, titles = listed(client, base, timeout)
    results.append(res)
    ids = [titles.get(text.split("\n", 1)[0], "") for _, text, _, _ in made]
    for (name, *_), doc_id in zip(made, ids, strict=True):
        if not doc_id and res.ok:
            results.append(Result(False, 0.0, "list", error=f"{name}: uploaded but not listed"))
    kept, deleted = [d for d in ids[1:] if d], []
    if len(ids) > 1 and ids[0]:
        results.append(delete(client, base, ids[0], timeout))
        deleted.append(ids[0])
    elif ids[0]:
        kept.insert(0, ids[0])
    if ids[-1]:
        _, _, question, words = made[-1]
        results.append(ask(client, base, question, timeout, cites=ids[-1], says=words))
    return results, kept, deleted


def _latency(results: list[Result]) -> dict[str, float]:
    ok = [r.seconds for r in results if r.ok]
    out: dict[str, float] = {"n": len(results), "errors": len(results) - len(ok)}
    if ok:
        out |= {
            "p50_s": round(percentile(ok, 50), 3),
            "p95_s": round(percentile(ok, 95), 3),
            "max_s": round(max(ok), 3),
        }
    return out


def run(base: str, users: int, requests: int, timeout: float, writers: int = 0) -> Report:
    """`users` at once, `writers` of them uploading and deleting, the rest asking."""
    results: list[Result] = []
    kept: list[str] = []
    deleted: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(users)
    folder = Path(tempfile.mkdtemp(prefix="newsrag-load-"))

    def user(n: int) -> None:
        with httpx.Client(timeout=timeout) as client:
            start.wait()
            if n < writers:
                res, k, d = write(client, base, n, max(2, requests), folder, timeout)
                with lock:
                    results.extend(res)
                    kept.extend(k)
                    deleted.extend(d)
                return
            for i in range(requests):
                res = ask(client, base, QUESTIONS[(n + i) % len(QUESTIONS)], timeout)
                with lock:
                    results.append(res)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout * (requests + 4) + 30)
    wall = round(time.perf_counter() - t0, 2)
    expected = (users - writers) * requests + writers * (max(2, requests) + 3)
    rep = Report(users=users, requests=max(expected, len(results)), writers=writers, wall_s=wall)
    if writers:
        with httpx.Client(timeout=timeout) as client:
            res, titles = listed(client, base, timeout)
        results.append(res)
        rep.requests += 1
        now = set(titles.values())
        rep.kept, rep.deleted = sorted(kept), sorted(deleted)
        rep.lost = sorted(set(kept) - now) if res.ok else []
        rep.undeleted = sorted(set(deleted) & now)
    ok = [r for r in results if r.ok]
    rep.ok, rep.refused = len(ok), sum(r.refused for r in ok if r.kind == "ask")
    # a thread that never returned counts as errors too; so does a lost or undeleted upload
    rep.errors = rep.requests - len(ok) + len(rep.lost) + len(rep.undeleted)
    rep.error_samples = sorted({r.error for r in results if not r.ok})[:5]
    rep.by_kind = {
        kind: _latency([r for r in results if r.kind == kind])
        for kind in ("ask", "upload", "list", "delete")
        if any(r.kind == kind for r in results)
    }
    asks = [r for r in ok if r.kind == "ask"]
    lat = [r.seconds for r in asks]
    if lat:
        rep.p50_s, rep.p95_s = round(percentile(lat, 50), 2), round(percentile(lat, 95), 2)
        rep.max_s = round(max(lat), 2)
    firsts = [r.first_update for r in asks if r.first_update is not None]
    if firsts:
        rep.first_update_p50_s = round(statistics.median(firsts), 2)
        rep.first_update_p95_s = round(percentile(firsts, 95), 2)
    words = [r.first_word for r in asks if r.first_word is not None]
    if words:
        rep.first_word_p50_s = round(statistics.median(words), 2)
        rep.first_word_p95_s = round(percentile(words, 95), 2)
    return rep


def summary(rep: Report) -> str:
    """The report as a few printed lines."""
    lines = [
        f"{rep.users} users ({rep.writers} uploading and deleting), {rep.requests} operations: "
        f"{rep.ok} ok ({rep.refused} refused as expected), {rep.errors} errors, {rep.wall_s} s wall"
    ]
    for kind, lat in rep.by_kind.items():
        lines.append(
            f"  {kind:<6} n {lat['n']:>3.0f}, errors {lat['errors']:.0f}: "
            f"p50 {lat.get('p50_s')} s, p95 {lat.get('p95_s')} s, max {lat.get('max_s')} s"
        )
    lines.append(
        f"answers: first update p50 {rep.first_update_p50_s} s, p95 {rep.first_update_p95_s} s;"
        f" first drafted word p50 {rep.first_word_p50_s} s, p95 {rep.first_word_p95_s} s"
    )
    if rep.writers:
        lines.append(
            f"uploads: {len(rep.kept)} kept, {len(rep.deleted)} deleted; lost {len(rep.lost)}, "
            f"deleted but still listed {len(rep.undeleted)}"
        )
    lines += [f"  error: {e}" for e in rep.error_samples]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:7860")
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--writers", type=int, default=0, help="of the users, those who upload")
    p.add_argument(
        "--requests", type=int, default=2, help="questions (or uploads) per user, in sequence"
    )
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per request")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if not loopback(a.url):
        print(
            "error: the load test only targets a server on this machine (127.0.0.1)",
            file=sys.stderr,
        )
        return 2
    if not (1 <= a.users <= MAX_USERS and 1 <= a.requests <= MAX_REQUESTS) or not (
        0 <= a.writers <= a.users
    ):
        print(f"error: at most {MAX_USERS} users × {MAX_REQUESTS} requests", file=sys.stderr)
        return 2
    rep = run(a.url.rstrip("/"), a.users, a.requests, a.timeout, a.writers)
    print(json.dumps(asdict(rep)) if a.json else summary(rep))
    return 1 if rep.errors else 0


if __name__ == "__main__":
    sys.exit(main())
