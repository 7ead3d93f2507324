"""The Chat tab: streamed answers, cited sentence by sentence, with the article one click away.

Follow-ups are rewritten into standalone questions (rag.conversation) before retrieval, and the
note under the chat says what was searched and which filters applied, given or inferred.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from rag.conversation import standalone
from rag.errors import NewsragError
from rag.pipeline import Pipeline
from rag.types import Answer, Query
from rag.ui.render import (
    ARTICLE_PLACEHOLDER,
    answer_markdown,
    filters_note,
    plain,
    sources_html,
)
from rag.ui.viewer import article_viewer

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CHAT_CONCURRENCY = 20  # users served at once; the local LLM serialises itself, retrieval does not
PLACEHOLDER = (
    "**Ask about the indexed articles.** Every sentence of an answer is checked against them: "
    "cited sentences carry [n] links to the exact quote, unsupported ones are struck through, and "
    "questions the articles do not answer are refused with the reason. Follow-up questions "
    "(“who makes them?”) use the conversation."
)
Outputs = tuple[list[dict[str, Any]], str, str, str, list[str], list[Query]]


@dataclass
class ChatTab:
    sources: gr.Dropdown
    articles: gr.Dropdown


def _date(value: str, label: str) -> str | None:
    value = (value or "").strip()
    if value and not _DAY.match(value):
        raise gr.Error(f"{label} must be a date like 2023-12-22, not {value!r}.")
    return value or None


def chat_tab(pipe: Pipeline) -> ChatTab:
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chat = gr.Chatbot(
                label="Conversation",
                height=460,
                elem_id="chat",
                placeholder=PLACEHOLDER,
                feedback_options=None,
                buttons=["copy"],
            )
            with gr.Row():
                box = gr.Textbox(
                    placeholder="Ask about the indexed articles… (Enter to send)",
                    show_label=False,
                    elem_id="question",
                    scale=6,
                    autofocus=True,
                    container=False,
                )
                send = gr.Button("Ask", variant="primary", scale=0, min_width=80, elem_id="ask")
                clear = gr.Button(
                    "New chat",
                    variant="secondary",
                    scale=0,
                    min_width=110,
                    elem_id="new-chat",
                )
            note = gr.Markdown("", elem_id="filters-note")
            with gr.Accordion("Filters (optional)", open=False, elem_id="filters"):
                with gr.Row():
                    sources = gr.Dropdown(
                        [], multiselect=True, label="Sources", elem_id="filter-sources"
                    )
                    articles = gr.Dropdown(
                        [], multiselect=True, label="Articles", elem_id="filter-articles"
                    )
                with gr.Row():
                    date_from_box = gr.Textbox(label="From date", placeholder="YYYY-MM-DD")
                    date_to_box = gr.Textbox(label="To date", placeholder="YYYY-MM-DD")
                gr.Markdown(
                    "<small>Filters set here apply to every question. Dates, sources and quoted "
                    "titles named in a question are also applied, and shown above.</small>"
                )
        with gr.Column(scale=2):
            gr.Markdown("### Sources")
            panel = gr.HTML(
                '<p class="muted">The quotes behind an answer appear here.</p>',
                elem_id="sources",
                js_on_load=None,
            )
            gr.Markdown("### Article")
            viewer = article_viewer(pipe, "chat", "chat-article")
    turns = gr.State([])
    last_query = gr.State([])  # the last answer's Query: the filters a follow-up keeps

    def respond(
        message: str,
        history: list[dict[str, Any]],
        asked: list[str],
        last: list[Query],
        source: list[str],
        date_from: str,
        date_to: str,
        doc_ids: list[str],
    ) -> Iterator[Outputs]:
        history = list(history or [])
        asked = list(asked or [])
        last = list(last or [])
        q = " ".join((message or "").split())
        if not q:
            yield history, message, gr.skip(), gr.skip(), asked, last
            return
        filters = {
            "sources": source or None,
            "date_from": _date(date_from, "From date"),
            "date_to": _date(date_to, "To date"),
            "doc_ids": doc_ids or None,
        }
        rewrite = standalone(q, asked)
        # a follow-up keeps the filters the earlier question's words set, unless it sets its own
        follows = last[-1] if rewrite.follow_up and last else None
        history.append({"role": "user", "content": plain(q)})
        ahead = pipe.questions_ahead()
        queued = (
            f" {ahead} question(s) from other users are ahead of yours on the model."
            if ahead
            else ""
        )
        history.append({"role": "assistant", "content": f"_Searching the articles…{queued}_"})
        searched = filters_note(None, rewrite.text, rewrite.carried)
        waiting = '<p class="muted">Searching, then checking every sentence…</p>'
        yield history, "", waiting, searched, asked, last
        draft = ""
        try:
            for event in pipe.stream(rewrite.text, filters, follows=follows):
                if isinstance(event, Answer):
                    history[-1] = {"role": "assistant", "content": answer_markdown(event)}
                    note = filters_note(event.query, rewrite.text, rewrite.carried)
                    panel_html = sources_html(event, pipe.index.documents)
                    queries = [event.query] if event.query else []
                    yield history, "", panel_html, note, [*asked, rewrite.text], queries
                else:
                    draft += event
                    history[-1] = {"role": "assistant", "content": plain(draft) + " ▌"}
                    yield history, "", waiting, searched, asked, last
        except NewsragError as e:
            history[-1] = {"role": "assistant", "content": f"⚠ {plain(str(e))}"}
            yield history, "", "", searched, asked, last

    def reset() -> tuple[list[Any], str, str, str, list[str], list[Query], str]:
        return (
            [],
            "",
            '<p class="muted">The quotes behind an answer appear here.</p>',
            "",
            [],
            [],
            (ARTICLE_PLACEHOLDER),
        )

    inputs = [box, chat, turns, last_query, sources, date_from_box, date_to_box, articles]
    outputs = [chat, box, panel, note, turns, last_query]
    for trigger, api_name in ((box.submit, "chat"), (send.click, False)):
        trigger(
            respond,
            inputs,
            outputs,
            concurrency_limit=CHAT_CONCURRENCY,
            concurrency_id="chat",
            api_name=api_name,
            show_progress="hidden",
        )
        # the article of an earlier answer would look like the source of the new one
        trigger(lambda: ARTICLE_PLACEHOLDER, None, viewer, api_name=False, queue=False)
    for trigger in (clear.click, chat.clear):
        trigger(reset, None, [chat, box, panel, note, turns, last_query, viewer], api_name=False)
    return ChatTab(sources=sources, articles=articles)
