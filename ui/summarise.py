"""The Summarise tab: one article, several, or whatever a query finds, summarised with citations."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from rag.errors import NewsragError
from rag.pipeline import Pipeline
from rag.ui.render import ARTICLE_PLACEHOLDER, citations_html, summary_markdown
from rag.ui.viewer import article_viewer


@dataclass
class SummariseTab:
    articles: gr.Dropdown


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
            out = gr.Markdown(
                "_The summary appears here; every sentence is checked against the articles._",
                elem_id="summary",
            )
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
        if not doc_ids and not topic:
            raise gr.Error("Pick at least one article, or type a topic.")
        progress(0.1, desc="The model reads each article; then every sentence is checked")
        try:
            summary = pipe.summarize(doc_ids=doc_ids or None, query=None if doc_ids else topic)
        except NewsragError as e:
            raise gr.Error(str(e)) from e
        docs = pipe.index.documents
        used = ", ".join(docs[d].title or d[:10] for d in summary.doc_ids if d in docs)
        head = f"**Summary of:** {used}\n\n" if used else ""
        cited = citations_html(summary.citations, docs, "sum", "No sentence could be cited.")
        return head + summary_markdown(summary), cited, ARTICLE_PLACEHOLDER

    go.click(
        summarise,
        [articles, query],
        [out, cards, viewer],
        concurrency_limit=2,
        concurrency_id="summarise",
        api_name="summarise",
    )
    return SummariseTab(articles=articles)
