"""Question generation from new articles (work in progress: the signature is fixed)."""

from __future__ import annotations

from typing import Any

from rag.eval.suite import Case

from rag.types import Document


def generate_suite(pipe: Any, documents: list[Document], n: int, seed: int) -> list[Case]:
    """Up to `n` verified cases (answerable, multi-article, unanswerable) from `documents`."""
    raise NotImplementedError("question generation is being written")
