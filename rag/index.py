"""The index on disk: documents, chunks, vectors and BM25, saved as one atomic generation.

Layout of an index directory (self-describing, like a sentence-transformers model folder):
    settings.json        how it was built (embedder, chunking) and the settings last used
    CURRENT              name of the live generation, replaced atomically on each commit
    gen-000007/          documents.jsonl, chunks.jsonl, vectors.faiss, bm25.pkl, manifest.json
A commit writes a whole new generation, then swaps CURRENT with os.replace: a crash or a bad
file mid-ingest leaves the previous generation intact, so nothing already indexed is lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from rag.errors import IndexStoreError
from rag.fuse import rrf
from rag.lexical import LexicalIndex
from rag.store import VectorStore, open_store
from rag.types import Chunk, Document, Filters, Hit

FORMAT_VERSION = 1


class Catalog:
    """Documents and chunks in memory with the lookups every index answers from them: a
    document's chunks, titles that passages link by, the newest date, the corpus hash. The local
    index holds them as the source of truth; the Milvus index as a mirror of its collections."""

    def __init__(self) -> None:
        self.documents: dict[str, Document] = {}
        self.chunks: dict[str, Chunk] = {}
        self.generation = 0
        self._hash: str | None = None  # corpus_hash, until the next change
        self._titles: dict[str, list[str]] | None = None
        self._by_doc: dict[str, list[Chunk]] | None = None

    def changed(self) -> None:
        """Forget every table derived from documents and chunks (after an add or delete)."""
        self._hash = None
        self._titles = None
        self._by_doc = None

    def refresh(self) -> None:
        """Catch up with writes by other processes (a shared store); the local index is its
        own source of truth and has nothing to catch up with."""

    # what each index implements over its own stores
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
        """The first stage of retrieval: the `n` best chunks by cosine and the `n` best by BM25,
        both among the chunks the filters allow, fused by weighted reciprocal rank."""
        raise NotImplementedError

    def add(self, doc: Document, chunks: list[Chunk], vectors: np.ndarray) -> None:
        raise NotImplementedError

    def delete(self, doc_ids: Iterable[str]) -> list[str]:
        """Remove documents (at the next commit); returns the ids that were present."""
        raise NotImplementedError

    def commit(self) -> object:
        """Make the adds and deletes since the last commit durable and visible, at once."""
        raise NotImplementedError

    def refresh_lexical(self) -> None:
        """Bring BM25 up to date with the adds and deletes (before a search)."""

    def _chunks_by_doc(self) -> dict[str, list[Chunk]]:
        """Document id -> its chunks in order; rebuilt after changes."""
        if self._by_doc is None:
            table: dict[str, list[Chunk]] = {}
            for c in self.chunks.values():
                table.setdefault(c.doc_id, []).append(c)
            for chunks in table.values():
                chunks.sort(key=lambda c: c.position)
            self._by_doc = table
        return self._by_doc

    def doc_chunks(self, doc_id: str) -> list[Chunk]:
        return list(self._chunks_by_doc().get(doc_id, ()))

    def titled(self) -> dict[str, list[str]]:
        """Normalised title (see `title_key`) -> ids of the documents with that title; rebuilt
        after changes. Titles longer than TITLE_WORDS words are left out: no passage names them;
        so are guessed titles (the opening words of a text, not a name anything links by)."""
        if self._titles is None:
            table: dict[str, list[str]] = {}
            for d in self.documents.values():
                key = title_key(d.stated_title)
                if key and len(key.split()) <= TITLE_WORDS:
                    table.setdefault(key, []).append(d.id)
            self._titles = table
        return self._titles

    def first_chunk(self, doc_id: str) -> Chunk | None:
        """A document's opening chunk (title links lift it; see rag.retrieve)."""
        chunks = self._chunks_by_doc().get(doc_id)
        return chunks[0] if chunks else None

    def newest_date(self) -> str | None:
        return max(
            (d.published_at for d in self.documents.values() if d.published_at), default=None
        )

    def doc_by_path(self) -> dict[str, str]:
        return {d.path: d.id for d in self.documents.values() if d.path}

    def corpus_hash(self) -> str:
        """A hash of the indexed document ids, kept until the next add or delete (the app's
        start-up poll asks for it every second)."""
        if self._hash is None:
            h = hashlib.sha256()
            for doc_id in sorted(self.documents):
                h.update(doc_id.encode())
            self._hash = h.hexdigest()[:16]
        return self._hash

    def problems(self) -> list[str]:
        """What disagrees between the documents and their chunks (empty when consistent)."""
        out: list[str] = []
        orphans = {c.doc_id for c in self.chunks.values()} - set(self.documents)
        if orphans:
            out.append(f"{len(orphans)} chunked document ids are not among the documents")
        bare = set(self.documents) - {c.doc_id for c in self.chunks.values()}
        if bare:
            out.append(f"{len(bare)} documents have no chunks")
        bad = [
            c.id
            for c in self.chunks.values()
            if c.doc_id in self.documents
            and self.documents[c.doc_id].text[c.start : c.end] != c.text
        ]
        if bad:
            out.append(f"{len(bad)} chunks' text differs from their document at their span")
        return out

    def chunk_counts(self) -> dict[str, int]:
        """Chunks per document id."""
        return {d: len(c) for d, c in self._chunks_by_doc().items()}


class Index(Catalog):
    """The local index: documents and chunks in memory, FAISS and BM25 over chunk rows, saved
    as atomic generations in a directory."""

    def __init__(self, directory: Path, dim: int, vector_store: str = "faiss") -> None:
        super().__init__()
        self.directory = Path(directory)
        self.dim = dim
        self.vector_store_uri = vector_store
        self.row_of: dict[str, int] = {}
        self.chunk_at: dict[int, str] = {}
        self.next_row = 0
        self.vectors: VectorStore = open_store(vector_store, dim, None)
        self.lexical = LexicalIndex()
        self._lexical_stale = False
        self._row_table: tuple[np.ndarray, np.ndarray, list[Document]] | None = None

    def changed(self) -> None:
        super().changed()
        self._lexical_stale = True
        self._row_table = None

    @classmethod
    def open(cls, directory: Path, dim: int, vector_store: str = "faiss") -> Index:
        """Load the live generation of `directory`, or an empty index if there is none yet."""
        index = cls(directory, dim, vector_store)
        current = directory / "CURRENT"
        if not current.exists():
            return index
        gen_name = current.read_text().strip()
        gen = directory / gen_name
        try:
            manifest = json.loads((gen / "manifest.json").read_text())
            if manifest.get("format") != FORMAT_VERSION:
                raise IndexStoreError(f"{gen}: index format {manifest.get('format')} not supported")
            for line in (gen / "documents.jsonl").read_text(encoding="utf-8").splitlines():
                d = json.loads(line)
                d["authors"] = tuple(d.get("authors") or ())
                d["guessed"] = tuple(d.get("guessed") or ())
                doc = Document(**d)
                index.documents[doc.id] = doc
            for line in (gen / "chunks.jsonl").read_text(encoding="utf-8").splitlines():
                c = json.loads(line)
                row = c.pop("row")
                c["sentences"] = tuple(tuple(s) for s in c["sentences"])
                chunk = Chunk(**c)
                index.chunks[chunk.id] = chunk
                index.row_of[chunk.id] = row
                index.chunk_at[row] = chunk.id
            index.next_row = manifest["next_row"]
            index.vectors = open_store(vector_store, dim, gen)
            index.lexical = LexicalIndex.load(gen)
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
            raise IndexStoreError(f"{gen}: damaged index generation ({e})") from e
        if index.vectors.dim != dim:
            raise IndexStoreError(
                f"{directory}: vectors have {index.vectors.dim} dimensions, embedder gives {dim}"
            )
        index.generation = int(gen_name.split("-")[-1])
        return index

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
        allowed = self.allowed_rows(filters)
        if allowed is not None and len(allowed) == 0:
            return []
        dense = self.vectors.search(qvec, n, allowed)
        self.refresh_lexical()
        lexical = self.lexical.search(text, n, allowed)
        hits = []
        for row, score, d, lx in rrf(dense, lexical, rrf_k, dense_weight, lexical_weight):
            cid = self.chunk_at.get(row)
            if cid is not None:
                hits.append(Hit(self.chunks[cid], score, d, lx))
        return hits

    def allowed_rows(self, filters: Filters) -> np.ndarray | None:
        """Rows passing the filters, or None when nothing is filtered."""
        if filters.is_empty():
            return None
        if self._row_table is None:  # rows and their documents as arrays, rebuilt after changes
            docs = list(self.documents.values())
            pos = {d.id: i for i, d in enumerate(docs)}
            items = sorted(self.row_of.items(), key=lambda kv: kv[1])
            rows = np.asarray([r for _, r in items], dtype=np.int64)
            doc_idx = np.asarray([pos[self.chunks[c].doc_id] for c, _ in items], dtype=np.int64)
            self._row_table = (rows, doc_idx, docs)
        rows, doc_idx, docs = self._row_table
        ok = np.fromiter((matches(d, filters) for d in docs), dtype=bool, count=len(docs))
        return rows[ok[doc_idx]] if len(rows) else rows

    def problems(self) -> list[str]:
        """What disagrees between documents, chunks, vectors and BM25 (empty when consistent):
        `newsrag doctor` reports these; a healthy commit never leaves any."""
        out = super().problems()
        if set(self.row_of) != set(self.chunks) or len(self.chunk_at) != len(self.row_of):
            out.append("the chunk/row tables disagree")
        if any(self.chunk_at.get(r) != c for c, r in self.row_of.items()):
            out.append("a row maps to another chunk than the one that maps to it")
        if len(self.vectors) != len(self.chunks):
            out.append(f"{len(self.vectors)} vectors for {len(self.chunks)} chunks")
        rows = getattr(self.vectors, "rows", None)
        if rows is not None and set(rows()) != set(self.chunk_at):
            out.append("the vector ids are not the chunk rows")
        # BM25 as loaded or last built (a pending change rebuilds it at commit)
        if not self._lexical_stale and {int(r) for r in self.lexical.rows} != set(self.chunk_at):
            out.append(f"BM25 holds {len(self.lexical)} rows for {len(self.chunks)} chunks")
        if any(r >= self.next_row for r in self.chunk_at):
            out.append("a row number is at or past next_row (a later add would reuse it)")
        return out

    # ---- writing -------------------------------------------------------------------------
    def add(self, doc: Document, chunks: list[Chunk], vectors: np.ndarray) -> None:
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        rows = np.arange(self.next_row, self.next_row + len(chunks), dtype=np.int64)
        self.next_row += len(chunks)
        self.documents[doc.id] = doc
        for chunk, row in zip(chunks, rows, strict=True):
            self.chunks[chunk.id] = chunk
            self.row_of[chunk.id] = int(row)
            self.chunk_at[int(row)] = chunk.id
        self.vectors.add(rows, vectors)
        self.changed()

    def delete(self, doc_ids: Iterable[str]) -> list[str]:
        """Remove documents from every store; returns the ids that were present."""
        gone = [d for d in doc_ids if d in self.documents]
        if not gone:
            return []
        drop = {c.id for c in self.chunks.values() if c.doc_id in set(gone)}
        rows = np.asarray([self.row_of[c] for c in drop], dtype=np.int64)
        self.vectors.remove(rows)
        for cid in drop:
            row = self.row_of.pop(cid)
            self.chunk_at.pop(row, None)
            self.chunks.pop(cid)
        for d in gone:
            self.documents.pop(d)
        self.changed()
        return gone

    def refresh_lexical(self) -> None:
        if not self._lexical_stale:
            return
        items = sorted(self.row_of.items(), key=lambda kv: kv[1])
        texts = []
        for cid, _ in items:
            chunk = self.chunks[cid]
            title = self.documents[chunk.doc_id].title
            texts.append(f"{title}\n{chunk.text}" if title else chunk.text)
        self.lexical.build([r for _, r in items], texts)
        self._lexical_stale = False

    def commit(self) -> Path:
        """Write a new generation and make it live atomically; keep only the previous one."""
        self.refresh_lexical()
        self.directory.mkdir(parents=True, exist_ok=True)
        gen_no = self.generation + 1
        name = f"gen-{gen_no:06d}"
        gen = self.directory / name
        tmp = self.directory / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            self._write_generation(tmp)
            shutil.rmtree(gen, ignore_errors=True)  # left by an earlier failed commit, never live
            os.replace(tmp, gen)
            cur_tmp = self.directory / "CURRENT.tmp"
            cur_tmp.write_text(name + "\n")
            os.replace(cur_tmp, self.directory / "CURRENT")
        except OSError as e:  # full disk, read-only folder, file size limit
            shutil.rmtree(tmp, ignore_errors=True)
            raise IndexStoreError(
                f"{self.directory}: could not write {name} ({e.strerror or e}); the index "
                f"stays as committed before (generation {self.generation}); free space or "
                "fix the folder's permissions and run again"
            ) from e
        old = self.generation
        self.generation = gen_no
        for p in self.directory.glob("gen-*"):
            if p.name != name and p.name != f"gen-{old:06d}":
                shutil.rmtree(p, ignore_errors=True)
        return gen

    def _write_generation(self, tmp: Path) -> None:
        tmp.mkdir(parents=True)
        with (tmp / "documents.jsonl").open("w", encoding="utf-8") as f:
            for doc in self.documents.values():
                d = asdict(doc)
                d["authors"] = list(doc.authors)
                d["guessed"] = list(doc.guessed)
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as f:
            for cid, chunk in self.chunks.items():
                c = asdict(chunk)
                c["sentences"] = [list(s) for s in chunk.sentences]
                c["row"] = self.row_of[cid]
                f.write(json.dumps(c, ensure_ascii=False) + "\n")
        self.vectors.save(tmp)
        self.lexical.save(tmp)
        manifest = {
            "format": FORMAT_VERSION,
            "documents": len(self.documents),
            "chunks": len(self.chunks),
            "next_row": self.next_row,
            "dim": self.dim,
            "corpus_hash": self.corpus_hash(),
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
        _fsync_dir(tmp)


TITLE_WORDS = 6
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'&.\-]*[A-Za-z0-9]|[A-Za-z0-9]")


def title_key(title: str) -> str:
    """A title as its words in lower case, without a trailing "(disambiguation)"."""
    title = re.sub(r"\s*\([^)]*\)\s*$", "", title or "")
    return " ".join(w.lower() for w in _WORD.findall(title))


def named_titles(text: str, titles: dict[str, list[str]]) -> set[str]:
    """The title keys (of `titles`) that `text` names: a run of up to TITLE_WORDS words that
    starts with a capital letter and equals a title."""
    words = list(_WORD.finditer(text))
    low = [m.group(0).lower() for m in words]
    out: set[str] = set()
    for i, m in enumerate(words):
        if not m.group(0)[0].isupper():
            continue
        for n in range(1, min(TITLE_WORDS, len(words) - i) + 1):
            key = " ".join(low[i : i + n])
            if key in titles:
                out.add(key)
    return out


def matches(doc: Document, filters: Filters) -> bool:
    if filters.doc_ids and doc.id not in filters.doc_ids:
        return False
    if filters.sources and not any(s.lower() == doc.source.lower() for s in filters.sources):
        return False
    if filters.titles and not any(t.lower() in doc.title.lower() for t in filters.titles):
        return False
    if filters.date_from or filters.date_to:
        if not doc.published_at:
            return False
        if filters.date_from and doc.published_at < filters.date_from:
            return False
        if filters.date_to and doc.published_at > filters.date_to:
            return False
    return True


def _fsync_dir(directory: Path) -> None:
    for p in directory.iterdir():
        with p.open("rb") as f:
            os.fsync(f.fileno())
