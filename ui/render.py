"""Answers, summaries, articles and reports as chat markdown or HTML.

Pure functions of the pipeline's types, so the page's look is unit-testable without a browser.
A citation is addressed by `cite:<scope>:<doc_id>:<start>:<end>`: the reference itself holds
everything needed to open the article at the quote, so no per-session lookup table is needed,
and the scope keeps a click in one tab from opening the article viewer of another.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

from rag.errors import LoadError
from rag.types import Answer, Citation, Document, Filters, Query, Sentence, Summary

CONTEXT_CHARS = 160


def cite_ref(scope: str, c: Citation) -> str:
    return f"cite:{scope}:{c.doc_id}:{c.start}:{c.end}"


def parse_ref(ref: str) -> tuple[str, str, int, int] | None:
    """(scope, doc_id, start, end) of a citation reference, or None if it is not one."""
    parts = ref.lstrip("#").split(":")
    if len(parts) != 5 or parts[0] != "cite":
        return None
    try:
        return parts[1], parts[2], int(parts[3]), int(parts[4])
    except ValueError:
        return None


_MARKDOWN = re.compile(r"([\\`*_\[\]!~|#$])")


def plain(text: str) -> str:
    """Article or model text for a markdown message: shown as written, never as markup (an
    article's <img onerror=...>, ![](http://...) or [link](...) would otherwise render)."""
    return _MARKDOWN.sub(r"\\\1", html.escape(text, quote=False))


def numbering(citations: Iterable[Citation]) -> dict[tuple[str, int, int], int]:
    return {(c.doc_id, c.start, c.end): i for i, c in enumerate(citations, start=1)}


def sentences_markdown(sentences: Sequence[Sentence], citations: list[Citation], scope: str) -> str:
    """Sentences with clickable [n] after each; unsupported ones struck through and explained."""
    numbers = numbering(citations)
    parts = []
    for s in sentences:
        if s.supported:
            marks = "".join(
                f"[[{numbers[(c.doc_id, c.start, c.end)]}]](#{cite_ref(scope, c)})"
                for c in s.citations
            )
            parts.append(f"{plain(s.text)} {marks}".strip())
        else:
            why = f": {plain(s.reason)}" if s.reason else ""
            parts.append(f"⚠ ~~{plain(s.text)}~~ _(not supported by the articles{why})_")
    return " ".join(parts)


def answer_markdown(answer: Answer, scope: str = "chat") -> str:
    """The answer as a chat message: cited sentences, flagged ones, or the refusal and why."""
    if answer.refused:
        text = f"**The indexed articles do not answer this.** {plain(answer.refusal_reason)}"
        drafts = [s for s in answer.sentences if not s.supported]
        if drafts:
            text += "\n\n_What the model drafted, which no retrieved text supports:_ " + " ".join(
                f"~~{plain(s.text)}~~" for s in drafts
            )
        return text
    return sentences_markdown(answer.sentences, answer.citations, scope)


GUESSED = {"title": "title", "published_at": "date"}


def _meta_line(
    source: str, published_at: str | None, url: str = "", guessed: tuple[str, ...] = ()
) -> str:
    bits = [html.escape(x) for x in (source, published_at or "") if x]
    read = [GUESSED[g] for g in guessed if g in GUESSED]
    if read:
        bits.append(
            f'<span class="guessed" title="not stated by the file: read from its text">'
            f"{' and '.join(read)} guessed from the text</span>"
        )
    if url:
        u = html.escape(url)
        bits.append(f'<a href="{u}" target="_blank" rel="noopener noreferrer">{u}</a>')
    return " · ".join(bits)


def citation_card(
    n: int, c: Citation, doc_text: str, scope: str, guessed: tuple[str, ...] = ()
) -> str:
    """One cited quote in a little context; the whole card opens the article at the quote.

    `guessed`: the article's metadata read from its text (rag.guess), marked as such."""
    a = max(0, c.start - CONTEXT_CHARS)
    b = min(len(doc_text), c.end + CONTEXT_CHARS)
    before = ("…" if a > 0 else "") + html.escape(doc_text[a : c.start])
    after = html.escape(doc_text[c.end : b]) + ("…" if b < len(doc_text) else "")
    return (
        f'<div class="cite-card" data-cite="{cite_ref(scope, c)}" role="button" tabindex="0" '
        f'title="Open the article at this quote">'
        f'<div class="cite-head"><span class="cite-n">[{n}]</span> '
        f"{html.escape(c.title or 'Untitled')}</div>"
        f'<div class="cite-meta">{_meta_line(c.source, c.published_at, guessed=guessed)} · '
        f"support {c.support:.2f}</div>"
        f'<div class="cite-text">{before}<mark>{html.escape(c.quote)}</mark>{after}</div></div>'
    )


def citations_html(
    citations: list[Citation], documents: dict[str, Document], scope: str, empty: str
) -> str:
    cards = [
        citation_card(n, c, documents[c.doc_id].text, scope, documents[c.doc_id].guessed)
        for n, c in enumerate(citations, start=1)
        if c.doc_id in documents
    ]
    if not cards:
        return f'<p class="muted">{html.escape(empty)}</p>'
    hint = '<p class="muted">Click a quote (or a [n] in the text) to read it in its article.</p>'
    return hint + "".join(cards)


def sources_html(answer: Answer, documents: dict[str, Document]) -> str:
    """The right-hand panel after an answer: cited quotes, or what was searched when refused."""
    if answer.refused:
        titles = sorted({t for t in answer.titles.values() if t})
        looked = "".join(f"<li>{html.escape(t)}</li>" for t in titles)
        return (
            f'<div class="refused"><b>Refused.</b> {html.escape(answer.refusal_reason)}'
            + (f"<p>Articles searched:</p><ul>{looked}</ul>" if looked else "")
            + "<p>Try naming the people, places or events as the articles do, or widen the "
            "filters.</p></div>"
        )
    return citations_html(answer.citations, documents, "chat", "No sources cited.")


def article_html(doc: Document, start: int, end: int, n: int | None = None) -> str:
    """The whole article with the quoted span highlighted (the viewer scrolls to it)."""
    start = max(0, min(start, len(doc.text)))
    end = max(start, min(end, len(doc.text)))
    label = f"[{n}] " if n else ""
    body = (
        html.escape(doc.text[:start])
        + f'<mark class="quote">{html.escape(doc.text[start:end])}</mark>'
        + html.escape(doc.text[end:])
    )
    return (
        f'<div class="article"><h3>{label}{html.escape(doc.title or "Untitled")}</h3>'
        f'<div class="cite-meta">{_meta_line(doc.source, doc.published_at, doc.url, doc.guessed)}'
        "</div>"
        f'<div class="article-text">{body}</div></div>'
    )


ARTICLE_PLACEHOLDER = '<p class="muted">Click a citation to read the article here.</p>'


def filters_note(query: Query | None, searched_as: str = "", carried: Sequence[str] = ()) -> str:
    """What the search actually used: the standalone question and the filters, inferred or not."""
    lines = []
    if carried:
        lines.append(
            f"Follow-up: searched as _{searched_as}_ (carried from the conversation: "
            + ", ".join(f"**{t}**" for t in carried)
            + ")"
        )
    if query is not None:
        applied = describe_filters(query.filters)
        if query.inferred:
            lines.append("Filters inferred from the question: " + "; ".join(query.inferred))
        lines.append(f"Filters applied: {applied}" if applied else "No filters: every article.")
    return "\n\n".join(lines)


def describe_filters(f: Filters, titles: dict[str, str] | None = None) -> str:
    bits = []
    if f.sources:
        bits.append("source " + " or ".join(f.sources))
    if f.date_from or f.date_to:
        bits.append(f"dates {f.date_from or '…'} to {f.date_to or '…'}")
    if f.doc_ids:
        names = [(titles or {}).get(d, d[:10]) for d in f.doc_ids]
        bits.append(f"{len(names)} chosen article(s)")
    if f.titles:
        bits.append("titles " + ", ".join(f'"{t}"' for t in f.titles))
    return "; ".join(bits)


def summary_markdown(summary: Summary, documents: dict[str, Document] | None = None) -> str:
    """The summary with its [n] links; a digest as one section per topic, titles listed."""
    if not summary.sentences:
        return "_The model wrote no summary._"
    if summary.topics:
        docs = documents or {}
        parts = [f"**Digest of the {len(summary.doc_ids)} newest articles, by topic**"]
        for t in summary.topics:
            titles = " · ".join(
                html.escape(docs[d].title or "Untitled") for d in t.doc_ids if d in docs
            )
            body = sentences_markdown(t.sentences, summary.citations, "sum")
            parts.append(
                f"#### {html.escape(t.label)}\n<small>{titles}</small>\n\n"
                + (body or "_Nothing in these articles could be summarised with a citation._")
            )
        text = "\n\n".join(parts)
    else:
        text = sentences_markdown(summary.sentences, summary.citations, "sum")
    ok = sum(s.supported for s in summary.sentences)
    return (
        f"{text}\n\n<small>{ok} of {len(summary.sentences)} sentences supported by the "
        f"articles · {summary.timings.get('total_ms', 0) / 1000:.1f} s</small>"
    )


def doc_label(meta: dict[str, Any]) -> str:
    """How an article is named in pickers: title · source · date."""
    bits = [meta.get("title") or "Untitled", meta.get("source") or "", meta.get("published_at")]
    return " · ".join(b for b in bits if b)


def ingest_report_markdown(
    added: int, replaced: int, unchanged: int, chunks: int, seconds: float, errors: list[LoadError]
) -> str:
    lines = []
    if added or replaced:
        lines.append(
            f"✓ Indexed **{added}** new article(s) ({chunks} chunks) in {seconds:.1f} s"
            + (f", replacing {replaced} older version(s)" if replaced else "")
            + "."
        )
    if unchanged:
        lines.append(f"{unchanged} article(s) were already indexed, unchanged.")
    if errors:
        lines.append(f"✗ **{len(errors)} file(s) could not be indexed:**")
        lines += [f"- `{e.path}`: {e.problem}" for e in errors]
    return "\n\n".join(lines) or "Nothing to index."
