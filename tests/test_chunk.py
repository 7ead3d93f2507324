"""Sentences and chunks carry exact spans and fit the embedder's window."""

from __future__ import annotations

from rag.chunk import chunk_document, split_sentences
from rag.embed import Embedder
from rag.load import load_file, make_document
from tests.conftest import SEED


def test_sentence_spans_are_exact_and_respect_abbreviations() -> None:
    text = (
        "Mr. Smith met U.S. officials on Jan. 5. They agreed. "
        "J. Doe said “it works.” Next line\n- A bullet point here."
    )
    spans = split_sentences(text)
    sents = [text[s:e] for s, e in spans]
    assert sents == [
        "Mr. Smith met U.S. officials on Jan. 5.",
        "They agreed.",
        "J. Doe said “it works.”",
        "Next line",
        "A bullet point here.",
    ]


def test_chunks_cover_document_with_exact_spans(embedder: Embedder) -> None:
    [doc] = load_file(SEED)
    chunks = chunk_document(doc, embedder.count_tokens, chunk_tokens=120, overlap_sentences=1)
    assert len(chunks) >= 3
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert c.sentences[0][0] == c.start and c.sentences[-1][1] == c.end
        assert embedder.count_tokens([c.text])[0] <= 120 + 5
    # every sentence lands in some chunk, and consecutive chunks overlap by one sentence
    all_sents = set(split_sentences(doc.text))
    assert all_sents == {s for c in chunks for s in c.sentences}
    assert chunks[0].sentences[-1] == chunks[1].sentences[0]


def test_default_chunks_plus_title_fit_the_256_window(embedder: Embedder) -> None:
    [doc] = load_file(SEED)
    for c in chunk_document(doc, embedder.count_tokens, chunk_tokens=200):
        assert embedder.count_tokens([f"{doc.title}\n{c.text}"])[0] <= embedder.max_tokens - 2


def test_overlong_sentence_is_cut_at_words() -> None:
    text = " ".join(f"word{i}" for i in range(400)) + "."
    doc = make_document(text, path="long.txt")
    chunks = chunk_document(doc, chunk_tokens=100)
    assert len(chunks) > 3
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert not c.text.startswith(" ") and not c.text.endswith(" ")
