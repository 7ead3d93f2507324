"""The test suite runs with outbound connections blocked (tests/conftest.py)."""

from __future__ import annotations

import socket

import pytest


def test_the_suite_cannot_reach_outside() -> None:
    """conftest's guard: a connection to a public address fails before any packet leaves."""
    with socket.socket() as s, pytest.raises(OSError, match="only loopback"):
        s.connect(("93.184.215.14", 80))


def test_loopback_still_connects() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.socket() as client:
            client.connect(server.getsockname())
