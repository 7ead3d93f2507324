"""The one settings object.

Every knob lives here: model choice, chunking, retrieval, grounding thresholds, backend and store.
Values come, strongest first, from keyword arguments (CLI flags), `NEWSRAG_*` environment
variables, then the defaults. The fields that decide how an index is built (`INDEX_FIELDS`) are
written to `settings.json` beside the index, so a reloaded index is searched the way it was made.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Fields fixed when an index is built; changing them needs a new index.
INDEX_FIELDS = (
    "embed_model",
    "embed_precision",
    "chunk_tokens",
    "chunk_overlap_sentences",
    "embed_title",
    "vector_store",
)


def embedder_identity(model: str, precision: str) -> str:
    """What decides an index's vectors: the model and its precision (not the runtime)."""
    return f"{model}@{precision}"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsrag"


class Settings(BaseSettings):
    """All configuration of newsrag. Override with NEWSRAG_<FIELD> or keyword arguments."""

    model_config = SettingsConfigDict(env_prefix="NEWSRAG_", extra="forbid", frozen=True)

    # where things live
    index_dir: Path = Path(".newsrag/index")
    cache_dir: Path = Field(default_factory=default_cache_dir)
    data: Path = PROJECT_ROOT.parent / "shared" / "data"

    # embedding + chunking (index-defining)
    embed_model: str = "packaged:all-MiniLM-L6-v2"
    chunk_tokens: int = 200  # word pieces per chunk, title prefix excluded; window is 256
    chunk_overlap_sentences: int = 1
    embed_title: bool = True
    # the embedder is the model at a precision (int8 = quantised weights, fp32 =
    # sentence-transformers' vectors); an index records it and refuses another (rag/embed.py)
    embed_precision: Literal["fp32", "int8"] = "int8"
    embed_runtime: Literal["onnx", "torch"] = "onnx"  # fp32 is the same function on both
    # texts per forward pass: one pads nothing, and int8 then gives a text the same vector
    # whatever it is embedded with (rag/embed.py)
    embed_batch: int = 1
    embed_threads: int = 0  # threads for batches (ingest); 0 = every core
    embed_query_threads: int = 1  # for a question's few texts, beside FAISS; see rag/embed.py

    # input limits: a bigger file, or a .gz unpacking past the second, is refused by name
    max_file_mb: float = 100.0
    max_unpacked_mb: float = 500.0

    # store seam: the local index in `index_dir` with FAISS, "faiss" (exact, default) or
    # "faiss:hnsw" (approximate, for ~1M chunks); or the whole index in Milvus, shared by every
    # app server pointed at it: "milvus:PATH.db" (Milvus Lite) or "milvus://host:port" (a
    # server or cluster), in the collections named after `collection` (rag/store/milvus.py)
    vector_store: str = "faiss"
    collection: str = "newsrag"
    # Milvus's index on the dense vectors, chosen when the collection is made: FLAT is exact
    # (the same neighbours as FAISS flat); HNSW (M 32, efConstruction 80, ef 128, as the FAISS
    # store's) for a million chunks and more (`newsrag bench scale --milvus`)
    milvus_index: Literal["FLAT", "HNSW"] = "FLAT"

    # retrieval
    top_k: int = 5
    # rrf_k and recency_weight: chosen by `newsrag bench retrieval --dataset realtimeqa --tune`
    # on the first 11 weekly releases over the whole pool (int8 embedder), checked on the later 5:
    # MRR@10 there 0.725 -> 0.751 (paired 95% interval of the gain [0.003, 0.062]), Recall@5
    # 0.941 both. The others were tuned earlier on half of the questions and stayed put.
    candidates: int = 60  # per retriever, before fusion
    rrf_k: int = 10
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    hops: int = 1  # 2 = ask again with the best passage appended (multi-hop questions)
    hop_weight: float = 0.3  # weight of the second hop's ranking in the fusion
    rerank_top: int = 0  # >1: the local LLM re-orders this many top hits (slow; see rag/rerank.py)
    article_weight: float = 0.1  # lift from an article's other matching chunks (0 = off)
    # a document whose title one of the top link_from passages names is lifted by link_weight
    # x that passage's score (entity pages: the bridge of a multi-hop question; 0 = off).
    # 1.0 and 2 were picked on HotpotQA (weights 0.25/0.5/1.0, link_from 1/2/3); see retrieve.py
    link_weight: float = 1.0
    link_from: int = 2
    per_doc_max: int = 1  # chunks of one article in the top-k before others fill in (0 = no cap)
    recency_weight: float = 6.0  # lift for fresh articles on current-events questions (0 = off)
    recency_halflife_days: float = 7.0

    # evidence selection: the LLM sees sentences, not whole chunks (prompt size is latency).
    # Fewer sentences were measured and do not help: drafts holding the gold answer on 110
    # SQuAD 2.0 answerables (tuning 50 / eval 20 / eval 40): 8 sentences 0.76 / 0.70 / 0.75,
    # 5 sentences (1000 chars) 0.82 / 0.55 / 0.725 - the tuning gain did not hold out
    evidence_sentences: int = 8
    evidence_chars: int = 1600

    # grounding + refusal
    # None: the support model's own threshold, chosen on its validation splits (card.json)
    support_threshold: float | None = None
    # the support model: a name under rag/weights ("support") or a folder with a card.json,
    # e.g. the permissive variant `newsrag train support --permissive` writes
    support_model: str = "support"
    refuse_min_dense: float = 0.22  # best chunk cosine below this: nothing relevant was found
    refuse_min_coverage: float = 0.5  # share of the question's key terms the evidence must hold
    # before drafting, the LLM's yes/no log-odds that one of the first answerable_chunks
    # passages holds the answer (rag/answerable.py); below answerable_min the question is
    # refused. 1.5 is the strictest bar (in steps of 0.25) that refused no answerable question
    # of 120 SQuAD 2.0 questions outside the refusal bench's samples nor of the seed suite;
    # 2.25 refuses more unanswerables but also "How much aid did the US Congress fail to
    # approve?" on the seed article (figures in rag/answerable.py).
    answerable_gate: bool = True
    # who judges: the trained (passage, question) model (rag/weights/answerable), the LLM's
    # yes/no log-odds, or both (each must pass its bar). With the answer check, on 40 SQuAD 2.0
    # questions of untouched articles (bench refusal, seed 7): model 0.85 unanswerables refused /
    # 0.40 answerables correct, llm 0.75 / 0.45, both 0.85 / 0.40; but the model (trained on
    # Wikipedia only) does not separate the seed article's questions, so the LLM judges
    answerable_judge: Literal["model", "llm", "both"] = "llm"
    answerable_model_min: float | None = None  # None: the model's own threshold (card.json)
    # with retrieved text marked as quoted data (issue 19) the same rule gives 1.25: "How much
    # aid did the US Congress fail to approve for Ukraine?" scores 1.30 on the seed article
    answerable_min: float = 1.25
    answerable_chunks: int = 2
    # after drafting, the same passages are asked again, also whether the drafted answer is
    # correct; below answer_check_min on the sum of the two log-odds the answer is refused.
    # 2.75: the strictest bar (steps of 0.25) that refuses no answerable question of the seed
    # suite ("When did the US government request…" scores 2.95, "How much aid did the US
    # Congress fail to approve?" 3.15); on 120 SQuAD 2.0 questions outside the refusal bench's
    # samples it refuses 78% of the unanswerables (3.25 would refuse 85%; rag/answerable.py).
    answer_check: bool = True
    # with the quoted-data prompts (issue 19) the same rule gives 2.5: the seed article's "How
    # much aid did the US Congress fail to approve?" now sums to 2.62 (the others not re-run)
    answer_check_min: float = 2.5

    # LLM seam: "server" runs llama.cpp's own server on loopback (parallel slots; rag/llm/server.py)
    llm_backend: Literal["local", "server", "openai", "extractive"] = "local"
    llm_model: str = "qwen2.5-coder-1.5b"  # a packaged model name or a path to a GGUF file
    llm_context: int = 2048
    llm_threads: int = Field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))
    llm_max_tokens: int = 160
    llm_temperature: float = 0.0
    # evaluated prompt prefixes kept as context states (rag/llm/states.py); 0 turns it off
    llm_prompt_cache_mb: int = 512
    # a file recording the local model's replies and yes/no scores by exact prompt, replayed on
    # reruns (benchmarks of the checker and refusal rules; rag/llm/replay.py). None = off.
    llm_replay: Path | None = None
    # llm_backend "server": parallel slots of llm_context tokens each (continuous batching), as
    # many questions at once (rag.turns; 2 gave the best waits on 2 cores: README), and the
    # llama-server binary (None: the one `make setup` caches under cache_dir/bin)
    llm_server_slots: int = Field(default=2, ge=1)
    llm_server_bin: Path | None = None
    # more llama-server flags, as one shell-quoted string (e.g. its speculative decoding)
    llm_server_args: str = ""
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    openai_model: str = "qwen2.5:1.5b-instruct"
    openai_api_key_env: str = "OPENAI_API_KEY"
    # the server returns the first token's top log-probabilities (vLLM, llama-server and OpenAI
    # do; not every server does): the answerability gate and the answer check then read their
    # yes/no scores from it (rag/judge.py). Off: those checks are skipped for this backend
    openai_logprobs: bool = False

    # summaries
    summary_sentences: int = 5
    summary_group_chars: int = 3500  # text per map step
    # the digest (a summary with no ids and no query): the newest articles, grouped by topic
    digest_articles: int = 10
    digest_sentences: int = 3  # per topic
    digest_topic_min: float = 0.5  # cosine of two articles' opening chunks to share a topic
    digest_at_start: bool = True  # the app writes the digest in the background once warm

    # app
    host: str = "127.0.0.1"
    port: int = 7860

    @field_validator("chunk_tokens")
    @classmethod
    def _fits_window(cls, v: int) -> int:
        if not 32 <= v <= 240:
            raise ValueError("chunk_tokens must be 32..240 to fit the 256-token embedder window")
        return v

    @field_validator("vector_store")
    @classmethod
    def _known_store(cls, v: str) -> str:
        if v in ("faiss", "faiss:flat", "faiss:hnsw") or v.startswith("milvus://"):
            return v
        if v.startswith("milvus:") and v.endswith(".db"):
            # a Lite path follows the cwd otherwise: two commands in two folders would differ
            return "milvus:" + str(Path(v.removeprefix("milvus:")).expanduser().resolve())
        raise ValueError(
            f"store {v!r}: use faiss, faiss:hnsw, milvus:PATH.db or milvus://host:port"
        )

    @property
    def shared_store(self) -> bool:
        """The whole index lives in Milvus: no local index directory is read or written."""
        return self.vector_store.startswith("milvus:")

    @property
    def store_name(self) -> str:
        """Where the index lives, for messages."""
        if self.shared_store:
            return f"{self.vector_store} (collection {self.collection})"
        return str(self.index_dir)

    @property
    def embedder(self) -> str:
        return embedder_identity(self.embed_model, self.embed_precision)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None values ignored), validated again."""
        # only what was set explicitly is passed on, so the copy still knows which fields were
        # left to their defaults (an index may then supply them: `adopt`)
        dump = self.model_dump()
        data = {k: dump[k] for k in self.model_fields_set}
        data.update({k: v for k, v in changes.items() if v is not None})
        return Settings(**data)

    def index_fields(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in INDEX_FIELDS}

    def write(self, directory: Path) -> None:
        """Write settings.json into an index directory (atomically)."""
        directory.mkdir(parents=True, exist_ok=True)
        data = json.loads(self.model_dump_json())
        tmp = directory / "settings.json.tmp"
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.replace(tmp, directory / "settings.json")

    def adopt_index(self, directory: Path) -> Settings:
        """Take the index-defining fields from an existing index, so it is searched as built."""
        path = directory / "settings.json"
        if not path.exists():
            return self
        try:
            stored = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"{path}: unreadable settings ({e})") from e
        return self.adopt(stored, str(directory))

    def adopt(self, stored: dict[str, Any], where: str) -> Settings:
        """Take the index-defining fields `stored` beside an index (at `where`)."""
        if not stored:
            return self
        # indexes from before the precision was recorded were built at fp32
        built_by = {
            "embed_model": stored.get("embed_model", self.embed_model),
            "embed_precision": stored.get("embed_precision", "fp32"),
        }
        built = embedder_identity(built_by["embed_model"], built_by["embed_precision"])
        # an embedder left to the defaults is the one that built the index; one asked for by
        # name (keyword or NEWSRAG_ variable) must be it
        named = {k: getattr(self, k) for k in built_by if k in self.model_fields_set}
        ask = {**built_by, **named}
        wanted = embedder_identity(ask["embed_model"], ask["embed_precision"])
        if wanted != built:
            raise ConfigError(
                f"{where}: this index was built by the embedder {built}, but the settings "
                f"ask for {wanted}; vectors of two embedders cannot be searched together. "
                f"Open it with the embedder that built it (NEWSRAG_EMBED_MODEL / "
                f"NEWSRAG_EMBED_PRECISION), or rebuild it: move {where} away (or use another "
                "--collection) and run `newsrag ingest FILES...` with the new embedder"
            )
        # the store is where it was found, not where it was first written
        keep = [k for k in INDEX_FIELDS if k in stored and k not in ("vector_store", *built_by)]
        if not self.shared_store and stored.get("vector_store") in (
            "faiss",
            "faiss:hnsw",
            "faiss:flat",
        ):
            keep.append("vector_store")
        return self.with_overrides(**built_by, **{k: stored[k] for k in keep})
