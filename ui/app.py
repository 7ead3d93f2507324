"""The Gradio app: chat whose every sentence shows the exact words of the article behind it.

Thin over rag.Pipeline: the handlers only format what the pipeline returns. Runs offline: no
analytics, system fonts instead of web fonts, bound to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr

from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings
from rag.types import Answer, Citation

CSS = """
.source-card {border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 12px;
  margin-bottom: 10px}
.source-card h4 {margin: 0 0 4px 0; font-size: 15px}
.source-meta {color: #57606a; font-size: 12px; margin-bottom: 6px}
.source-text {font-size: 13px; line-height: 1.5; white-space: pre-wrap}
.source-text mark {background: #fff3a3; padding: 1px 0; font-weight: 600}
.refused {border-left: 4px solid #bf8700; padding-left: 8px}
"""
CONTEXT_CHARS = 280


def _theme() -> gr.themes.Base:
    # plain font names: a GoogleFont would make every page load fetch from the web
    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])


def citation_numbers(answer: Answer) -> dict[tuple[str, int, int], int]:
    return {(c.doc_id, c.start, c.end): i for i, c in enumerate(answer.citations, start=1)}


def answer_markdown(answer: Answer) -> str:
    """The answer as chat markdown: [n] after each sentence, unsupported ones flagged."""
    if answer.refused:
        text = f"**The indexed articles do not answer this.** {answer.refusal_reason}"
        drafts = [s for s in answer.sentences if not s.supported]
        if drafts:
            text += "\n\n_The model drafted, but no retrieved text supports:_ " + " ".join(
                f"~~{s.text}~~" for s in drafts
            )
        return text
    numbers = citation_numbers(answer)
    parts = []
    for s in answer.sentences:
        if s.supported:
            marks = "".join(f"[{numbers[(c.doc_id, c.start, c.end)]}]" for c in s.citations)
            parts.append(f"{s.text} {marks}")
        else:
            parts.append(f"⚠️ _{s.text}_ (unsupported: {s.reason})")
    return " ".join(parts)


def source_card(n: int, c: Citation, doc_text: str, url: str = "") -> str:
    """One cited source: title, metadata and the quote highlighted in its surrounding text."""
    a = max(0, c.start - CONTEXT_CHARS)
    b = min(len(doc_text), c.end + CONTEXT_CHARS)
    before = ("…" if a > 0 else "") + html.escape(doc_text[a : c.start])
    after = html.escape(doc_text[c.end : b]) + ("…" if b < len(doc_text) else "")
    meta = " · ".join(x for x in (c.source, c.published_at or "", f"support {c.support:.2f}") if x)
    link = f' · <a href="{html.escape(url)}">link</a>' if url else ""
    return (
        f'<div class="source-card" data-doc="{c.doc_id}" data-start="{c.start}" '
        f'data-end="{c.end}"><h4>[{n}] {html.escape(c.title or "Untitled")}</h4>'
        f'<div class="source-meta">{html.escape(meta)}{link}</div>'
        f'<div class="source-text">{before}<mark>{html.escape(c.quote)}</mark>{after}</div></div>'
    )


def sources_html(pipe: Pipeline, answer: Answer) -> str:
    if answer.refused:
        titles = sorted({t for t in answer.titles.values() if t})
        looked = "".join(f"<li>{html.escape(t)}</li>" for t in titles)
        return (
            f'<div class="refused"><b>Refused:</b> {html.escape(answer.refusal_reason)}'
            + (f"<p>Articles searched:</p><ul>{looked}</ul>" if looked else "")
            + "</div>"
        )
    cards = []
    for n, c in enumerate(answer.citations, start=1):
        doc = pipe.index.documents[c.doc_id]
        cards.append(source_card(n, c, doc.text, doc.url))
    return "".join(cards) or "<i>No sources cited.</i>"


def build_app(pipe: Pipeline) -> gr.Blocks:
    sources = sorted({d.source for d in pipe.index.documents.values() if d.source})

    def respond(
        message: str,
        history: list[dict[str, Any]],
        source: list[str],
        date_from: str,
        date_to: str,
    ) -> Iterator[tuple[list[dict[str, Any]], str, str]]:
        history = list(history or [])
        if not message or not message.strip():
            yield history, "", ""
            return
        history.append({"role": "user", "content": message})
        history.append({"role": "assistant", "content": "…"})
        filters = {
            "sources": source or None,
            "date_from": date_from or None,
            "date_to": date_to or None,
        }
        draft = ""
        for event in pipe.stream(message, filters):
            if isinstance(event, Answer):
                history[-1] = {"role": "assistant", "content": answer_markdown(event)}
                yield history, sources_html(pipe, event), ""
            else:
                draft += event
                history[-1] = {"role": "assistant", "content": draft + " ▌"}
                yield history, "<i>Checking every sentence against the articles…</i>", ""

    with gr.Blocks(title="newsrag") as app:
        gr.Markdown(
            "## newsrag — answers tied to quoted sources\n"
            f"{len(pipe.index.documents)} articles indexed. Every sentence of an answer is "
            "checked against the articles: cited sentences show the exact quote on the right, "
            "unsupported ones are flagged, and questions the articles do not answer are refused."
        )
        with gr.Tab("Chat"), gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Chat", height=480, elem_id="chat")
                box = gr.Textbox(
                    placeholder="Ask about the indexed articles…",
                    show_label=False,
                    elem_id="question",
                )
                with gr.Accordion("Filters", open=False):
                    source = gr.Dropdown(sources, multiselect=True, label="Sources")
                    with gr.Row():
                        date_from = gr.Textbox(label="From (YYYY-MM-DD)")
                        date_to = gr.Textbox(label="To (YYYY-MM-DD)")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                panel = gr.HTML("<i>Cited quotes appear here.</i>", elem_id="sources")
        box.submit(
            respond,
            [box, chat, source, date_from, date_to],
            [chat, panel, box],
            concurrency_limit=1,
        )
    return app


def serve(settings: Settings, corpus: Path | None = None) -> int:
    """Start the app; index `corpus` (default: the bundled one) if the index is empty."""
    pipe = Pipeline(settings)
    if not pipe.index.documents:
        folder = corpus or PROJECT_ROOT / "corpus"
        report = pipe.ingest([folder])
        print(f"indexed {len(report.added)} documents from {folder}")
        for e in report.errors:
            print(f"error: {e}")
    elif corpus is not None:
        report = pipe.ingest([corpus])
        print(f"{len(report.added)} new documents from {corpus}")
    app = build_app(pipe)
    app.queue(default_concurrency_limit=4)
    print(f"newsrag: http://{settings.host}:{settings.port}", flush=True)
    app.launch(
        server_name=settings.host,
        server_port=settings.port,
        ssr_mode=False,
        theme=_theme(),
        css=CSS,
        footer_links=[],
    )
    return 0
