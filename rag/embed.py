"""The packaged embedder (all-MiniLM-L6-v2 from a PyPI wheel), loaded offline.

Two runtimes compute the same function (tokenise, transformer, mean-pool, normalise):
- `onnx` (default): onnxruntime over the ONNX export rag/embed_export.py builds at setup. Each
  session owns its thread pool, so batches (ingest) run on every core in one session while a
  question's single text runs on one thread in another: with torch, one process-wide OpenMP pool
  contends with FAISS's (a one-query forward pass took ~395 ms on 2 threads, ~11 ms on one), which
  is why torch embedding used to be held to one core for everything. It also starts faster (no
  torch import). fp32 gives sentence-transformers' vectors (cosine 1.0000 on 384 news chunks).
- `torch`: sentence-transformers (fp32 only), kept as the reference the benches compare against.
Precision `int8` ships: onnxruntime's dynamic quantisation, int8 weights per output channel
(rag/embed_export.py), activations quantised at run time. Its vectors are not fp32's (mean
cosine 0.994 on 3.7k pool chunks), so it is another embedder: an index records which one built
it (`identity`) and refuses another asked for by name. On the RealTimeQA validate weeks over the
whole pool (3,709 articles) it ranks as fp32 does: Recall@5 0.941 both, MRR@10 0.776 vs 0.782.
Texts go one per forward pass (`embed_batch` 1), on every core: nothing is padded, and a text's
vector is its own. Dynamic quantisation scales a pass's activations together, so in a batch of 8
a text's int8 vector moved with its neighbours (and their padding): cosine 0.98-0.99 to itself
alone. Speed is close: 65 vs 54 chunks/s (batches of 8) on 506 chunks in one process, but the
whole pool took 1,128 s one at a time against 983 s in batches of 8 (two runs an hour apart).
Measured on this machine (2 cores, AVX2, no VNNI), ~300 pool chunks, 2 threads, cosine to fp32:

| variant                                             | chunks/s | cos mean / min |
|-----------------------------------------------------|---------:|----------------|
| fp32                                                |   27-29  | 1 / 1          |
| int8 dynamic, per channel (ships)                   |   46-54  | 0.994 / 0.986  |
| int8 dynamic, per tensor                            |   45     | 0.948 / 0.871  |
| int8 dynamic, per tensor, reduce_range              |   55     | 0.824 / 0.710  |
| int8 dynamic, per channel, reduce_range             |   54     | 0.992 / 0.977  |
| fp32 after onnxruntime.transformers fusions         |   27     | 1 / 1          |
| those fusions, then int8 per channel                |   51     | 0.994 / 0.984  |
| int8 static per channel, calibrated on 128 of our   |   43     | 0.936 / 0.876  |
| chunks (QOperator; QDQ the same)                    |          |                |
(no attention fusion matched the torch.onnx export; a model2vec first stage was not tried.)
`newsrag bench ingest` gives the end-to-end figures (model load, chunking and commit counted).

sentence-transformers is used directly rather than through llama-index's HuggingFaceEmbedding
because the index wants normalised float32 numpy batches for FAISS and the tokenizer for chunk
sizing; `as_llama_index()` gives the packaged model (torch, fp32) to llama-index components (the
peers in benches).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag import models  # noqa: F401  (sets the offline environment before transformers loads)
from rag.errors import ConfigError
from rag.models import embedder_path, quiet_transformers
from rag.settings import Settings, default_cache_dir, embedder_identity

RUNTIMES = ("onnx", "torch")
# an Embedder() is the one Settings() names: its defaults are read from there, not repeated
_DEFAULTS = Settings.model_fields
# at most this many texts go to the one-thread session (a question, a few claim sentences)
SMALL_BATCH = 4


class Embedder:
    """Text → unit vectors; one instance per process is enough (thread-safe for inference)."""

    def __init__(
        self,
        spec: str = _DEFAULTS["embed_model"].default,
        batch_size: int = _DEFAULTS["embed_batch"].default,
        threads: int = _DEFAULTS["embed_threads"].default,
        precision: str = _DEFAULTS["embed_precision"].default,
        runtime: str = _DEFAULTS["embed_runtime"].default,
        cache_dir: Path | None = None,
        query_threads: int = _DEFAULTS["embed_query_threads"].default,
    ) -> None:
        if runtime not in RUNTIMES:
            raise ConfigError(f"embed_runtime {runtime!r}: use one of {', '.join(RUNTIMES)}")
        if precision != "fp32" and runtime != "onnx":
            raise ConfigError(f"embed_precision {precision!r} needs embed_runtime 'onnx'")
        self.spec = spec
        self.path = embedder_path(spec)
        self.batch_size = batch_size
        self.threads = threads if threads > 0 else (os.cpu_count() or 1)
        self.query_threads = max(1, query_threads)
        self.precision = precision
        self.runtime = runtime
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, s: Settings, threads: int | None = None) -> Embedder:
        return cls(
            s.embed_model,
            s.embed_batch,
            s.embed_threads if threads is None else threads,
            s.embed_precision,
            s.embed_runtime,
            s.cache_dir,
            s.embed_query_threads,
        )

    @property
    def identity(self) -> str:
        return embedder_identity(self.spec, self.precision)

    @cached_property
    def _config(self) -> dict[str, Any]:
        root = Path(self.path)
        return {
            **json.loads((root / "config.json").read_text()),
            **json.loads((root / "sentence_bert_config.json").read_text()),
        }

    @property
    def dim(self) -> int:
        return int(self._config["hidden_size"])

    @property
    def max_tokens(self) -> int:
        return int(self._config["max_seq_length"])

    @cached_property
    def _counter(self) -> Any:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(Path(self.path) / "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        return tok

    @cached_property
    def _encoder(self) -> Any:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(Path(self.path) / "tokenizer.json"))
        tok.enable_truncation(max_length=self.max_tokens)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of the batch
        return tok

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, as the embedder will see them (special tokens excluded)."""
        if not texts:
            return []
        encs = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encs]

    def _session(self, threads: int) -> Any:
        import onnxruntime as ort

        from rag.embed_export import onnx_model

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        path = onnx_model(self.spec, self.precision, self.cache_dir)
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    @cached_property
    def _batch_session(self) -> Any:
        return self._session(self.threads)

    @cached_property
    def _query_session(self) -> Any:
        return self._session(self.query_threads)

    @cached_property
    def model(self) -> Any:
        """The sentence-transformers model (runtime `torch`, and llama-index's peers)."""
        from sentence_transformers import SentenceTransformer

        quiet_transformers()
        return SentenceTransformer(self.path, device="cpu", local_files_only=True)

    def load(self) -> None:
        """Load what embedding needs now (the app warms up before the first question)."""
        with self._lock:
            if self.runtime == "onnx":
                _ = self._query_session, self._encoder, self._counter
            else:
                _ = self.model, self._counter

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.runtime == "torch":
            return self._embed_torch(texts, progress)
        with self._lock:  # the sessions are created once, not once per thread
            session = self._query_session if len(texts) <= SMALL_BATCH else self._batch_session
            encoder = self._encoder
        names = {i.name for i in session.get_inputs()}
        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths batch well
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(texts), self.batch_size):
            rows = order[i : i + self.batch_size]
            encs = encoder.encode_batch([texts[j] for j in rows])
            feed = {
                "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64),
            }
            hidden = session.run(None, {k: v for k, v in feed.items() if k in names})[0]
            mask = feed["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            out[rows] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out

    def _embed_torch(self, texts: Sequence[str], progress: bool) -> np.ndarray:
        import torch

        # process-wide: a batch on every core, a question on one (see the module docstring)
        torch.set_num_threads(self.query_threads if len(texts) <= SMALL_BATCH else self.threads)
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
