"""The Eval tab (placeholder until the eval harness lands)."""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from rag.pipeline import Pipeline


@dataclass
class EvalTab:
    articles: list[gr.Dropdown] = field(default_factory=list)


def eval_tab(pipe: Pipeline) -> EvalTab:
    gr.Markdown("The eval harness is not installed.")
    return EvalTab()
