"""Titles and dates a file does not state, read from its text: real articles and hand-written
openings (headline, bullets, dateline, byline, newsletter boilerplate)."""

from __future__ import annotations

import gzip
import json
import os
import random
from datetime import datetime
from pathlib import Path

import pytest

from rag.guess import find_date, guess_title
from rag.load import load_file
from tests.conftest import SEED, need_data

BOILERPLATE = ("sign up", "newsletter", "cnn —", "associated press", "|")


def _pool_sample(n: int, seed: int = 11) -> list[dict]:
    path = need_data("realtimeqa_news/articles_pool.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return random.Random(seed).sample(rows, n)


def test_seed_article_without_sidecar_gets_its_opening_bullet_and_file_day(
    tmp_path: Path,
) -> None:
    original = need_data("seed/000_dba7927240a092be.txt")
    copy = tmp_path / original.name
    copy.write_bytes(original.read_bytes())
    os.utime(copy, (datetime(2023, 12, 22, 9).timestamp(),) * 2)
    (doc,) = load_file(copy)
    assert doc.title == "Japan allowed the shipment of Patriot air defense missiles to the US"
    assert doc.published_at == "2023-12-22"  # no date in the text: the file's day
    assert doc.guessed == ("title", "published_at")
    assert doc.meta()["guessed"] == ["title", "published_at"]


def test_stated_metadata_is_not_guessed() -> None:
    (doc,) = load_file(SEED)  # the bundled copy has a sidecar
    assert doc.title.startswith("Japan changes arms export rules") and doc.guessed == ()


def test_real_news_bodies_as_text_files(tmp_path: Path) -> None:
    """40 crawled article bodies (RealTimeQA pool) saved as bare .txt files: each gets a title
    from its own opening words, never boilerplate or the file name, and the file's day."""
    for i, row in enumerate(_pool_sample(40)):
        path = tmp_path / f"{i:03d}_{row['doc_id']}.txt"
        path.write_text(row["text"], encoding="utf-8")
        day = datetime.strptime(row["publish_date"] or "2022/01/01", "%Y/%m/%d")
        os.utime(path, (day.timestamp() + 3600,) * 2)
        (doc,) = load_file(path)
        assert doc.title and doc.title != path.stem.replace("_", " "), row["doc_id"]
        assert len(doc.title) <= 121, doc.title
        assert not any(b in doc.title.lower() for b in BOILERPLATE), doc.title
        assert doc.title.rstrip("…") in " ".join(doc.text.split()), doc.title
        assert "title" in doc.guessed and "published_at" in doc.guessed
        opening = find_date(doc.text[:600])
        assert doc.published_at == (opening or day.date().isoformat())


def test_real_article_as_html_page_without_a_title_tag(tmp_path: Path) -> None:
    row = _pool_sample(1, seed=3)[0]
    paras = "".join(f"<p>{p}</p>" for p in row["text"].split("\n\n") if p.strip())
    bare = tmp_path / "bare.html"
    bare.write_text(f"<html><body><article>{paras}</article></body></html>", encoding="utf-8")
    (doc,) = load_file(bare)
    assert doc.title and doc.title != "bare" and "title" in doc.guessed
    titled = tmp_path / "titled.html"
    titled.write_text(
        f"<html><head><title>{row['title']}</title></head><body><article>{paras}</article>"
        "</body></html>",
        encoding="utf-8",
    )
    (doc,) = load_file(titled)
    assert "title" not in doc.guessed and doc.title


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Storm floods coastal towns in Brittany\n\nHeavy rain fell on Monday.", None),
        (
            "Sign up for our science newsletter. Explore the universe.\nCNN —\n"
            "A NASA spacecraft that will crash into an asteroid is getting closer to its target.",
            "A NASA spacecraft that will crash into an asteroid is getting closer to its target",
        ),
        (
            "By Jane Doe\nUpdated 3:04 PM EST, Mon March 6, 2023\n"
            "WASHINGTON — The Senate passed the bill late on Friday after a long debate.",
            "The Senate passed the bill late on Friday after a long debate",
        ),
        (
            "New York (CNN Business) Gov. Kathy Hochul signed the law on Tuesday. It starts soon.",
            "Gov. Kathy Hochul signed the law on Tuesday",
        ),
        (
            "- Japan allowed the shipment of missiles.\n- Only to the US.\nJapan changed rules.",
            "Japan allowed the shipment of missiles",
        ),
    ],
)
def test_openings_written_by_hand(text: str, title: str | None) -> None:
    assert guess_title(text) == (title or text.splitlines()[0])


def test_long_first_sentence_is_cut_at_a_word() -> None:
    text = (
        "Scientists had long hoped and theorized that the most common type of star in our "
        "universe might host planets with water, and a new study now suggests otherwise."
    )
    title = guess_title(text)
    assert title.endswith("…") and len(title) <= 91 and text.startswith(title.rstrip("…"))


def test_dates_in_the_text() -> None:
    assert find_date("Updated 3:04 PM EST, Mon March 6, 2023") == "2023-03-06"
    assert find_date("Published 5 June 2021 in print") == "2021-06-05"
    assert find_date("posted 2022-10-03T10:00Z") == "2022-10-03"
    assert find_date("in 2022 the rate rose") is None
