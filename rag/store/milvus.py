"""Milvus store: the vector-store seam over a Milvus server or cluster, or Milvus Lite.

URIs (`Settings.vector_store`):
    milvus               Milvus Lite private to the index, carried inside each generation
    milvus:PATH.db       a Milvus Lite database at PATH (a directory), live and shareable
    milvus://host:port   a Milvus server or cluster, live

Written over pymilvus's MilvusClient rather than llama-index's MilvusVectorStore: that store keys
nodes by string ids with their text, deletes by source document and filters through metadata,
while this seam needs integer rows, row deletes and searches restricted to given rows (here the
primary key is the row, so a delete is a delete by id and `row in [...]` filters inside the
search); and llama-index-vector-stores-milvus 1.2.0 requires pymilvus<3, so it cannot be
installed beside the pinned pymilvus 3.0.2. The index is FLAT with the inner-product metric, so
results equal the exact FAISS store's; the collection is Strong-consistent, so a search sees the
rows added just before it.

Each index owns one collection, named `newsrag_<uuid>` when the store is created and recorded in
every generation's `milvus.json`, so indexes sharing a Lite database or a server never collide.

Why a bare `milvus` keeps its database inside the generation: an index generation is written
whole and made live by an atomic rename (see rag/index.py), and the old one stays until the next
commit. A live database beside the generations would be changed before the commit, so a crash
mid-ingest would leave vectors the live generation does not know and lose vectors of documents it
still lists. Instead the store works on a private copy in a temporary folder (unpacked when the
generation is opened, so several processes can read one index, which a Lite database's lock
would forbid) and `save` packs that copy as one file, `vectors.milvus.zip`, into the new
generation, just as the FAISS store writes `vectors.faiss`: the index directory stays
self-contained and as crash-safe as with FAISS. It is one file, not the Lite data directory,
because every file of a generation is fsynced before the swap.

The live URIs (`milvus:PATH.db`, `milvus://`) change the collection at once, as any database
does; a generation holds only `milvus.json`. After a crash mid-ingest, vectors of rows the live
generation does not list are ignored by retrieval and overwritten when those row numbers are used
again (adds are upserts); a crash after a delete leaves the deleted documents' chunks findable
only by BM25 until they are ingested again. A copied index directory shares its collection.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import threading
import uuid
import weakref
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from pymilvus import DataType, MilvusClient
from pymilvus.exceptions import MilvusException

from rag.errors import ConfigError, IndexStoreError

BATCH = 2000  # rows per upsert/delete call: well under gRPC's message size at 384-d
MAX_TOPK = 16384  # Milvus refuses a larger limit
TIMEOUT = 30.0  # seconds per call; a server that does not answer fails instead of hanging


def lite_path(uri: str) -> Path | None:
    """The Milvus Lite database of a `milvus:PATH.db` URI, None for the other forms."""
    if uri.startswith("milvus:") and not uri.startswith("milvus://"):
        path = uri.removeprefix("milvus:")
        if not path.endswith(".db"):
            raise ConfigError(f"vector_store {uri!r}: a Milvus Lite path must end in .db")
        return Path(path).expanduser()
    return None


def server_address(uri: str) -> str:
    """The http address of a `milvus://host[:port]` URI (Milvus's default port is 19530)."""
    rest = uri.removeprefix("milvus://").rstrip("/")
    host, _, port = rest.partition(":")
    if not host or (port and not port.isdigit()) or "/" in rest:
        raise ConfigError(f"vector_store {uri!r}: expected milvus://host:port")
    return f"http://{host}:{port or 19530}"


class PrivateLite:
    """A Milvus Lite database in a temporary folder, unpacked from and packed into a generation."""

    def __init__(self, archive: Path | None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="newsrag-milvus-"))
        self.db = self.root / "vectors.db"  # pymilvus starts Milvus Lite for a path ending in .db
        try:
            if archive is not None:
                with zipfile.ZipFile(archive) as z:
                    z.extractall(self.db)
            else:
                self.db.mkdir()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def stop(self) -> None:
        """Stop this database's in-process Lite server, which writes everything to disk."""
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(str(self.db))

    def pack(self, target: Path) -> None:
        self.stop()
        tmp = target.with_name(target.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
            for path in sorted(self.db.rglob("*")):
                if path.is_file() and path.name != "LOCK":
                    z.write(path, path.relative_to(self.db).as_posix())
        os.replace(tmp, target)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class MilvusStore:
    FILENAME = "milvus.json"
    ARCHIVE = "vectors.milvus.zip"

    def __init__(
        self,
        uri: str,
        dim: int,
        collection: str | None = None,
        archive: Path | None = None,
    ) -> None:
        """A store for `uri`; `collection` names an existing one (else a new one is made)."""
        self.uri = uri
        self.dim = dim
        self.collection = collection or f"newsrag_{uuid.uuid4().hex}"
        self._existing = collection is not None
        self._lite = lite_path(uri)
        self._address = server_address(uri) if uri.startswith("milvus://") else None
        if uri != "milvus" and self._lite is None and self._address is None:
            raise ConfigError(f"vector_store {uri!r}: not a Milvus URI")
        self._private: PrivateLite | None = None
        if uri == "milvus" and archive is not None:
            self._start_private(archive)
        self._client: MilvusClient | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, uri: str, dim: int, directory: Path | None) -> MilvusStore:
        """The store a generation directory records, or a new one when it records none."""
        if directory is None or not (directory / cls.FILENAME).exists():
            return cls(uri, dim)
        try:
            meta = json.loads((directory / cls.FILENAME).read_text())
            collection, stored_dim = str(meta["collection"]), int(meta["dim"])
        except (OSError, ValueError, KeyError) as e:
            raise IndexStoreError(f"{directory / cls.FILENAME}: unreadable ({e})") from e
        archive = directory / cls.ARCHIVE
        if uri == "milvus" and not archive.exists():
            raise IndexStoreError(
                f"{directory}: vector_store 'milvus' needs {cls.ARCHIVE}, which is missing "
                f"(the index was built with {meta.get('uri')!r})"
            )
        try:
            return cls(uri, stored_dim, collection, archive if uri == "milvus" else None)
        except (OSError, zipfile.BadZipFile) as e:
            raise IndexStoreError(f"{archive}: damaged Milvus Lite database ({e})") from e

    # ---- connection ----------------------------------------------------------------------
    def _start_private(self, archive: Path | None) -> None:
        self._need_lite()
        self._private = PrivateLite(archive)
        weakref.finalize(self, self._private.remove)

    def _need_lite(self) -> None:
        if importlib.util.find_spec("milvus_lite") is None:
            raise ConfigError(
                f"vector_store {self.uri!r}: Milvus Lite is not installed "
                "(pip install 'newsrag[milvus]')"
            )

    @contextmanager
    def _session(self, doing: str) -> Iterator[MilvusClient]:
        """The client, connected on first use; pymilvus errors become IndexStoreError.

        One call at a time: Milvus Lite wants writes serialized, and `save` closes the client of a
        private database, which must not happen under a running search.
        """
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            try:
                yield self._client
            except MilvusException as e:
                raise IndexStoreError(
                    f"vector_store {self.uri!r}: cannot {doing}: {e.message}"
                ) from e

    def _connect(self) -> MilvusClient:
        if self.uri == "milvus":
            if self._private is None:
                self._start_private(None)
            assert self._private is not None
            address = str(self._private.db)
        elif self._lite is not None:
            self._need_lite()
            self._lite.parent.mkdir(parents=True, exist_ok=True)
            address = str(self._lite.resolve())
        else:
            assert self._address is not None
            address = self._address
        try:
            client = MilvusClient(address, timeout=TIMEOUT)
        except MilvusException as e:
            raise IndexStoreError(
                f"vector_store {self.uri!r}: cannot connect to Milvus at {address}: {e.message}"
            ) from e
        try:
            found = client.has_collection(self.collection)
            if found:
                client.load_collection(self.collection)
            elif not self._existing:
                self._create(client)
        except MilvusException as e:
            raise IndexStoreError(
                f"vector_store {self.uri!r}: cannot open collection {self.collection}: {e.message}"
            ) from e
        if not found and self._existing:
            raise IndexStoreError(
                f"vector_store {self.uri!r}: collection {self.collection} is missing, "
                "so this index's vectors are gone; rebuild the index"
            )
        return client

    def _create(self, client: MilvusClient) -> None:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        params = client.prepare_index_params()
        params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        client.create_collection(
            self.collection, schema=schema, index_params=params, consistency_level="Strong"
        )

    # ---- the seam ------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._session("count vectors") as client:
            res = client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(res[0]["count(*)"])

    def add(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        if len(rows) == 0:
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        ids = np.asarray(rows, dtype=np.int64).tolist()
        with self._session("add vectors") as client:
            for i in range(0, len(ids), BATCH):
                batch = [
                    {"row": r, "vector": v}
                    for r, v in zip(ids[i : i + BATCH], vectors[i : i + BATCH], strict=True)
                ]
                client.upsert(self.collection, batch)

    def remove(self, rows: np.ndarray) -> None:
        if not len(rows):
            return
        ids = np.asarray(rows, dtype=np.int64).tolist()
        with self._session("remove vectors") as client:
            for i in range(0, len(ids), BATCH):
                client.delete(self.collection, ids=ids[i : i + BATCH])

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        if k <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        where = ""
        if allowed is not None:
            # the primary key filter runs inside the search, before the top-k cut
            where = "row in [" + ",".join(map(str, allowed.astype(np.int64).tolist())) + "]"
            k = min(k, len(allowed))
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        with self._session("search") as client:
            res = client.search(
                self.collection,
                data=[q],
                limit=min(k, MAX_TOPK),
                filter=where,
                anns_field="vector",
                search_params={"metric_type": "IP"},
                output_fields=["row"],
            )
        return [(int(hit["row"]), float(hit["distance"])) for hit in res[0]]

    def save(self, directory: Path) -> None:
        """Record the collection in `directory`; a private Lite database is packed beside it."""
        with self._lock:
            if self.uri == "milvus":
                if self._client is None:
                    self._client = self._connect()  # an empty store still needs its collection
                self._client.close()
                self._client = None  # reconnects (a Lite restart, ~0.1 s) on next use
                assert self._private is not None
                self._private.pack(directory / self.ARCHIVE)
            meta = {"uri": self.uri, "collection": self.collection, "dim": self.dim}
            tmp = directory / (self.FILENAME + ".tmp")
            tmp.write_text(json.dumps(meta, indent=2))
            os.replace(tmp, directory / self.FILENAME)
