"""The first chat page: builds offline, formats cited answers and highlighted quotes."""

from __future__ import annotations

from rag.ui.app import answer_markdown, build_app, sources_html

from rag.pipeline import Pipeline


def test_app_builds_and_answer_is_rendered_with_highlight(seed_pipe: Pipeline) -> None:
    app = build_app(seed_pipe)
    assert app is not None
    a = seed_pipe.ask("Who manufactures the Patriot missiles in Japan?")
    md = answer_markdown(a)
    assert "[1]" in md
    page = sources_html(seed_pipe, a)
    assert "<mark>" in page and "Mitsubishi Heavy Industries" in page


def test_refusal_is_explained(seed_pipe: Pipeline) -> None:
    a = seed_pipe.ask("What is the best recipe for banana bread?")
    assert "do not answer" in answer_markdown(a)
    assert "Refused" in sources_html(seed_pipe, a)
