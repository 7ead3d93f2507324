"""BM25 beside the vector store (bm25s), over the same rows and the same tokens as the checker.

bm25s is used directly (llama-index's BM25Retriever wraps the same library but rebuilds from
nodes and cannot restrict a search to filtered rows); here a weight mask keeps filtered-out rows
out of the ranking itself. The model is rebuilt from the chunk texts after each change: building
is seconds even for tens of thousands of chunks, and it keeps the statistics exact after deletes.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np

from rag.terms import tokens


class LexicalIndex:
    FILENAME = "bm25.pkl"

    def __init__(self) -> None:
        self.rows: np.ndarray = np.zeros(0, dtype=np.int64)
        self.model: bm25s.BM25 | None = None
        self._row_pos: dict[int, int] = {}

    def build(self, rows: Sequence[int], texts: Sequence[str]) -> None:
        self.rows = np.asarray(rows, dtype=np.int64)
        self._row_pos = {int(r): i for i, r in enumerate(self.rows)}
        if len(self.rows) == 0:
            self.model = None
            return
        corpus_tokens = [tokens(t) or ["_empty_"] for t in texts]
        model = bm25s.BM25()
        model.index(corpus_tokens, show_progress=False)
        self.model = model

    def __len__(self) -> int:
        return len(self.rows)

    def search(
        self, query: str, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        if self.model is None or k <= 0:
            return []
        q = [t for t in tokens(query) if t in self.model.vocab_dict]
        if not q:
            return []
        mask = None
        if allowed is not None:
            mask = np.zeros(len(self.rows), dtype=np.float32)
            pos = [self._row_pos[int(r)] for r in allowed if int(r) in self._row_pos]
            if not pos:
                return []
            mask[pos] = 1.0
        k = min(k, len(self.rows))
        docs, scores = self.model.retrieve(
            [q], k=k, weight_mask=mask, show_progress=False, n_threads=1
        )
        return [
            (int(self.rows[d]), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0
        ]

    def save(self, directory: Path) -> None:
        tmp = directory / (self.FILENAME + ".tmp")
        with tmp.open("wb") as f:
            pickle.dump({"rows": self.rows, "model": self.model}, f)
        os.replace(tmp, directory / self.FILENAME)
        (directory / "bm25.json").write_text(json.dumps({"rows": len(self.rows)}))

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        lex = cls()
        with (directory / cls.FILENAME).open("rb") as f:
            data = pickle.load(f)
        lex.rows = data["rows"]
        lex.model = data["model"]
        lex._row_pos = {int(r): i for i, r in enumerate(lex.rows)}
        return lex
