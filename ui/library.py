"""The Library tab: what is indexed, adding files (bad ones named, good ones indexed), deleting.

Uploads are copied into one folder beside the index under their own names, so a file uploaded
again with changed content replaces its old version (documents are matched by path), and a
`<file>.meta.json` uploaded with its file gives it its metadata.

Besides the page's events, two API endpoints serve programs (and `rag.ui.load`): `documents`
lists what is indexed, and `delete` takes document ids. The page's delete button goes through the
picker, whose choices Gradio checks against what that page was shown; a client of the API has no
page, so its ids are checked against the index instead. Every write (upload, either delete) is in
one queue group of one at a time, so concurrent users' changes are committed one after another.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import LoadError
from rag.load import load_file
from rag.pipeline import IngestReport, Pipeline
from rag.types import Document
from rag.ui.render import doc_label, ingest_report_markdown

FORMATS = ".txt .md .html .pdf .json .jsonl .jsonl.gz"
COLUMNS = ["Title", "Source", "Published", "Chunks", "Characters", "URL", "ID"]


@dataclass
class LibraryTab:
    table: gr.Dataframe
    stats: gr.Markdown
    picker: gr.Dropdown
    changed: list[Any]  # events after which every article picker must be refreshed


def upload_dir(pipe: Pipeline) -> Path:
    """Where uploaded files land before they are indexed: beside a local index; for an index
    in Milvus (a stateless server, no local index folder) in a temporary folder."""
    s = pipe.settings
    if s.shared_store:
        return Path(tempfile.gettempdir()) / "newsrag-uploads" / s.collection
    index = Path(s.index_dir)
    return index.parent / f"{index.name}-uploads"


def marked(meta: dict[str, Any], name: str) -> str:
    """A metadata value, with "(guessed)" when it was read from the text (rag.guess)."""
    value = meta.get(name) or ""
    return f"{value} (guessed)" if value and name in meta.get("guessed", ()) else value


def rows(pipe: Pipeline) -> list[list[Any]]:
    return [
        [
            marked(m, "title") or "Untitled",
            m.get("source") or "",
            marked(m, "published_at"),
            m.get("chunks", 0),
            m.get("chars", 0),
            m.get("url") or "",
            m["id"],
        ]
        for m in pipe.documents()
    ]


def stats_markdown(pipe: Pipeline) -> str:
    docs = pipe.documents()
    if not docs:
        return "**The library is empty.** Add articles below to start asking questions."
    chunks = sum(d.get("chunks", 0) for d in docs)
    sources = sorted({d["source"] for d in docs if d.get("source")})
    dates = sorted(d["published_at"] for d in docs if d.get("published_at"))
    span = f", published {dates[0]} to {dates[-1]}" if dates else ""
    return f"**{len(docs)} article(s)**, {chunks} chunks, {len(sources)} source(s){span}."


def ingest_uploads(
    pipe: Pipeline, paths: list[str], progress: Callable[[float, str], None]
) -> tuple[IngestReport, list[LoadError]]:
    """Copy, load and index uploaded files; each bad file becomes an error naming it."""
    folder = upload_dir(pipe)
    folder.mkdir(parents=True, exist_ok=True)
    s = pipe.settings
    copies = []
    for p in paths:
        dest = folder / Path(p).name
        shutil.copyfile(p, dest)
        copies.append(dest)
    docs: list[Document] = []
    errors: list[LoadError] = []
    readable = [c for c in copies if not c.name.endswith(".meta.json")]
    for i, path in enumerate(readable):
        progress(0.3 * i / max(1, len(readable)), f"Reading {path.name}")
        try:
            docs.extend(load_file(path, s.max_file_mb, s.max_unpacked_mb))
        except LoadError as e:
            errors.append(LoadError(path.name, e.problem))

    def embedding(done: int, total: int, stage: str) -> None:
        progress(0.3 + 0.7 * done / max(1, total), f"Embedding {done}/{total} chunks")

    report = pipe.ingest_documents(docs, embedding)
    return report, errors


def library_tab(pipe: Pipeline) -> LibraryTab:
    stats = gr.Markdown(stats_markdown(pipe), elem_id="library-stats")
    table = gr.Dataframe(
        headers=COLUMNS,
        value=rows(pipe) or None,
        interactive=False,
        wrap=True,
        column_widths=["36%", "16%", "10%", "7%", "9%", "14%", "8%"],
        elem_id="library-table",
        max_height=360,
    )
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown(
                f"### Add articles\nFormats: {FORMATS} (a `name.meta.json` beside a text "
                "file gives its title, source, date and url)."
            )
            files = gr.File(
                file_count="multiple",
                label="Drop files here or click to choose",
                elem_id="upload",
                height=140,
            )
            report = gr.Markdown("", elem_id="ingest-report")
        with gr.Column():
            gr.Markdown("### Remove articles")
            picker = gr.Dropdown(
                [], multiselect=True, label="Articles to delete", elem_id="delete-pick"
            )
            button = gr.Button("Delete selected", variant="stop", elem_id="delete")
            deleted = gr.Markdown("", elem_id="delete-report")

    def index_files(
        paths: list[str] | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[str, None]:
        if not paths:
            return "", None
        rep, errors = ingest_uploads(pipe, list(paths), lambda f, d: progress(f, desc=d))
        for e in errors:
            gr.Warning(f"{e.path}: {e.problem}")
        text = ingest_report_markdown(
            len(rep.added), len(rep.replaced), len(rep.unchanged), rep.chunks, rep.seconds, errors
        )
        return text, None

    def remove(doc_ids: list[str] | None) -> str:
        if not doc_ids:
            return "Pick the articles to delete first."
        titles = {d: pipe.index.documents[d].title for d in doc_ids if d in pipe.index.documents}
        gone = pipe.delete(doc_ids)
        return (
            "✓ Deleted: " + "; ".join(titles.get(d) or d for d in gone)
            if gone
            else ("Nothing deleted (already gone).")
        )

    def delete(doc_ids: list[str]) -> str:
        """Delete indexed articles by id; ids not in the library are named and left alone."""
        unknown = [d for d in doc_ids if d not in pipe.index.documents]
        known = [d for d in doc_ids if d not in unknown]
        said = [remove(known)] if known else []
        if unknown:
            said.append(f"Not in the library: {', '.join(unknown)}.")
        return " ".join(said) or remove([])

    def documents() -> list[dict[str, Any]]:
        """Every indexed article's metadata (id, title, source, dates, chunk count)."""
        return pipe.documents()

    up = files.upload(
        index_files,
        files,
        [report, files],
        concurrency_limit=1,
        concurrency_id="write",
        api_name="upload",
    )
    rm = button.click(
        remove, picker, deleted, concurrency_limit=1, concurrency_id="write", api_name=False
    )
    gr.api(delete, api_name="delete", concurrency_limit=1, concurrency_id="write")
    gr.api(documents, api_name="documents", concurrency_limit=None)
    return LibraryTab(table=table, stats=stats, picker=picker, changed=[up, rm])


def picker_choices(pipe: Pipeline) -> list[tuple[str, str]]:
    return [(doc_label(m), m["id"]) for m in pipe.documents()]
