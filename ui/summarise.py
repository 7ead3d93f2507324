"""The Summarise tab: one article, several, whatever a query finds, or (with nothing chosen) a
digest of the newest articles by topic, which the tab opens on once the app has written it."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from rag.errors import NewsragError
from rag.pipeline import Pipeline
from rag.ui.render import ARTICLE_PLACEHOLDER, citations_html, summary_markdown
from rag.ui.viewer import article_viewer

DIGEST_WAIT = (
    "_A digest of the newest articles, by topic, is being written; it appears here when ready. "
    "Or pick articles or type a topic and press Summarise._"
)


@dataclass
class SummariseTab:
    articles: gr.Dropdown
    out: gr.Markdown
    cards: gr.HTML


def digest_view(pipe: Pipeline) -> tuple[str, str] | None:
    """The summary box and source cards of the collection's digest, if it has been written."""
    digest = pipe.cached_digest()
    if digest is None:
        return None
    docs = pipe.index.documents
    cited = citations_html(digest.citations, docs, "sum", "No sentence could be cited.")
    return summary_markdown(digest, docs), cited


def summarise_tab(pipe: Pipeline) -> SummariseTab:
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            articles = gr.Dropdown(
                [],
                multiselect=True,
                label="Articles to summarise (one or several)",
                elem_id="sum-articles",
            )
            query = gr.Textbox(
                label="…or a topic: summarise what the articles say about it",
                placeholder="e.g. Japan's arms exports",
                elem_id="sum-query",
            )
            go = gr.Button("Summarise", variant="primary", elem_id="summarise")
            gr.Markdown(
                "<small>With no article and no topic: a digest of the newest articles, "
                "grouped by topic.</small>"
            )
            out = gr.Markdown(DIGEST_WAIT, elem_id="summary")
        with gr.Column(scale=2):
            gr.Markdown("### Sources")
            cards = gr.HTML('<p class="muted">Quotes behind the summary.</p>', js_on_load=None)
            gr.Markdown("### Article")
            viewer = article_viewer(pipe, "sum", "sum-article")

    def summarise(
        doc_ids: list[str],
        topic: str,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[str, str, str]:
        topic = (topic or "").strip()
        progress(0.1, desc="The model reads each article; then every sentence is checked")
        try:
            summary = pipe.summarize(doc_ids=doc_ids or None, query=None if doc_ids else topic)
        except NewsragError as e:
            raise gr.Error(str(e)) from e
        docs = pipe.index.documents
        cited = citations_html(summary.citations, docs, "sum", "No sentence could be cited.")
        if summary.topics:
            return summary_markdown(summary, docs), cited, ARTICLE_PLACEHOLDER
        used = ", ".join(docs[d].title or d[:10] for d in summary.doc_ids if d in docs)
        head = f"**Summary of:** {used}\n\n" if used else ""
        return head + summary_markdown(summary, docs), cited, ARTICLE_PLACEHOLDER

    go.click(
        summarise,
        [articles, query],
        [out, cards, viewer],
        concurrency_limit=2,
        concurrency_id="summarise",
        api_name="summarise",
    )
    return SummariseTab(articles=articles, out=out, cards=cards)
