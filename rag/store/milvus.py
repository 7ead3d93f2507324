r"""The Milvus index: the whole index in one Milvus database, so several app servers share it.

URIs (`Settings.vector_store`, `--store`):
    milvus:PATH.db       a Milvus Lite database (a folder; one process at a time holds it)
    milvus://host:port   a Milvus server or cluster, or `milvus-lite server` on a port
Two collections per index, named after `Settings.collection` (default `newsrag`):
    <name>_chunks  one row per chunk: id, doc_id, the BM25 words of its title line and text,
                   span and sentence spans, source and date for filters, the dense vector and
                   the sparse BM25 vector that Milvus's own BM25 function computes at insert
    <name>_docs    one row per piece of a document's text (Milvus strings stop at 64 kB), its
                   metadata on piece 0, and one `__state__` row: the index's build settings
                   and a token that changes at every commit
Nothing is read from or written to a local index directory.

Retrieval is one hybrid search inside Milvus: the dense leg (cosine over unit vectors, FLAT,
so exact like FAISS flat) and the BM25 leg, each limited by the same filter expression
(visible, source, dates, documents), fused by Milvus's `RRFRanker(rrf_k)`, which is our
weighted RRF with equal weights (rag/fuse.py); unequal weights run the two legs inside Milvus
and fuse here.

BM25 is Milvus's own function, so its statistics (document frequencies, average length) are
kept by Milvus for the whole collection and stay exact after deletes, whichever server wrote.
It reads the words our tokenizer gives (rag.terms.tokens: stems, stop words dropped, numbers
kept whole; the words the support checker counts), each written as one `\w+` word and joined
by spaces, for chunks and questions alike, so that Milvus's standard tokenizer (Lite's is a
bare `\w+`, and Lite drops stemmer filters) finds exactly those words; with bm25s's k1 and b
the BM25 leg ranks as the local index's does. Measured: `newsrag bench retrieval --store`.

Why a mirror: every app server keeps the documents and chunks (not the vectors) in memory,
read from Milvus and caught up at each question by one point read of the state token
(`refresh`), so a second server sees what the first ingested or deleted at its next question.
Grounding, citations, summaries and the library read the mirror as they read the local index.
It costs each server about the corpus's text in memory (3.7k news articles: ~60 MB); vectors
and BM25 stay in Milvus alone.

Writes are batches made visible in one step: a commit upserts the new chunks and document rows
with `visible = false`, then flips the chunks and, in one upsert call, the documents to
visible (deleted documents are flipped off in that same call), then removes deleted rows and
writes a new state token. Searches and the mirror read only visible rows, so a batch that fails
leaves the collection as it was for every reader (its invisible rows are removed, or, after a
kill, overwritten by the next ingest of the same files: row ids are content hashes). Ingest and
delete are idempotent: a document whose content hash is indexed is skipped, a missing id is
no-op.

Written over pymilvus's MilvusClient rather than llama-index's MilvusVectorStore: that store
keeps one text field and its metadata as JSON, with no visibility flag to commit a batch at
once, no document pieces, and its hybrid mode needs a sparse embedding function of its own;
llama-index-vector-stores-milvus 1.2.0 also requires pymilvus<3 and cannot sit beside the
pinned pymilvus 3.0.2.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import (
    AnnSearchRequest,
    DataType,
    Function,
    FunctionType,
    MilvusClient,
    RRFRanker,
)
from pymilvus.exceptions import MilvusException

from rag.errors import ConfigError, IndexStoreError
from rag.fuse import rrf
from rag.index import Catalog
from rag.terms import tokens
from rag.types import Chunk, Document, Filters, Hit


class _KnownNoise(logging.Filter):
    """Messages this module turns into one clear error, or that say nothing to a user: Milvus
    Lite has no AllocTimestamp call (its in-process server logs the refusal and pymilvus warns
    at every query iterator, then uses the client's time, right for a Strong-consistency
    collection), and a Lite folder locked by another process (reported by `_connect`)."""

    NOISE = ("mvccTs", "Method not implemented", "AllocTimestamp", "holds the lock")

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage() + str(record.exc_info)
        return not any(n in text for n in self.NOISE)


for _name in (
    "pymilvus",
    "pymilvus.client.iterator.query_iterator",
    "grpc._server",
    "milvus_lite.server_manager",
):  # a logger's filters see only its own records: each one that writes them
    logging.getLogger(_name).addFilter(_KnownNoise())
    for _handler in logging.getLogger(_name).handlers:
        _handler.addFilter(_KnownNoise())

FORMAT = 2
BATCH = 1000  # rows per write call: well under gRPC's message size at 384-d
READ_BATCH = 200  # document ids per `in [...]` read
FULL_READ = 1  # more new documents than this x those held: read every row in one pass
PIECE_CHARS = 16000  # a document's text in pieces: 4 bytes a character at most < 65535 bytes
TIMEOUT = 60.0  # seconds per call; a server that does not answer fails instead of hanging
# pymilvus pings every 10 s even when idle; gRPC servers on their defaults (Milvus Lite's)
# answer an idle client pinging more often than every 5 minutes with "too many pings" and
# close the connection: an app server idle between questions lost its store that way
GRPC_OPTIONS = {"grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": False}
STATE_ID = "__state__"
MAX_TITLE = 1000  # characters of the title kept for filters (the whole title is in the meta)
ANALYZER = {"tokenizer": "standard"}  # the words are ours (bm25_words); it only splits them
BM25 = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's defaults, as the local index uses
DENSE_SEARCH = {"metric_type": "IP", "params": {"ef": 128}}  # ef: HNSW's (FLAT ignores it)


def dense_index_params(kind: str) -> dict[str, Any]:
    """Milvus index of the dense vectors: FLAT (exact) or HNSW like the FAISS store's."""
    if kind == "HNSW":
        return {
            "index_type": "HNSW",
            "metric_type": "IP",
            "params": {"M": 32, "efConstruction": 80},
        }
    return {"index_type": "FLAT", "metric_type": "IP"}


_NOT_WORD = re.compile(r"\W")


def bm25_words(text: str) -> str:
    r"""Our BM25 tokens as space-separated `\w+` words ("long-standing" -> "long_standing")."""
    return " ".join(_NOT_WORD.sub("_", t) for t in tokens(text))


def is_milvus(uri: str) -> bool:
    return uri.startswith("milvus:")


def address(uri: str) -> str:
    """What MilvusClient connects to: a Lite folder's path, or a server's http address."""
    if uri.startswith("milvus://"):
        rest = uri.removeprefix("milvus://").rstrip("/")
        host, _, port = rest.partition(":")
        if not host or (port and not port.isdigit()) or "/" in rest:
            raise ConfigError(f"store {uri!r}: expected milvus://host:port")
        return f"http://{host}:{port or 19530}"
    path = uri.removeprefix("milvus:")
    if not path.endswith(".db"):
        raise ConfigError(
            f"store {uri!r}: a Milvus Lite database is a path ending in .db "
            "(milvus:PATH.db), a server is milvus://host:port"
        )
    if importlib.util.find_spec("milvus_lite") is None:
        raise ConfigError(
            f"store {uri!r}: Milvus Lite is not installed (pip install 'newsrag[milvus]')"
        )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return str(Path(path).resolve())


def _held_elsewhere(path: str) -> bool:
    """Whether a Milvus Lite folder's lock is held (by another process: a failed open of ours
    releases it)."""
    import fcntl

    lock = Path(path) / "LOCK"
    if path.startswith("http") or not lock.exists():
        return False
    from milvus_lite.server_manager import server_manager_instance

    if str(Path(path).resolve()) in server_manager_instance._servers:
        return False  # this process serves it: the failure is another one
    with lock.open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


def _quote(value: str) -> str:
    """A string literal for a Milvus filter expression."""
    return json.dumps(value, ensure_ascii=False)


def _in(field: str, values: Iterable[str]) -> str:
    return f"{field} in [{', '.join(_quote(v) for v in values)}]"


def filter_expr(filters: Filters, doc_ids: Iterable[str] | None = None) -> str:
    """The Milvus expression for visible chunks passing `filters`; `doc_ids` (already
    resolved from the titles filter) restricts further."""
    parts = ["visible == true"]
    if filters.doc_ids:
        parts.append(_in("doc_id", filters.doc_ids))
    if doc_ids is not None:
        parts.append(_in("doc_id", doc_ids))
    if filters.sources:
        parts.append(_in("source_key", sorted({s.lower() for s in filters.sources})))
    if filters.date_from or filters.date_to:
        parts.append('published_at != ""')
        if filters.date_from:
            parts.append(f"published_at >= {_quote(filters.date_from)}")
        if filters.date_to:
            parts.append(f"published_at <= {_quote(filters.date_to)}")
    return " and ".join(parts)


def _pieces(text: str) -> list[str]:
    return [text[i : i + PIECE_CHARS] for i in range(0, len(text), PIECE_CHARS)] or [""]


class MilvusIndex(Catalog):
    """The index held by Milvus; documents and chunks mirrored in memory (see the module)."""

    def __init__(self, uri: str, collection: str, dim: int, dense_index: str = "FLAT") -> None:
        super().__init__()
        if not collection.replace("_", "").isalnum():
            raise ConfigError(f"collection {collection!r}: use letters, digits and _ only")
        self.uri = uri
        self.name = collection
        self.chunks_name = f"{collection}_chunks"
        self.docs_name = f"{collection}_docs"
        self.dim = dim
        self.dense_index = dense_index  # for a new collection; an existing one keeps its own
        self._address = address(uri)
        self._client: MilvusClient | None = None
        self._lock = threading.RLock()
        self._state: str | None = None  # the token the mirror was read at
        self._pending_add: list[tuple[Document, list[Chunk], np.ndarray]] = []
        self._pending_delete: set[str] = set()

    @classmethod
    def open(cls, uri: str, collection: str, dim: int, dense_index: str = "FLAT") -> MilvusIndex:
        index = cls(uri, collection, dim, dense_index)
        index.refresh()
        return index

    # ---- connection ----------------------------------------------------------------------
    @contextmanager
    def _session(self, doing: str) -> Iterator[MilvusClient]:
        """The client, connected on first use; Milvus errors become one IndexStoreError."""
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            try:
                yield self._client
            except MilvusException as e:
                raise IndexStoreError(
                    f"store {self.uri} ({self.name}): cannot {doing}: {e.message}"
                ) from e

    def _connect(self) -> MilvusClient:
        try:
            client = MilvusClient(self._address, timeout=TIMEOUT, grpc_options=GRPC_OPTIONS)
            if not client.has_collection(self.docs_name):
                self._create(client)
            client.load_collection(self.docs_name)
            client.load_collection(self.chunks_name)
        except Exception as e:  # a refused connection, Lite's folder lock, a Milvus error
            if _held_elsewhere(self._address):
                raise IndexStoreError(
                    f"store {self.uri}: another process holds this Milvus Lite database (Lite "
                    "serves one process at a time); to share it, serve it with `milvus-lite "
                    f"server --data-dir {self._address} --port 19530` and use "
                    "--store milvus://127.0.0.1:19530 everywhere"
                ) from e
            raise IndexStoreError(
                f"store {self.uri}: cannot open the index {self.name!r} at {self._address}: "
                f"{getattr(e, 'message', e)}"
            ) from e
        return client

    def _create(self, client: MilvusClient) -> None:
        chunks = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        chunks.add_field("id", DataType.VARCHAR, is_primary=True, max_length=128)
        chunks.add_field("doc_id", DataType.VARCHAR, max_length=64)
        chunks.add_field(
            "text",
            DataType.VARCHAR,
            max_length=65535,
            enable_analyzer=True,
            analyzer_params=ANALYZER,
        )
        chunks.add_field("span", DataType.JSON)  # start, end, position, sentences
        chunks.add_field("source_key", DataType.VARCHAR, max_length=512)
        chunks.add_field("published_at", DataType.VARCHAR, max_length=16)
        chunks.add_field("visible", DataType.BOOL)
        chunks.add_field("batch", DataType.VARCHAR, max_length=32)
        chunks.add_field("dense", DataType.FLOAT_VECTOR, dim=self.dim)
        chunks.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        chunks.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=["sparse"],
            )
        )
        params = client.prepare_index_params()
        params.add_index(field_name="dense", **dense_index_params(self.dense_index))
        for field in ("visible", "doc_id", "source_key", "published_at"):  # the filters' fields
            params.add_index(field_name=field, index_type="INVERTED")
        params.add_index(
            field_name="sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params=BM25,
        )
        client.create_collection(
            self.chunks_name, schema=chunks, index_params=params, consistency_level="Strong"
        )
        docs = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        docs.add_field("id", DataType.VARCHAR, is_primary=True, max_length=128)
        docs.add_field("doc_id", DataType.VARCHAR, max_length=64)
        docs.add_field("piece", DataType.INT64)
        docs.add_field("meta", DataType.JSON)  # piece 0: the document's metadata
        docs.add_field("text", DataType.VARCHAR, max_length=65535)
        docs.add_field("visible", DataType.BOOL)
        docs.add_field("batch", DataType.VARCHAR, max_length=32)
        docs.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field
        params = client.prepare_index_params()
        params.add_index(field_name="unused", index_type="FLAT", metric_type="L2")
        for field in ("visible", "doc_id", "piece"):
            params.add_index(field_name=field, index_type="INVERTED")
        client.create_collection(
            self.docs_name, schema=docs, index_params=params, consistency_level="Strong"
        )

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # ---- state and settings --------------------------------------------------------------
    def _read_state(self, client: MilvusClient) -> dict[str, Any]:
        rows = client.query(self.docs_name, ids=[STATE_ID], output_fields=["meta"])
        return dict(rows[0]["meta"]) if rows else {}

    def stored_settings(self) -> dict[str, Any]:
        """The build settings recorded by the first commit ({} for a new index)."""
        with self._session("read the index's settings") as client:
            return dict(self._read_state(client).get("settings") or {})

    def _write_state(self, client: MilvusClient, settings: dict[str, Any] | None) -> str:
        state = self._read_state(client)
        token = uuid.uuid4().hex
        row = {
            "id": STATE_ID,
            "doc_id": "",
            "piece": -1,
            "meta": {
                "format": FORMAT,
                "state": token,
                "dim": self.dim,
                "settings": settings if settings is not None else state.get("settings", {}),
            },
            "text": "",
            "visible": False,
            "batch": "",
            "unused": [0.0, 0.0],
        }
        client.upsert(self.docs_name, [row])
        return token

    def record_settings(self, settings: dict[str, Any]) -> None:
        """Keep the build settings beside the data (the local index's settings.json)."""
        with self._session("record the index's settings") as client:
            self._state = self._write_state(client, settings)

    # ---- the mirror ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Catch up with what other servers committed: one point read when nothing changed."""
        if self._pending_add or self._pending_delete:
            return  # mid-batch (under the pipeline's lock): the mirror leads until the commit
        with self._session("read the index") as client:
            state = self._read_state(client)
            if state and state.get("dim", self.dim) != self.dim:
                raise IndexStoreError(
                    f"store {self.uri} ({self.name}): vectors have {state['dim']} dimensions, "
                    f"the embedder gives {self.dim}"
                )
            token = state.get("state")
            if token is not None and token == self._state:
                return
            visible = {
                r["doc_id"]
                for r in self._iterate(
                    client, self.docs_name, "piece == 0 and visible == true", ["doc_id"]
                )
            }
            gone = set(self.documents) - visible
            new = sorted(visible - set(self.documents))
            for d in gone:
                self.documents.pop(d, None)
            if gone:
                for cid in [c for c, ch in self.chunks.items() if ch.doc_id in gone]:
                    del self.chunks[cid]
            if len(new) > FULL_READ * max(1, len(self.documents)):  # a new server: one pass
                self._load(client, None, set(new))
            else:
                for i in range(0, len(new), READ_BATCH):
                    self._load(client, new[i : i + READ_BATCH], set(new[i : i + READ_BATCH]))
            self._state = token
            if gone or new:
                self.generation += 1
                self.changed()

    def _iterate(
        self, client: MilvusClient, collection: str, expr: str, fields: list[str]
    ) -> Iterator[dict[str, Any]]:
        it = client.query_iterator(collection, batch_size=BATCH, filter=expr, output_fields=fields)
        try:
            while batch := it.next():
                yield from batch
        finally:
            it.close()

    def _load(self, client: MilvusClient, doc_ids: list[str] | None, wanted: set[str]) -> None:
        """Read the `wanted` documents and their chunks into the mirror: by id, or (`doc_ids`
        None) in one pass over every visible row, cheaper than many `in` filters at start."""
        pieces: dict[str, dict[int, str]] = {}
        metas: dict[str, dict[str, Any]] = {}
        expr = (
            "visible == true"
            if doc_ids is None
            else _in("doc_id", doc_ids) + " and visible == true"
        )
        for r in self._iterate(client, self.docs_name, expr, ["doc_id", "piece", "meta", "text"]):
            if r["doc_id"] not in wanted:
                continue
            pieces.setdefault(r["doc_id"], {})[r["piece"]] = r["text"]
            if r["piece"] == 0:
                metas[r["doc_id"]] = r["meta"]
        for doc_id, meta in metas.items():
            got = pieces[doc_id]
            if len(got) != meta["pieces"]:
                continue  # caught mid-write; the next refresh reads it whole
            text = "".join(got[i] for i in range(meta["pieces"]))
            fields = {k: v for k, v in meta.items() if k not in ("pieces", "chunks")}
            fields["authors"] = tuple(fields.get("authors") or ())
            fields["guessed"] = tuple(fields.get("guessed") or ())
            self.documents[doc_id] = Document(id=doc_id, text=text, **fields)
        for r in self._iterate(client, self.chunks_name, expr, ["id", "doc_id", "span"]):
            doc = self.documents.get(r["doc_id"]) if r["doc_id"] in wanted else None
            if doc is None:
                continue
            sp = r["span"]
            self.chunks[r["id"]] = Chunk(
                id=r["id"],
                doc_id=r["doc_id"],
                text=doc.text[sp["start"] : sp["end"]],
                start=sp["start"],
                end=sp["end"],
                sentences=tuple(tuple(s) for s in sp["sentences"]),
                position=sp["position"],
            )

    # ---- searching -----------------------------------------------------------------------
    def hybrid(
        self,
        text: str,
        qvec: np.ndarray,
        filters: Filters,
        n: int,
        rrf_k: int,
        dense_weight: float = 1.0,
        lexical_weight: float = 1.0,
    ) -> list[Hit]:
        """Dense and BM25 legs inside Milvus under one filter expression, fused by RRF."""
        doc_ids = None
        if filters.titles:  # a substring of the title: resolved on the mirror
            doc_ids = [
                d.id
                for d in self.documents.values()
                if any(t.lower() in d.title.lower() for t in filters.titles)
            ]
            if not doc_ids:
                return []
        expr = filter_expr(filters, doc_ids)
        q = np.asarray(qvec, dtype=np.float32).reshape(-1)
        dense_req = AnnSearchRequest(
            data=[q], anns_field="dense", param=DENSE_SEARCH, limit=n, expr=expr
        )
        words = bm25_words(text)
        lexical_req = AnnSearchRequest(
            data=[words], anns_field="sparse", param={"metric_type": "BM25"}, limit=n, expr=expr
        )
        fields = ["dense"]
        with self._session("search") as client:
            if dense_weight == lexical_weight or not (dense_weight and lexical_weight):
                reqs = [
                    r
                    for r, w in ((dense_req, dense_weight), (lexical_req, lexical_weight))
                    if w and (r is dense_req or words)
                ]
                if not reqs:
                    return []
                res = client.hybrid_search(
                    self.chunks_name,
                    reqs,
                    ranker=RRFRanker(rrf_k),
                    limit=2 * n,
                    output_fields=fields,
                )[0]
                weight = dense_weight or lexical_weight
                fused = [
                    (h["id"], weight * float(h["distance"]), h["entity"]["dense"]) for h in res
                ]
            else:  # Milvus's RRF has no weights: both legs from Milvus, fused here
                legs = [
                    client.search(
                        self.chunks_name,
                        data=[d],
                        anns_field=field,
                        limit=n,
                        filter=expr,
                        search_params=params,
                        output_fields=fields,
                    )[0]
                    for d, field, params in (
                        (q, "dense", DENSE_SEARCH),
                        (words or "_", "sparse", {"metric_type": "BM25"}),
                    )
                ]
                vec = {h["id"]: h["entity"]["dense"] for leg in legs for h in leg}
                ranked = rrf(
                    [(h["id"], float(h["distance"])) for h in legs[0]],
                    [(h["id"], abs(float(h["distance"]))) for h in legs[1]],
                    rrf_k,
                    dense_weight,
                    lexical_weight,
                )
                fused = [(cid, score, vec[cid]) for cid, score, _, _ in ranked]
        hits = []
        for cid, score, vector in fused:
            chunk = self.chunks.get(cid)
            if chunk is not None and chunk.doc_id in self.documents:
                cosine = float(np.dot(q, np.asarray(vector, dtype=np.float32)))
                hits.append(Hit(chunk, score, cosine, None))
        hits.sort(key=lambda h: (-h.score, -(h.dense or 0.0)))
        return hits

    # ---- writing -------------------------------------------------------------------------
    def add(self, doc: Document, chunks: list[Chunk], vectors: np.ndarray) -> None:
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        self._pending_delete.discard(doc.id)
        self._pending_add.append((doc, chunks, np.asarray(vectors, dtype=np.float32)))
        self.documents[doc.id] = doc
        for c in chunks:
            self.chunks[c.id] = c
        self.changed()

    def delete(self, doc_ids: Iterable[str]) -> list[str]:
        gone = [d for d in dict.fromkeys(doc_ids) if d in self.documents]
        if not gone:
            return []
        drop = set(gone)
        self._pending_add = [p for p in self._pending_add if p[0].id not in drop]
        self._pending_delete |= drop
        for cid in [c for c, ch in self.chunks.items() if ch.doc_id in drop]:
            del self.chunks[cid]
        for d in gone:
            del self.documents[d]
        self.changed()
        return gone

    def commit(self) -> None:
        """Make the pending adds and deletes visible to every reader at once (see the module)."""
        adds, deletes = self._pending_add, sorted(self._pending_delete)
        if not adds and not deletes:
            return
        batch = uuid.uuid4().hex[:16]
        with self._session("commit") as client:
            old_chunks: list[str] = []
            try:
                self._write_hidden(client, adds, batch)
                add_ids = [doc.id for doc, _, _ in adds]
                chunk_ids = [c.id for _, chunks, _ in adds for c in chunks]
                old_chunks = self._ids(client, self.chunks_name, deletes)
                self._flip(client, self.chunks_name, [(c, True) for c in chunk_ids])
                self._flip(client, self.chunks_name, [(c, False) for c in old_chunks])
                # the commit point: one call shows the new documents and hides the deleted
                self._flip(
                    client,
                    self.docs_name,
                    [(f"{d}#0", True) for d in add_ids] + [(f"{d}#0", False) for d in deletes],
                    whole=True,
                )
            except (MilvusException, OSError) as e:
                self._abandon(client, batch, old_chunks)
                self._pending_add, self._pending_delete = [], set()
                self._state = None  # the mirror is read again from what Milvus holds
                raise IndexStoreError(
                    f"store {self.uri} ({self.name}): the batch was not committed "
                    f"({getattr(e, 'message', e)}); the index stays as it was"
                ) from e
            for i in range(0, len(deletes), READ_BATCH):
                part = deletes[i : i + READ_BATCH]
                client.delete(
                    self.chunks_name, filter=_in("doc_id", part) + " and visible == false"
                )
                client.delete(self.docs_name, filter=_in("doc_id", part))
            self._pending_add, self._pending_delete = [], set()
            self._write_state(client, None)
            # read the ids again at the next refresh: other servers may have committed between
            # this mirror's last refresh and this commit
            self._state = None
            self.generation += 1

    def _write_hidden(
        self, client: MilvusClient, adds: list[tuple[Document, list[Chunk], np.ndarray]], batch: str
    ) -> None:
        rows: list[dict[str, Any]] = []
        docs: list[dict[str, Any]] = []

        def flush(force: bool = False) -> None:
            if rows and (force or len(rows) >= BATCH):
                client.upsert(self.chunks_name, rows)
                rows.clear()
            if docs and (force or len(docs) >= BATCH // 10):
                client.upsert(self.docs_name, docs)
                docs.clear()

        for doc, chunks, vectors in adds:
            title = doc.title
            for c, v in zip(chunks, vectors, strict=True):
                rows.append(
                    {
                        "id": c.id,
                        "doc_id": doc.id,
                        "text": bm25_words(f"{title}\n{c.text}" if title else c.text),
                        "span": {
                            "start": c.start,
                            "end": c.end,
                            "position": c.position,
                            "sentences": [list(s) for s in c.sentences],
                        },
                        "source_key": doc.source.lower()[:500],
                        "published_at": doc.published_at or "",
                        "visible": False,
                        "batch": batch,
                        "dense": v,
                    }
                )
                flush()
            pieces = _pieces(doc.text)
            meta = asdict(doc)
            meta.pop("id")
            meta.pop("text")
            meta["authors"] = list(doc.authors)
            meta["guessed"] = list(doc.guessed)
            meta.update(pieces=len(pieces), chunks=len(chunks))
            for i, piece in enumerate(pieces):
                docs.append(
                    {
                        "id": f"{doc.id}#{i}",
                        "doc_id": doc.id,
                        "piece": i,
                        "meta": meta if i == 0 else {},
                        "text": piece,
                        "visible": i > 0,  # pieces show through piece 0's flag
                        "batch": batch,
                        "unused": [0.0, 0.0],
                    }
                )
                flush()
        flush(force=True)

    def _ids(self, client: MilvusClient, collection: str, doc_ids: list[str]) -> list[str]:
        out: list[str] = []
        for i in range(0, len(doc_ids), READ_BATCH):
            expr = _in("doc_id", doc_ids[i : i + READ_BATCH])
            out += [r["id"] for r in self._iterate(client, collection, expr, ["id"])]
        return out

    def _flip(
        self,
        client: MilvusClient,
        collection: str,
        ids: list[tuple[str, bool]],
        whole: bool = False,
    ) -> None:
        """Set `visible` on rows by id; `whole` sends them in one call (a commit point)."""
        rows = [{"id": i, "visible": v} for i, v in ids]
        step = len(rows) if whole else BATCH
        for i in range(0, len(rows), max(step, 1)):
            client.upsert(collection, rows[i : i + step], partial_update=True)

    def _abandon(self, client: MilvusClient, batch: str, hidden: list[str]) -> None:
        """Undo a commit that failed before its commit point: remove the batch's rows and show
        again the chunks of documents it was deleting. A failure here leaves rows of no
        visible document (never returned; `newsrag doctor` names them, the next ingest of the
        same content overwrites them)."""
        try:
            client.delete(self.chunks_name, filter=f"batch == {_quote(batch)}")
            client.delete(self.docs_name, filter=f"batch == {_quote(batch)}")
            self._flip(client, self.chunks_name, [(c, True) for c in hidden])
        except MilvusException:
            pass

    # ---- checks --------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """What disagrees between the mirror and the collections (empty when consistent)."""
        out = super().problems()
        with self._session("check the index") as client:
            visible = client.query(
                self.chunks_name, filter="visible == true", output_fields=["count(*)"]
            )[0]["count(*)"]
            hidden = client.query(
                self.chunks_name, filter="visible == false", output_fields=["count(*)"]
            )[0]["count(*)"]
        known = len(self.chunks)
        if visible != known:
            out.append(f"Milvus shows {visible} chunks, the documents list {known}")
        if hidden:
            out.append(
                f"{hidden} hidden chunk rows of an unfinished batch (never searched; "
                "ingesting the same files again overwrites them)"
            )
        return out

    def flush(self) -> None:
        """Seal what was written into indexed segments (after a bulk copy: Milvus Lite searched
        a freshly migrated pool about 4x slower until its segments were sealed)."""
        with self._session("flush") as client:
            for name in (self.chunks_name, self.docs_name):
                client.flush(name)

    def vectors_of(self, chunk_ids: list[str]) -> dict[str, np.ndarray]:
        """Stored dense vectors by chunk id (migration checks and tests)."""
        out: dict[str, np.ndarray] = {}
        with self._session("read vectors") as client:
            for i in range(0, len(chunk_ids), READ_BATCH):
                rows = client.query(
                    self.chunks_name, ids=chunk_ids[i : i + READ_BATCH], output_fields=["dense"]
                )
                out.update({r["id"]: np.asarray(r["dense"], dtype=np.float32) for r in rows})
        return out

    def drop(self) -> None:
        """Remove both collections (tests, and `migrate --replace`)."""
        with self._session("drop the index") as client:
            for name in (self.chunks_name, self.docs_name):
                if client.has_collection(name):
                    client.drop_collection(name)
        self.close()
