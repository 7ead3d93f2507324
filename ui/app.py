"""The Gradio app: Chat, Summarise, Library and Eval tabs over one rag.Pipeline.

Thin over the pipeline: handlers format what it returns (rag.ui.render). Runs offline: no
analytics, system fonts instead of web fonts, no CDN assets, bound to 127.0.0.1 unless told
otherwise. The queue lets 20 users in at once: the local LLM serialises itself with a lock,
so retrieval and grounding of other users' questions go on while one answer is generated.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr

from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings
from rag.ui.chat import chat_tab
from rag.ui.evaluation import eval_tab
from rag.ui.library import library_tab, picker_choices, rows, stats_markdown
from rag.ui.render import answer_markdown, sources_html
from rag.ui.summarise import digest_view, summarise_tab

__all__ = ["answer_markdown", "build_app", "launch_options", "serve", "sources_html"]

QUEUE_SIZE = 200  # waiting events before new ones are turned away: far above 20 users' needs
CSS = (Path(__file__).parent / "app.css").read_text(encoding="utf-8")


def _theme() -> gr.themes.Base:
    # plain font names: a GoogleFont would make every page load fetch from the web
    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])


def header_markdown(pipe: Pipeline) -> str:
    s = pipe.settings
    model = (
        "extractive (quotes the best passages)"
        if s.llm_backend == "extractive"
        else (f"{s.llm_backend}: {s.llm_model}")
    )
    n = len(pipe.index.documents)
    return (
        "## newsrag — answers tied to quoted sources\n"
        f"{n} article(s) indexed · answers by {model} · {status_text(pipe.status)}. Every "
        "sentence is checked against the articles; what no article supports is flagged, and "
        "questions they do not answer are refused."
    )


def status_text(status: str) -> str:
    """The models' state as the page shows it (Pipeline.warm sets it in the background)."""
    if status == "ready":
        return "✓ model ready"
    if status.startswith("failed"):
        return f"⚠ model {status}"
    return "⏳ model loading (a question asked now waits for it)"


def build_app(pipe: Pipeline) -> gr.Blocks:
    with gr.Blocks(title="newsrag") as app:
        header = gr.Markdown(header_markdown(pipe), elem_id="header")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chat = chat_tab(pipe)
            with gr.Tab("Summarise", id="summarise"):
                summ = summarise_tab(pipe)
            with gr.Tab("Library", id="library"):
                lib = library_tab(pipe)
            with gr.Tab("Eval", id="eval"):
                ev = eval_tab(pipe)

        pickers = [chat.articles, summ.articles, lib.picker, *ev.articles]
        outputs = [header, chat.sources, lib.table, lib.stats, *pickers]

        def refresh() -> list[Any]:
            """Every view of the library, after a change or when a page opens."""
            metas = pipe.documents()  # read under the pipeline's lock, as rows() etc. are
            choices = picker_choices(pipe)
            return [
                header_markdown(pipe),
                gr.update(choices=sorted({m["source"] for m in metas if m.get("source")})),
                rows(pipe) or None,
                stats_markdown(pipe),
                *[gr.update(choices=choices, value=[]) for _ in pickers],
            ]

        for event in lib.changed:
            event.then(refresh, None, outputs, api_name=False, show_progress="hidden")
        app.load(refresh, None, outputs, api_name=False, show_progress="hidden")

        # until the models are warm and the digest written: poll, then stop
        timer = gr.Timer(1.0)

        def poll() -> list[Any]:
            digest = digest_view(pipe)
            settled = pipe.status != "cold" and pipe.status != "loading"
            done = settled and (digest is not None or not pipe.settings.digest_at_start)
            shown = [gr.skip(), gr.skip()] if digest is None else list(digest)
            return [header_markdown(pipe), *shown, gr.Timer(active=not done)]

        timer.tick(
            poll,
            None,
            [header, summ.out, summ.cards, timer],
            api_name=False,
            show_progress="hidden",
            queue=False,
        )
    app.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    return app


def launch_options(settings: Settings) -> dict[str, Any]:
    """launch() arguments: loopback by default, offline look, no footer links out."""
    return {
        "server_name": settings.host,
        "server_port": settings.port,
        "ssr_mode": False,
        "theme": _theme(),
        "css": CSS,
        "footer_links": [],
        "show_error": True,
        "max_threads": 60,
    }


def _warm(pipe: Pipeline) -> None:
    """Warm the models in the background, then write the collection's digest, so neither the
    first question nor the Summarise tab waits for them."""
    t0 = time.perf_counter()
    try:
        pipe.warm()
        print(f"newsrag: models ready ({time.perf_counter() - t0:.0f} s)", flush=True)
        if pipe.settings.digest_at_start and pipe.index.documents:
            pipe.summarize()
            print(f"newsrag: digest written ({time.perf_counter() - t0:.0f} s)", flush=True)
    except Exception as e:  # a broken model shows in the page and on the first question
        print(f"newsrag: could not warm up ({e})", file=sys.stderr, flush=True)


def serve(settings: Settings, corpus: Path | None = None) -> int:
    """Start the app; index `corpus` (default: the bundled one) if the index is empty."""
    pipe = Pipeline(settings)
    if not pipe.index.documents:
        folder = corpus or PROJECT_ROOT / "corpus"
        report = pipe.ingest([folder])
        print(f"indexed {len(report.added)} documents from {folder}")
        for e in report.errors:
            print(f"error: {e}", file=sys.stderr)
    elif corpus is not None:
        report = pipe.ingest([corpus])
        print(f"{len(report.added)} new documents from {corpus}")
    app = build_app(pipe)
    app.launch(prevent_thread_lock=True, **launch_options(settings))
    print(f"newsrag: open http://{settings.host}:{settings.port} (Ctrl+C stops)", flush=True)
    # only now: llama.cpp silences the process's stdout while it loads, which would have
    # swallowed the address above
    threading.Thread(target=_warm, args=(pipe,), daemon=True).start()
    try:
        app.block_thread()
    finally:
        app.close()
    return 0
