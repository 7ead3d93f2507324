"""The few named errors the library raises; the CLI turns them into a message and exit code 2."""

from __future__ import annotations


class NewsragError(Exception):
    """Base of every error newsrag raises on purpose."""


class LoadError(NewsragError):
    """A file could not be turned into documents; names the file and the problem."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class IndexStoreError(NewsragError):
    """The index on disk is missing, damaged, or was built differently from what is asked."""


class ModelError(NewsragError):
    """A packaged model is missing, incomplete or corrupt; or an LLM backend is misconfigured."""


class ConfigError(NewsragError):
    """A setting has a value that cannot work."""
