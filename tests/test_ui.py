"""The app without a browser: rendering, the chat handler's stream, uploads, eval tab parts."""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path
from typing import Any

import gradio as gr

from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.ui.app import build_app, header_markdown, launch_options
from rag.ui.evaluation import harness_missing, metrics_markdown
from rag.ui.library import ingest_uploads, rows, stats_markdown
from rag.ui.render import (
    answer_markdown,
    article_html,
    filters_note,
    parse_ref,
    sources_html,
)
from rag.ui.summarise import digest_view

QUESTION = "Who manufactures the Patriot missiles in Japan?"


def _fn(app: gr.Blocks, api_name: str) -> Any:
    return next(f.fn for f in app.fns.values() if f.api_name == api_name)


def test_answer_is_cited_and_citations_open_the_article(seed_pipe: Pipeline) -> None:
    a = seed_pipe.ask(QUESTION)
    md = answer_markdown(a)
    links = re.findall(r"\[\[(\d+)\]\]\(#(cite:chat:[^)]+)\)", md)
    assert links and links[0][0] == "1"
    scope, doc_id, start, end = parse_ref(links[0][1]) or ("", "", 0, 0)
    doc = seed_pipe.document(doc_id)
    assert scope == "chat" and doc.text[start:end] == a.citations[0].quote
    page = article_html(doc, start, end)
    assert f'<mark class="quote">{html.escape(a.citations[0].quote)}</mark>' in page
    assert html.escape(doc.title) in page
    panel = sources_html(a, seed_pipe.index.documents)
    assert "Mitsubishi Heavy Industries" in panel and f'data-cite="{links[0][1]}"' in panel


def test_refusal_is_explained(seed_pipe: Pipeline) -> None:
    a = seed_pipe.ask("What is the best recipe for banana bread?")
    assert "do not answer" in answer_markdown(a)
    assert "Refused" in sources_html(a, seed_pipe.index.documents)


def test_unsupported_sentences_are_flagged() -> None:
    from rag.types import Answer, Sentence

    a = Answer("q", "x", (Sentence("The moon is cheese.", False, 0.1, (), "no source"),), False)
    md = answer_markdown(a)
    assert "⚠" in md and "~~The moon is cheese.~~" in md and "no source" in md


def test_parse_ref_rejects_garbage() -> None:
    assert parse_ref("cite:chat:abc:1:x") is None
    assert parse_ref("http://example.org") is None


def test_chat_streams_then_grounds_and_follow_up_is_rewritten(seed_pipe: Pipeline) -> None:
    app = build_app(seed_pipe)
    respond = _fn(app, "chat")
    steps = [copy.deepcopy(s) for s in respond(QUESTION, [], [], [], [], "", "", [])]
    history, _, panel, note, asked, last = steps[-1]
    assert len(steps) > 2  # a status, streamed deltas, then the grounded answer
    assert "▌" in steps[2][0][-1]["content"]
    assert history[-1]["role"] == "assistant" and "#cite:chat:" in history[-1]["content"]
    assert "cite-card" in panel and "No filters" in note and asked == [QUESTION]
    steps = list(respond("Who makes them?", history, asked, last, [], "", "", []))
    note = steps[-1][3]
    assert "Follow-up" in note and "Patriot" in note
    assert steps[-1][4][-1].startswith("Who makes them? (context:")


def test_follow_up_keeps_the_filters_the_earlier_words_set(seed_pipe: Pipeline) -> None:
    respond = _fn(build_app(seed_pipe), "chat")
    first = list(respond("What did Japan decide in December 2023?", [], [], [], [], "", "", []))
    _, _, _, note, asked, last = first[-1]
    assert "dates: in December 2023" in note
    then = list(respond("Who makes them?", first[-1][0], asked, last, [], "", "", []))
    note = then[-1][3]
    assert "from the earlier question" in note and "2023-12-01 to 2023-12-31" in note
    # a question that stands alone starts afresh
    fresh = list(respond("Is Japan sending Patriot missiles?", [], asked, last, [], "", "", []))
    assert "earlier question" not in fresh[-1][3]


def test_a_question_waiting_for_the_model_says_how_many_are_ahead(seed_pipe: Pipeline) -> None:
    import threading

    seed_pipe.llm.questions_at_once = 1  # type: ignore[attr-defined]  # as the local model
    respond = _fn(build_app(seed_pipe), "chat")
    holding, done = threading.Event(), threading.Event()

    def other_user() -> None:
        with seed_pipe._turns.take():
            holding.set()
            done.wait(30)

    t = threading.Thread(target=other_user)
    t.start()
    assert holding.wait(10)
    steps = respond(QUESTION, [], [], [], [], "", "", [])
    first = copy.deepcopy(next(steps))
    assert "1 question(s) from other users are ahead of yours" in first[0][-1]["content"]
    done.set()
    t.join(10)
    final = list(steps)[-1]
    assert "#cite:chat:" in final[0][-1]["content"] and seed_pipe.questions_ahead() == 0


def test_chat_filters_are_applied_and_shown(seed_pipe: Pipeline) -> None:
    respond = _fn(build_app(seed_pipe), "chat")
    steps = list(respond(QUESTION, [], [], [], [], "2020-01-01", "2020-12-31", []))
    history, _, _, note, _, _ = steps[-1]
    assert "dates 2020-01-01 to 2020-12-31" in note
    assert "do not answer" in history[-1]["content"]  # no article in that range


def test_filters_note_shows_inferred_filters(seed_pipe: Pipeline) -> None:
    q = seed_pipe.query("What did Japan decide in December 2023?")
    note = filters_note(q)
    assert "inferred from the question" in note and "2023-12-01" in note


def test_bad_date_is_an_error_not_a_crash(seed_pipe: Pipeline) -> None:
    respond = _fn(build_app(seed_pipe), "chat")
    try:
        list(respond(QUESTION, [], [], [], [], "last year", "", []))
    except gr.Error as e:
        assert "date like" in str(e)
    else:
        raise AssertionError("a malformed date must be refused")


def test_uploads_index_good_files_and_name_bad_ones(seed_pipe: Pipeline, tmp_path: Path) -> None:
    good = tmp_path / "volcano.txt"
    good.write_text(
        "Volcano erupts in Iceland\n\nA volcano on the Reykjanes peninsula erupted on Monday, "
        "sending lava towards the town of Grindavik, officials said."
    )
    meta = tmp_path / "volcano.txt.meta.json"
    meta.write_text('{"title": "Volcano erupts in Iceland", "source": "Test Wire"}')
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not really a pdf")
    steps: list[str] = []
    report, errors = ingest_uploads(
        seed_pipe, [str(good), str(meta), str(bad)], lambda f, d: steps.append(d)
    )
    assert len(report.added) == 1 and [e.path for e in errors] == ["broken.pdf"]
    assert "PDF" in errors[0].problem
    assert any("Reading volcano.txt" in s for s in steps)
    titles = [r[0] for r in rows(seed_pipe)]
    assert "Volcano erupts in Iceland" in titles
    assert "Test Wire" in [r[1] for r in rows(seed_pipe)]
    assert "**2 article(s)**" in stats_markdown(seed_pipe)


def test_app_is_offline_and_loopback(seed_pipe: Pipeline) -> None:
    import os

    opts = launch_options(Settings(index_dir=seed_pipe.settings.index_dir))
    assert opts["server_name"] == "127.0.0.1"
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    theme_css = str(opts["theme"]._get_theme_css())
    assert "fonts.googleapis" not in theme_css and "@import" not in opts["css"]
    assert "1 article(s) indexed" in header_markdown(seed_pipe)


def test_tabs_are_labelled(seed_pipe: Pipeline) -> None:
    app = build_app(seed_pipe)
    labels = [b.label for b in app.blocks.values() if isinstance(b, gr.Tab)]
    assert labels == ["Chat", "Summarise", "Library", "Eval"]


def test_eval_metrics_table() -> None:
    summary = {
        "faithfulness": 0.9,
        "refusal_accuracy": None,
        "counts": {
            "cases": 2,
            "answerable": 1,
            "unanswerable": 1,
            "refused": 1,
            "metric_cases": {"faithfulness": 1},
        },
        "timings": {"total_seconds": 1.5, "ask_ms_p50": 1200.0},
    }
    md = metrics_markdown(summary)
    assert "| faithfulness | 0.900 | 1 |" in md and "| refusal_accuracy | n/a |" in md
    assert "**2 cases**" in md


def test_harness_presence_is_detected() -> None:
    assert harness_missing() in (
        "",
        "rag.eval.suite",
        "rag.eval.run",
        "rag.eval.report",
        "rag.eval.generate",
    )


def test_delete_removes_articles_and_says_which(seed_pipe: Pipeline) -> None:
    app = build_app(seed_pipe)
    doc_id = next(iter(seed_pipe.index.documents))
    title = seed_pipe.index.documents[doc_id].title
    assert [d["id"] for d in _fn(app, "documents")()] == [doc_id]
    assert _fn(app, "delete")([]) == "Pick the articles to delete first."
    said = _fn(app, "delete")([doc_id, "0123abcd"])
    assert title in said and said.endswith("Not in the library: 0123abcd.")
    assert _fn(app, "delete")([doc_id]) == "Not in the library: " + doc_id + "."
    assert not seed_pipe.index.documents
    assert "library is empty" in stats_markdown(seed_pipe)


def test_summarise_handler_cites(seed_pipe: Pipeline) -> None:
    summarise = _fn(build_app(seed_pipe), "summarise")
    doc_id = next(iter(seed_pipe.index.documents))
    md, cards, _ = summarise([doc_id], "", progress=lambda *a, **k: None)
    assert "#cite:sum:" in md and "supported by the articles" in md and "cite-card" in cards
    # nothing chosen: the digest of the newest articles, by topic; the page's poll shows it
    assert digest_view(seed_pipe) is None
    md, cards, _ = summarise([], "  ", progress=lambda *a, **k: None)
    assert md.startswith("**Digest of the 1 newest articles, by topic**") and "cite-card" in cards
    assert "#### Japan" in md and "#cite:sum:" in md
    assert digest_view(seed_pipe) == (md, cards)


def test_load_script_refuses_other_hosts_and_measures(seed_pipe: Pipeline) -> None:
    import socket

    from rag.ui import load

    assert load.loopback("http://127.0.0.1:7860") and load.loopback("http://localhost:1")
    assert not load.loopback("http://10.0.0.1:7860") and not load.loopback("http://example.org")
    assert load.main(["--url", "http://192.168.1.2:7860"]) == 2
    assert load.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = build_app(seed_pipe)
    app.launch(
        prevent_thread_lock=True,
        quiet=True,
        **launch_options(seed_pipe.settings.with_overrides(port=port)),
    )
    try:
        rep = load.run(f"http://127.0.0.1:{port}", users=4, requests=1, timeout=120)
    finally:
        app.close()
    assert rep.requests == 4 and rep.errors == 0 and rep.ok == 4, rep.error_samples
    assert 0 < rep.p50_s <= rep.p95_s <= rep.max_s


def test_eval_generate_then_run(seed_pipe: Pipeline) -> None:
    if harness_missing():
        import pytest

        pytest.skip(f"eval harness incomplete: {harness_missing()}")
    app = build_app(seed_pipe)
    doc_id = next(iter(seed_pipe.index.documents))
    text, update = _fn(app, "eval_generate")([doc_id], 3)
    assert "Saved" in text and update["value"].endswith(".jsonl")
    md, download, frame = _fn(app, "eval_run")(update["value"], progress=lambda *a, **k: None)
    assert "| faithfulness |" in md and "<iframe" in frame and download["visible"]
