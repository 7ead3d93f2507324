"""Loaders: every format, the usual field names, and a clear error for every kind of bad file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from rag.errors import LoadError
from rag.load import expand_paths, load_file, normalize_date
from tests.conftest import SEED, need_data


def test_seed_with_sidecar_metadata() -> None:
    [doc] = load_file(SEED)
    assert doc.title.startswith("Japan changes arms export rules")
    assert doc.published_at == "2023-12-22"
    assert "Mitsubishi Heavy Industries" in doc.text
    assert "embedpost" not in doc.text
    assert doc.id == load_file(SEED)[0].id  # content hash: stable


def test_markdown_title_from_heading(tmp_path: Path) -> None:
    p = tmp_path / "a.md"
    p.write_text("# Storm hits coast\n\nThe storm hit the coast on Monday.\n")
    [doc] = load_file(p)
    assert doc.title == "Storm hits coast"


def test_html_main_text_without_boilerplate(tmp_path: Path) -> None:
    body = " ".join(["The council voted 7 to 2 to approve the new bridge on Tuesday."] * 6)
    page = f"""<html><head><title>Council approves bridge</title>
    <meta property="article:published_time" content="2024-03-05"></head>
    <body><nav>Home | Sports | Weather | Subscribe now</nav>
    <article><h1>Council approves bridge</h1><p>{body}</p>
    <p>Construction starts in May and costs $12 million.</p></article>
    <footer>Copyright 2024 Example News. Cookie settings.</footer></body></html>"""
    p = tmp_path / "bridge.html"
    p.write_text(page)
    [doc] = load_file(p)
    assert "approve the new bridge" in doc.text
    assert "Cookie settings" not in doc.text and "Subscribe now" not in doc.text
    assert doc.title == "Council approves bridge"


def _tiny_pdf(text: str) -> bytes:
    """A minimal valid one-page PDF with `text` in Helvetica."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def test_pdf_text(tmp_path: Path) -> None:
    p = tmp_path / "report.pdf"
    p.write_bytes(_tiny_pdf("The harbour reopened on 3 June after repairs."))
    [doc] = load_file(p)
    assert "harbour reopened" in doc.text


def test_records_json_jsonl_gz_field_names(tmp_path: Path) -> None:
    recs = [
        {
            "headline": "A",
            "body": "Alpha text here.",
            "publish_date": "2022/06/12",
            "outlet": "CNN",
            "link": "http://x/a",
            "author": "Ann Lee and Bo Chen",
        },
        {
            "title": "B",
            "content": "Beta text here.",
            "published_at": "2023-12-19T10:00:00+00:00",
            "source": "The Week",
            "url": "http://x/b",
            "authors": ["Cy Dee"],
        },
    ]
    (tmp_path / "a.json").write_text(json.dumps({"articles": recs}))
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    with gzip.open(tmp_path / "c.jsonl.gz", "wt") as f:
        f.write("\n".join(json.dumps(r) for r in recs))
    for name in ("a.json", "b.jsonl", "c.jsonl.gz"):
        a, b = load_file(tmp_path / name)
        assert (a.title, a.source, a.published_at, a.url) == (
            "A",
            "CNN",
            "2022-06-12",
            "http://x/a",
        )
        assert a.authors == ("Ann Lee", "Bo Chen")
        assert (b.title, b.source, b.published_at, b.authors) == (
            "B",
            "The Week",
            "2023-12-19",
            ("Cy Dee",),
        )


def test_multihop_rag_corpus_format(tmp_path: Path) -> None:
    rec = {
        "title": "T",
        "author": "X",
        "source": "Mashable",
        "published_at": "2023-11-27T08:45:59+00:00",
        "category": "entertainment",
        "url": "https://m/x",
        "body": "Some body text.",
    }
    (tmp_path / "corpus.json").write_text(json.dumps([rec]))
    [doc] = load_file(tmp_path / "corpus.json")
    assert (doc.source, doc.published_at, doc.text) == ("Mashable", "2023-11-27", "Some body text.")


def test_realtimeqa_articles_load_as_they_are() -> None:
    path = need_data("realtimeqa_news/articles_gold.jsonl")
    docs = load_file(path)
    assert len(docs) == 209
    assert all(d.text and d.path.startswith(str(path) + "#rtqa_") for d in docs)
    assert sum(1 for d in docs if d.published_at) >= 208


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"  \n\n ", "empty"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        ("latin1.txt", "Café au lait à Paris".encode("latin-1"), "not UTF-8"),
        ("bad.jsonl", b'{"text": "ok"}\n{"text": broken\n', "line 2"),
        ("bad.json", b'{"title": "x", ', "malformed JSON"),
        ("notext.jsonl", b'{"title": "only a title"}\n', "no text"),
        ("bad.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
        ("bad.html", b"<html><body><div></div></body></html>", "no article text"),
        ("image.png", b"\x89PNG", "unsupported file type"),
        ("bad.jsonl.gz", b"not gzip at all", "compressed"),
    ],
)
def test_bad_input_names_file_and_problem(
    tmp_path: Path, name: str, content: bytes, problem: str
) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(LoadError) as err:
        load_file(p)
    assert err.value.path == str(p)
    assert problem.lower() in err.value.problem.lower()
    assert str(p) in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no such file"):
        load_file(tmp_path / "nope.txt")


def test_expand_paths_skips_sidecars_and_unknown(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("x")
    (tmp_path / "sub" / "a.txt.meta.json").write_text("{}")
    (tmp_path / "notes.xyz").write_text("x")
    (tmp_path / "README.md").write_text("# About this collection")
    assert expand_paths([tmp_path]) == [tmp_path / "sub" / "a.txt"]


def test_normalize_date() -> None:
    assert normalize_date("2022/06/12") == "2022-06-12"
    assert normalize_date("December 19, 2023") == "2023-12-19"
    assert normalize_date("not a date") is None
