"""Document → sentences with exact spans → Chunks of whole sentences.

Written here rather than taken from llama-index's SentenceSplitter because grounding needs exact
character spans of every *sentence* in the document (quotes are sentences, highlighted in place),
and SentenceSplitter returns re-joined text whose offsets must be searched for and can drift.
Chunks are packed from whole sentences up to `chunk_tokens` word pieces of the embedder's own
tokenizer, so a chunk (plus its title) fits the 256-token window; a sentence that alone is too
long is cut at word boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.types import Chunk, Document, Span

TokenCounter = Callable[[Sequence[str]], list[int]]

_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "mt",
    "gen",
    "lt",
    "col",
    "sgt",
    "capt",
    "sen",
    "rep",
    "gov",
    "pres",
    "rev",
    "hon",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "inc",
    "corp",
    "co",
    "ltd",
    "vs",
    "etc",
    "no",
    "fig",
    "approx",
    "dept",
    "est",
    "u.s",
    "u.k",
    "u.n",
    "e.g",
    "i.e",
    "a.m",
    "p.m",
    "d.c",
    "ft",
    "mph",
}
# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space and a likely start.
_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
BULLET = re.compile(r"^\s*(?:[-*•–]|\d+[.)])\s+")  # also read by rag.guess


def _paragraph_lines(text: str) -> list[Span]:
    """Spans of non-empty lines: a line break always ends a sentence in news text."""
    spans = []
    pos = 0
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        m = BULLET.match(line)
        if m:
            start += m.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the '.' at `dot` closes an abbreviation or an initial, not a sentence."""
    if text[dot] != ".":
        return False
    m = re.search(r"([A-Za-z.]+)$", text[:dot])
    if not m:
        return False
    word = m.group(1).lower().strip(".")
    if word in _ABBREVIATIONS:
        return True
    return len(word) == 1 and text[dot - 1].isupper()  # an initial: "J. Smith"


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of `text`; every span is text[start:end] with no outer white space."""
    spans: list[Span] = []
    for lstart, lend in _paragraph_lines(text):
        line = text[lstart:lend]
        begin = 0
        for m in _END.finditer(line):
            end = m.end()
            first_dot = m.start()
            if _is_abbreviation(line, first_dot) and m.group(0) == ".":
                continue
            seg = line[begin:end].strip()
            if seg:
                off = line.index(seg, begin)
                spans.append((lstart + off, lstart + off + len(seg)))
            begin = end
        seg = line[begin:].strip()
        if seg:
            off = line.index(seg, begin)
            spans.append((lstart + off, lstart + off + len(seg)))
    return spans


def _cut_long(text: str, span: Span, tokens: int, limit: int) -> list[Span]:
    """Cut a too-long sentence into word-boundary pieces of about `limit` tokens."""
    start, end = span
    pieces = max(2, -(-tokens // limit))
    words = [m.span() for m in re.finditer(r"\S+", text[start:end])]
    per = max(1, -(-len(words) // pieces))
    out = []
    for i in range(0, len(words), per):
        group = words[i : i + per]
        out.append((start + group[0][0], start + group[-1][1]))
    return out


def whitespace_tokens(texts: Sequence[str]) -> list[int]:
    """A rough counter (1.35 word pieces a word) for tests and when no tokenizer is at hand."""
    return [int(len(t.split()) * 1.35) + 1 for t in texts]


def chunk_document(
    doc: Document,
    count_tokens: TokenCounter = whitespace_tokens,
    chunk_tokens: int = 200,
    overlap_sentences: int = 1,
) -> list[Chunk]:
    """Pack the document's sentences into chunks of at most `chunk_tokens` tokens."""
    sents = split_sentences(doc.text)
    if not sents:
        return []
    counts = count_tokens([doc.text[s:e] for s, e in sents])
    units: list[tuple[Span, int]] = []
    for span, n in zip(sents, counts, strict=True):
        if n > chunk_tokens:
            pieces = _cut_long(doc.text, span, n, chunk_tokens)
            per = -(-n // len(pieces))
            units.extend((p, per) for p in pieces)
        else:
            units.append((span, n))

    groups: list[list[int]] = []
    i = 0
    while i < len(units):
        group = [i]
        total = units[i][1]
        j = i + 1
        while j < len(units) and total + units[j][1] <= chunk_tokens:
            group.append(j)
            total += units[j][1]
            j += 1
        groups.append(group)
        if j >= len(units):
            break
        # step back for overlap, but always move forward by at least one unit
        i = max(group[0] + 1, j - overlap_sentences)

    chunks = []
    for pos, group in enumerate(groups):
        spans = tuple(units[k][0] for k in group)
        start, end = spans[0][0], spans[-1][1]
        chunks.append(
            Chunk(
                id=f"{doc.id}:{pos}",
                doc_id=doc.id,
                text=doc.text[start:end],
                start=start,
                end=end,
                sentences=spans,
                position=pos,
            )
        )
    return chunks
