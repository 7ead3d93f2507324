"""Whole questions take turns on a model that serves one request at a time, first come first served.

The local llama.cpp context runs one call at a time (rag.llm.local locks each call). A question
makes three or four calls (the gate, the draft, the answer check), so with a lock per call alone
20 questions asked at once interleave call by call and nearly all finish together at the end.
Taking turns per question, in arrival order, lets the first asked finish first without delaying
the last. Measured with `newsrag bench users --requests 1` (20 users, 4 of them also uploading
and deleting, local model, 2 cores): answers p50 258 s, p95 287 s (293 s wall) with a lock per
call; p50 152 s, p95 295 s (318 s wall) taking turns. The cost: a question waiting its turn
streams its first word later (p50 107 s -> 161 s). (With prompt states, rag.llm.states, the
same 20 ask-only users: p50 69 s, p95 96 s, `newsrag bench latency --users 20`.) Python's locks
promise no order, hence the tickets.

llama-server (rag.llm.server) decodes `llm_server_slots` requests at once; letting every
question in at once there has the same effect (each slot's share shrinks, all finish together:
20 users, 4 slots, p50 98 s / p95 101 s; 8 slots 123 s / 132 s), so questions take turns there
too, as many at once as the server has slots.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Turns:
    """A FIFO semaphore: `with turns.take(width):` waits until every earlier taker has come in
    and fewer than `width` are inside (width 1: a FIFO lock)."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._issued = 0  # tickets given out
        self._admitted = 0  # tickets let in, in ticket order
        self._finished = 0

    @contextmanager
    def take(self, width: int = 1) -> Iterator[None]:
        with self._cv:
            ticket = self._issued
            self._issued += 1
            self._cv.wait_for(
                lambda: self._admitted == ticket and self._admitted - self._finished < width
            )
            self._admitted += 1
            self._cv.notify_all()  # the next in line may fit too
        try:
            yield
        finally:
            with self._cv:
                self._finished += 1
                self._cv.notify_all()

    @property
    def waiting(self) -> int:
        """Takers in line or holding a turn."""
        return self._issued - self._finished
