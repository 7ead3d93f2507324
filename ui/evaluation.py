"""The Eval tab: run a suite against this index, read its metrics and report; make new suites.

Thin over rag.eval (suite, run, report, generate). Suites picked here are the bundled ones in
eval/suites/ and those uploaded or generated in this app, kept in a folder beside the index
together with every run's directory (cases.jsonl, summary.json, report.html). The report is a
self-contained page, so it is embedded as it is and offered for download.
"""

from __future__ import annotations

import html
import importlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import NewsragError
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT

HEADLINE = (
    ("faithfulness", "answer sentences supported by the articles"),
    ("citation_precision", "citations that support their sentence"),
    ("citation_recall", "supported sentences that are cited"),
    ("context_recall", "gold evidence found by retrieval"),
    ("context_precision", "retrieved passages that are relevant"),
    ("answer_correctness", "answers matching the reference"),
    ("answer_f1", "token F1 against the reference"),
    ("answer_relevance", "answers on the question's topic"),
    ("refusal_accuracy", "unanswerable questions refused"),
    ("false_refusal_rate", "answerable questions refused (lower is better)"),
)
MISSING = (
    "**The eval harness is not installed** (`rag.eval` lacks {what}). Reinstall newsrag "
    "(`make setup`) to run suites here; `newsrag eval` on the command line needs it too."
)


@dataclass
class EvalTab:
    articles: list[gr.Dropdown] = field(default_factory=list)


def harness_missing() -> str:
    """'' when rag.eval has what this tab calls, else what is missing."""
    for name in ("suite", "run", "report", "generate"):
        try:
            importlib.import_module(f"rag.eval.{name}")
        except ImportError:
            return f"rag.eval.{name}"
    return ""


def eval_home(pipe: Pipeline) -> Path:
    """Suites and reports written from the app: beside a local index, else (an index in
    Milvus) in this server's cache, per collection."""
    s = pipe.settings
    if s.shared_store:
        return Path(s.cache_dir) / "eval" / s.collection
    index = Path(s.index_dir)
    return index.parent / f"{index.name}-eval"


def suite_choices(pipe: Pipeline) -> list[tuple[str, str]]:
    bundled = sorted((PROJECT_ROOT / "eval" / "suites").glob("*.jsonl"))
    mine = sorted((eval_home(pipe) / "suites").glob("*.jsonl"), reverse=True)
    return [(f"{p.name} (bundled)", str(p)) for p in bundled] + [(p.name, str(p)) for p in mine]


def metrics_markdown(summary: dict[str, Any]) -> str:
    """The headline metrics as a table, with how many cases each was measured on."""
    counts = summary.get("counts", {})
    per = counts.get("metric_cases", {})
    lines = ["| metric | value | cases | what it measures |", "|---|---:|---:|---|"]
    for name, what in HEADLINE:
        if name not in summary:
            continue
        v = summary[name]
        shown = "n/a" if v is None else f"{v:.3f}"
        lines.append(f"| {name} | {shown} | {per.get(name, '')} | {what} |")
    t = summary.get("timings", {})
    head = (
        f"**{counts.get('cases', '?')} cases** ({counts.get('answerable', '?')} answerable, "
        f"{counts.get('unanswerable', '?')} unanswerable) · refused {counts.get('refused', '?')}"
        f" · errors {counts.get('errors', 0)} · {t.get('total_seconds', '?')} s"
        + (f" · ask p50 {t['ask_ms_p50'] / 1000:.1f} s" if t.get("ask_ms_p50") else "")
    )
    return head + "\n\n" + "\n".join(lines)


def report_iframe(report: Path) -> str:
    page = report.read_text(encoding="utf-8")
    return (
        '<iframe class="eval-report" title="Eval report" sandbox="allow-scripts" '
        f'style="width:100%;height:640px;border:1px solid #ddd;border-radius:8px" '
        f'srcdoc="{html.escape(page, quote=True)}"></iframe>'
    )


def eval_tab(pipe: Pipeline) -> EvalTab:
    missing = harness_missing()
    if missing:
        gr.Markdown(MISSING.format(what=missing), elem_id="eval-missing")
        return EvalTab()
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            gr.Markdown("### Run a suite")
            suite = gr.Dropdown(
                suite_choices(pipe),
                label="Suite",
                info="Bundled suites, and those uploaded or generated here.",
                elem_id="eval-suite",
            )
            upload = gr.File(
                label="…or upload a suite (.jsonl, one case a line)",
                file_types=[".jsonl"],
                elem_id="eval-upload",
                height=150,
            )
            run = gr.Button("Run suite", variant="primary", elem_id="eval-run")
            gr.Markdown("### Generate a suite")
            articles = gr.Dropdown(
                [], multiselect=True, label="From these articles", elem_id="eval-articles"
            )
            n = gr.Slider(1, 30, value=6, step=1, label="Questions")
            generate = gr.Button("Generate suite", elem_id="eval-generate")
            generated = gr.Markdown("", elem_id="eval-generated")
        with gr.Column(scale=2):
            metrics = gr.Markdown(
                "_Pick or upload a suite and run it: the metrics and the full report appear here._",
                elem_id="eval-metrics",
                elem_classes=["eval-metrics"],
            )
            download = gr.File(label="Report (HTML)", visible=False, elem_id="eval-download")
            report = gr.HTML("", elem_id="eval-report", js_on_load=None)

    def uploaded(path: str | None) -> Any:
        if not path:
            return gr.skip()
        from rag.eval.suite import load_suite

        dest = eval_home(pipe) / "suites" / Path(path).name
        try:
            cases = load_suite(path)
        except NewsragError as e:
            raise gr.Error(str(e)) from e
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        gr.Info(f"{dest.name}: {len(cases)} cases")
        return gr.update(choices=suite_choices(pipe), value=str(dest))

    def run_it(
        path: str | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[str, Any, str]:
        from rag.eval.run import run_suite
        from rag.eval.suite import load_suite

        if not path:
            raise gr.Error("Pick a suite, upload one, or generate one first.")
        try:
            cases = load_suite(path)
        except NewsragError as e:
            raise gr.Error(str(e)) from e
        out = eval_home(pipe) / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{Path(path).stem}"
        progress((0, len(cases)), desc="Asking", unit="cases")

        def step(done: int, total: int) -> None:
            progress((done, total), desc=f"Asked {done} of {total}", unit="cases")

        try:
            summary = run_suite(pipe, cases, out, step, suite_path=str(path))
        except NewsragError as e:
            raise gr.Error(str(e)) from e
        page = out / "report.html"
        head = f"### {Path(path).name}\nRun saved in `{out}`.\n\n"
        return (
            head + metrics_markdown(summary),
            gr.update(value=str(page), visible=True),
            report_iframe(page) if page.exists() else "",
        )

    def make_suite(doc_ids: list[str] | None, count: float) -> tuple[str, Any]:
        from rag.eval.generate import generate_suite
        from rag.eval.suite import save_suite

        if not doc_ids:
            raise gr.Error("Pick the articles to write questions about.")
        docs = [pipe.document(d) for d in doc_ids]
        try:
            cases = generate_suite(pipe, docs, int(count), seed=0)
        except NotImplementedError as e:
            raise gr.Error(f"Question generation is not available yet ({e}).") from e
        except NewsragError as e:
            raise gr.Error(str(e)) from e
        if not cases:
            raise gr.Error("No question could be generated and verified from these articles.")
        path = eval_home(pipe) / "suites" / f"generated-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
        save_suite(cases, path)
        listed = "\n".join(
            f"- {'' if c.answerable else '(unanswerable) '}{html.escape(c.question)}" for c in cases
        )
        return (
            f"Saved **{path.name}** ({len(cases)} questions), selected above:\n{listed}",
            gr.update(choices=suite_choices(pipe), value=str(path)),
        )

    upload.upload(uploaded, upload, suite, api_name=False)
    run.click(
        run_it,
        suite,
        [metrics, download, report],
        concurrency_limit=1,
        concurrency_id="eval",
        api_name="eval_run",
    )
    generate.click(
        make_suite,
        [articles, n],
        [generated, suite],
        concurrency_limit=1,
        concurrency_id="eval",
        api_name="eval_generate",
    )
    return EvalTab(articles=[articles])
