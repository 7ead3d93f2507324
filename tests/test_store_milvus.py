"""The whole index in Milvus (Lite here, and Milvus Lite's own gRPC server for the two-server
test): same answers as the local FAISS index, filters inside Milvus, batches that become
visible at once or not at all, a second pipeline that sees what the first wrote, migration
without re-embedding, and errors that name the store."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.embed import Embedder
from rag.errors import ConfigError, IndexStoreError
from rag.llm.extractive import ExtractiveLLM
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.conftest import CORPUS

pytest.importorskip("pymilvus", reason="pymilvus is not installed (pip install 'newsrag[milvus]')")
pytest.importorskip(
    "milvus_lite", reason="milvus-lite cannot be imported (pip install 'newsrag[milvus]')"
)
from rag.store.milvus import MilvusIndex, filter_expr
from rag.types import Filters

# Written by hand for these tests: three outlets, three dates, one shared topic (a harbour)
# so that filters decide which article answers.
ARTICLES = [
    {
        "title": "Harbour authority approves new ferry terminal in Tarnow Bay",
        "source": "Coast Herald",
        "published_at": "2022-03-04",
        "body": "The Tarnow Bay harbour authority approved a new ferry terminal on Thursday. "
        "The terminal will cost 48 million euros and open in 2025. Its designer, Ilse Maren, "
        "said the roof collects rain water for the toilets.\n\nFerry operators welcomed the "
        "decision, which ends six years of debate over the site.",
    },
    {
        "title": "Tarnow Bay ferry terminal delayed by flooding",
        "source": "Valley Post",
        "published_at": "2022-09-15",
        "body": "Flooding in August delayed work on the Tarnow Bay ferry terminal by four months, "
        "the harbour authority said. The terminal is now expected to open in 2026. Costs "
        "rose to 55 million euros because the foundations had to be rebuilt.",
    },
    {
        "title": "Orchestra of Selm plays its first concert abroad",
        "source": "Coast Herald",
        "published_at": "2022-11-02",
        "body": "The Selm Chamber Orchestra played its first concert abroad in Vienna on "
        "Saturday. The conductor, Piet Andersson, chose a programme of Nordic composers. "
        "Tickets sold out within a day.",
    },
    {
        "title": "Lighthouse keeper retires after forty years",
        "source": "Island Times",
        "published_at": "2021-06-30",
        "body": "Mara Lindqvist retired on Friday after forty years as keeper of the Osterholm "
        "lighthouse. The lighthouse has been automated since 2019, but she stayed to guide "
        "visitors. A ferry brings tourists to the island twice a day in summer.",
    },
]
QUESTIONS = [
    "How much will the Tarnow Bay ferry terminal cost?",
    "When will the ferry terminal open?",
    "Who designed the ferry terminal roof?",
    "Who conducted the Selm Chamber Orchestra in Vienna?",
    "How long was Mara Lindqvist a lighthouse keeper?",
    "What is the best recipe for banana bread?",
]
FILTERS = [
    {"sources": ["Valley Post"]},
    {"sources": ["coast herald"]},
    {"date_from": "2022-06-01"},
    {"date_to": "2022-06-01"},
    {"date_from": "2022-01-01", "date_to": "2022-10-01"},
    {"titles": ["ferry terminal"]},
]


@pytest.fixture(scope="module")
def articles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("articles")
    with (folder / "harbour.jsonl").open("w", encoding="utf-8") as f:
        for a in ARTICLES:
            f.write(json.dumps(a) + "\n")
    return folder


def _pipe(embedder: Embedder, **settings: object) -> Pipeline:
    return Pipeline(
        Settings(llm_backend="extractive", **settings), llm=ExtractiveLLM(), embedder=embedder
    )


@pytest.fixture()
def lite(tmp_path: Path) -> str:
    return f"milvus:{tmp_path / 'lite.db'}"


@pytest.fixture(scope="module")
def local_pipe(
    articles: Path, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Pipeline:
    p = _pipe(embedder, index_dir=tmp_path_factory.mktemp("local") / "index")
    p.ingest([CORPUS, articles])
    return p


def test_answers_and_rankings_equal_the_local_index(
    local_pipe: Pipeline, articles: Path, embedder: Embedder, lite: str
) -> None:
    shared = _pipe(embedder, vector_store=lite)
    report = shared.ingest([CORPUS, articles])
    assert len(report.added) == 5 and not report.errors
    assert isinstance(shared.index, MilvusIndex)
    assert shared.index.problems() == []
    for q in QUESTIONS:
        want, got = local_pipe.ask(q), shared.ask(q)
        assert [h.chunk.id for h in got.retrieved] == [h.chunk.id for h in want.retrieved], q
        assert (got.text, got.refused) == (want.text, want.refused), q
        assert [(c.doc_id, c.start, c.end) for c in got.citations] == [
            (c.doc_id, c.start, c.end) for c in want.citations
        ]
        # the dense score is the cosine, as FAISS gives it
        for a, b in zip(got.retrieved, want.retrieved, strict=True):
            if b.dense is not None:
                assert a.dense == pytest.approx(b.dense, abs=1e-4)
    assert not shared.ask(QUESTIONS[0]).refused
    assert shared.ask(QUESTIONS[-1]).refused
    # filters run inside Milvus as expressions and pick the same passages
    for f in FILTERS:
        for q in QUESTIONS[:3]:
            got = [h.chunk.id for h in shared.retrieve(q, f)]
            assert got == [h.chunk.id for h in local_pipe.retrieve(q, f)], (q, f)
            docs = {shared.index.documents[h.chunk.doc_id] for h in shared.retrieve(q, f)}
            if "sources" in f:
                assert {d.source.lower() for d in docs} <= {s.lower() for s in f["sources"]}
            if "date_from" in f:
                assert all(d.published_at and d.published_at >= f["date_from"] for d in docs)


def test_filter_expressions_quote_what_users_type() -> None:
    f = Filters(doc_ids=("d1",), sources=('Bob\'s "Daily"',), date_from="2022-01-01")
    expr = filter_expr(f)
    assert expr.startswith('visible == true and doc_id in ["d1"]')
    assert 'source_key in ["bob\'s \\"daily\\""]' in expr
    assert 'published_at != "" and published_at >= "2022-01-01"' in expr


def test_a_second_pipeline_sees_writes_at_its_next_question(
    articles: Path, embedder: Embedder, lite: str
) -> None:
    a = _pipe(embedder, vector_store=lite)
    b = _pipe(embedder, vector_store=lite)
    assert b.documents() == []
    a.ingest([articles])
    q = "Who conducted the Selm Chamber Orchestra in Vienna?"
    answer = b.ask(q)  # b never ingested: it reads what a committed
    [orchestra] = [d for d in b.documents() if "Orchestra" in d["title"]]
    assert not answer.refused and answer.citations[0].doc_id == orchestra["id"]
    assert orchestra["chunks"] == 1 and orchestra["source"] == "Coast Herald"
    assert a.delete([orchestra["id"]]) == [orchestra["id"]]
    after = b.ask(q)
    assert all(h.chunk.doc_id != orchestra["id"] for h in after.retrieved)
    assert all(c.doc_id != orchestra["id"] for c in after.citations)
    # idempotent: the same files again change nothing, a missing id deletes nothing
    again = b.ingest([articles])
    assert again.added == [orchestra["id"]] and len(again.unchanged) == 3
    assert a.delete(["d-not-there"]) == []
    assert sorted(d["id"] for d in a.documents()) == sorted(d["id"] for d in b.documents())


def test_a_failed_batch_leaves_the_collection_as_it_was(
    articles: Path, embedder: Embedder, lite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymilvus.exceptions import MilvusException

    a = _pipe(embedder, vector_store=lite)
    a.ingest([CORPUS])
    before = a.documents()
    index = a.index
    assert isinstance(index, MilvusIndex)
    real_flip = MilvusIndex._flip

    def failing(
        self: MilvusIndex, client: object, collection: str, ids: list, whole: bool = False
    ) -> None:
        if whole:  # the commit point: the documents' flags
            raise MilvusException(message="planted failure at the commit point")
        real_flip(self, client, collection, ids, whole)

    monkeypatch.setattr(MilvusIndex, "_flip", failing)
    with pytest.raises(IndexStoreError, match=r"not committed.*stays as it was"):
        a.ingest([articles])
    monkeypatch.setattr(MilvusIndex, "_flip", real_flip)
    fresh = _pipe(embedder, vector_store=lite)
    assert fresh.documents() == before
    assert fresh.index.problems() == []  # the batch's hidden rows were removed
    assert all(h.chunk.doc_id == before[0]["id"] for h in fresh.retrieve(QUESTIONS[0]))
    # and the same batch goes through afterwards
    assert len(a.ingest([articles]).added) == 4
    assert len(_pipe(embedder, vector_store=lite).documents()) == 5


def test_rows_of_a_killed_batch_are_never_searched_and_are_overwritten(
    articles: Path, embedder: Embedder, lite: str
) -> None:
    a = _pipe(embedder, vector_store=lite)
    a.ingest([CORPUS])
    index = a.index
    assert isinstance(index, MilvusIndex)
    # what a kill after the hidden write leaves: rows with visible = false, never flipped
    from rag.chunk import chunk_document
    from rag.load import load_file

    docs = load_file(articles / "harbour.jsonl")
    pending = []
    for d in docs:
        chunks = chunk_document(d, embedder.count_tokens, 200, 1)
        pending.append((d, chunks, embedder.embed([c.text for c in chunks])))
    with index._session("test") as client:
        index._write_hidden(client, pending, "killedbatch")
    b = _pipe(embedder, vector_store=lite)
    assert len(b.documents()) == 1
    assert all(
        h.chunk.doc_id == docs[0].id or h.chunk.doc_id not in {d.id for d in docs}
        for h in b.retrieve(QUESTIONS[0])
    )
    assert any("hidden chunk rows" in p for p in b.index.problems())
    assert len(b.ingest([articles]).added) == 4  # the re-run overwrites and shows them
    assert b.index.problems() == []


def test_settings_are_kept_in_milvus_and_another_embedder_is_refused(
    embedder: Embedder, lite: str
) -> None:
    a = _pipe(embedder, vector_store=lite, collection="news_a")
    a.ingest([CORPUS])
    assert a.index.stored_settings()["embed_model"] == "packaged:all-MiniLM-L6-v2"
    with pytest.raises(ConfigError, match=r"built by the embedder .*@int8.*ask for .*@fp32"):
        Pipeline(Settings(vector_store=lite, collection="news_a", embed_precision="fp32"))
    # another collection in the same database is another index
    other = _pipe(embedder, vector_store=lite, collection="news_b")
    assert other.documents() == [] and len(a.documents()) == 1


def test_migrate_copies_vectors_without_embedding(
    local_pipe: Pipeline, embedder: Embedder, lite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.migrate import migrate

    embedded: list[str] = []
    embed = Embedder.embed

    def recording(self: Embedder, texts: list[str]) -> np.ndarray:
        embedded.extend(texts)
        return embed(self, texts)

    monkeypatch.setattr(Embedder, "embed", recording)
    report = migrate(Path(local_pipe.settings.index_dir), Settings(vector_store=lite), sample=8)
    monkeypatch.undo()
    # only the check's questions were embedded (one line each), never a chunk (title + text)
    assert embedded and all("\n" not in t for t in embedded)
    assert report["ok"], report
    assert report["documents"] == len(local_pipe.index.documents) == 5
    assert report["chunks"] == len(local_pipe.index.chunks)
    assert report["max_vector_difference"] == 0.0
    assert report["answers_equal"] == report["sample_questions"] == 8
    again = migrate(Path(local_pipe.settings.index_dir), Settings(vector_store=lite), sample=1)
    assert again["copied_documents"] == 0 and again["ok"]


def test_cli_store_and_collection_on_every_command(
    articles: Path, lite: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.cli import main

    store = ["--store", lite, "--collection", "cli", "--llm-backend", "extractive"]
    assert main(["ingest", "--quiet", str(articles), *store]) == 0
    assert "added 4" in capsys.readouterr().out
    assert main(["documents", "--json", *store]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {d["title"] for d in listed} == {a["title"] for a in ARTICLES}
    assert all({"id", "title", "source", "published_at", "chunks"} <= set(d) for d in listed)
    assert main(["ask", "--json", *store, "Who retired from the Osterholm lighthouse?"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert "Mara Lindqvist" in answer["answer"] and not answer["refused"]
    assert main(["doctor", *store]) == 0
    assert "4 documents" in capsys.readouterr().out
    lighthouse = next(d["id"] for d in listed if "Lighthouse" in d["title"])
    assert main(["summarize", "--json", "--doc", lighthouse, *store]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["sentences"] and all(
        c["doc_id"] == lighthouse for s in summary["sentences"] for c in s["citations"]
    )
    assert main(["delete", listed[0]["id"], *store]) == 0
    assert main(["documents", *store]) == 0
    assert "3 documents" in capsys.readouterr().out
    assert main(["documents", "--store", "milvus:nowhere", "--llm-backend", "extractive"]) == 2
    assert "milvus:PATH.db or milvus://host:port" in capsys.readouterr().err


def test_eval_runs_against_a_milvus_index(
    lite: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.cli import main
    from rag.settings import PROJECT_ROOT

    store = ["--store", lite, "--llm-backend", "extractive"]
    assert main(["ingest", "--quiet", str(CORPUS), *store]) == 0
    suite = PROJECT_ROOT / "eval" / "suites" / "seed.jsonl"
    out = tmp_path / "run"
    assert (
        main(["eval", "run", str(suite), "--limit", "2", "--out", str(out), "--quiet", *store]) == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["index"] == f"{lite} (collection newsrag)"
    assert summary["counts"]["cases"] == 2


def test_errors_name_the_store_and_the_problem(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="milvus://host:port"):
        MilvusIndex("milvus://", "newsrag", 8)
    with pytest.raises(ConfigError, match="letters, digits and _"):
        MilvusIndex("milvus://db:19530", "news-room", 8)
    with pytest.raises(ValueError, match=r"milvus:PATH\.db or milvus://host:port"):
        Settings(vector_store="qdrant")
    with pytest.raises(IndexStoreError, match=r"milvus://127\.0\.0\.1:1.*cannot open"):
        _pipe(embedder, vector_store="milvus://127.0.0.1:1")  # nothing listens on port 1
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "milvus_lite" else find_spec(name, *a),
    )
    with pytest.raises(ConfigError, match="Milvus Lite is not installed"):
        MilvusIndex("milvus:x.db", "newsrag", 8)
    monkeypatch.setitem(sys.modules, "rag.store.milvus", None)  # as if pymilvus were absent
    with pytest.raises(ConfigError, match="needs pymilvus"):
        _pipe(embedder, vector_store="milvus://db:19530")


def test_settings_record_an_absolute_lite_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings(vector_store="milvus:v.db").vector_store == f"milvus:{tmp_path / 'v.db'}"
    assert Settings(vector_store="milvus://db:19530").vector_store == "milvus://db:19530"
    assert not Settings().shared_store and Settings(vector_store="milvus:v.db").shared_store


def test_long_documents_are_stored_in_pieces(embedder: Embedder, lite: str, tmp_path: Path) -> None:
    paragraph = "The Tarnow Bay council met again on Monday. " * 40 + "\n\n"
    text = "A very long council report\n\n" + paragraph * 30 + "The mayor is Ada Rook."
    assert len(text) > 40_000
    (tmp_path / "long.txt").write_text(text, encoding="utf-8")
    a = _pipe(embedder, vector_store=lite)
    a.ingest([tmp_path / "long.txt"])
    b = _pipe(embedder, vector_store=lite)
    [doc] = b.index.documents.values()
    assert doc.text == a.index.documents[doc.id].text and len(doc.text) > 40_000
    assert all(doc.text[c.start : c.end] == c.text for c in b.index.chunks.values())
    vectors = b.index.vectors_of(sorted(b.index.chunks))  # type: ignore[attr-defined]
    assert all(np.isclose(np.linalg.norm(v), 1.0, atol=1e-4) for v in vectors.values())


def test_a_lite_database_held_by_another_process_is_one_clear_error(
    embedder: Embedder, lite: str
) -> None:
    import subprocess

    holder = _pipe(embedder, vector_store=lite)
    holder.documents()  # this process now holds the Lite folder
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "rag.cli",
            "documents",
            "--store",
            lite,
            "--llm-backend",
            "extractive",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert r.stderr.startswith("error: store milvus:") and "another process holds" in r.stderr
    assert "milvus-lite server --data-dir" in r.stderr and "Traceback" not in r.stderr
