"""The app in a real browser: Debian's chromium driven by Python playwright (never a downloaded
browser), against a server started here on 127.0.0.1 with the extractive backend.

Each test keeps a screenshot under test-artifacts/screenshots/, and every test fails if the
page sent a single request off the loopback address (analytics, fonts, CDN assets).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rag.embed import Embedder
from rag.llm.extractive import ExtractiveLLM
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip(
        "Debian chromium is not installed (make test installs it with apt-get when it can)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="python playwright is not installed (pip install -e .[dev])"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")
QUESTION = "Who manufactures the Patriot missiles in Japan?"
TIMEOUT = 60_000
HEADER_SAYS = "w => (document.querySelector('#header')?.innerText || '').includes(w)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(pipe: Pipeline) -> tuple[Any, str]:
    from rag.ui.app import build_app, launch_options

    app = build_app(pipe)
    opts = launch_options(pipe.settings.with_overrides(port=_free_port()))
    app.launch(prevent_thread_lock=True, quiet=True, **opts)
    return app, f"http://127.0.0.1:{opts['server_port']}/"


def seed_server(
    seed_index: Path, tmp: Path, embedder: Embedder, extra: tuple[Path, ...] = ()
) -> Iterator[str]:
    """The app over a copy of the seed index (plus `extra` files), extractive backend."""
    d = tmp / "index"
    shutil.copytree(seed_index, d)
    pipe = Pipeline(
        Settings(index_dir=d, llm_backend="extractive"), llm=ExtractiveLLM(), embedder=embedder
    )
    if extra:
        assert pipe.ingest(list(extra)).added
    app, url = start_server(pipe)
    yield url
    app.close()


@pytest.fixture(scope="module")
def server(
    seed_index: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[str]:
    yield from seed_server(seed_index, tmp_path_factory.mktemp("browser"), embedder)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any, server: str) -> Iterator[Any]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.on("request", lambda r: None if r.url.startswith(LOCAL) else outside.append(r.url))
    pg.set_default_timeout(TIMEOUT)
    pg.goto(server)
    pg.wait_for_selector("#question textarea")
    yield pg
    pg.close()
    assert outside == [], f"the page fetched from outside 127.0.0.1: {outside}"


def open_tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def pick(page: Any, elem_id: str, text: str) -> None:
    """Choose an option of a Gradio dropdown by (part of) its label."""
    page.click(f"#{elem_id} input")
    page.get_by_role("option", name=text).first.click()
    page.keyboard.press("Escape")


def test_chat_cited_answer_opens_highlighted_quote(page: Any) -> None:
    page.fill("#question textarea", QUESTION)
    page.keyboard.press("Enter")
    page.wait_for_selector("#sources .cite-card")
    link = page.locator('#chat a[href^="#cite:chat:"]').first
    assert link.inner_text().strip() == "[1]"
    link.click()
    mark = page.wait_for_selector("#chat-article mark.quote")
    assert "Mitsubishi Heavy Industries" in mark.inner_text()
    assert "Japan changes arms export rules" in page.inner_text("#chat-article h3")
    assert page.url.endswith("/")  # the citation link opened the viewer, not a new address
    assert "No filters" in page.inner_text("#filters-note")
    page.screenshot(path=str(SHOTS / "chat.png"))

    page.fill("#question textarea", "Who makes them?")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "(t => t.includes('Follow-up') && t.includes('No filters'))"
        "(document.querySelector('#filters-note').innerText)"
    )
    assert "Patriot" in page.inner_text("#filters-note")
    page.fill("#question textarea", "What is the best recipe for banana bread?")
    page.keyboard.press("Enter")
    page.wait_for_selector("#sources .refused")
    assert "do not answer" in page.inner_text("#chat")

    page.fill(
        "#question textarea", "What did Japan decide about Patriot missiles in December 2023?"
    )
    page.keyboard.press("Enter")
    page.wait_for_function(
        "document.querySelector('#filters-note').innerText.includes('inferred from the question')"
    )
    assert "2023-12-01 to 2023-12-31" in page.inner_text("#filters-note")
    page.screenshot(path=str(SHOTS / "chat-refusal-inferred-filter.png"))


def test_library_upload_good_and_bad_file(page: Any, tmp_path: Path) -> None:
    good = tmp_path / "iceland-volcano.txt"
    good.write_text(
        "Volcano erupts in Iceland\n\nA volcano on the Reykjanes peninsula erupted on Monday "
        "night, sending lava towards the fishing town of Grindavik, officials said. The town "
        "had been evacuated in November."
    )
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not really a pdf")
    open_tab(page, "Library")
    page.wait_for_selector("#library-table")
    page.set_input_files("#upload input[type=file]", [str(good), str(bad)])
    page.wait_for_function(
        "document.querySelector('#ingest-report').innerText.includes('could not be indexed')"
    )
    report = page.inner_text("#ingest-report")
    assert "Indexed 1 new article" in report and "malformed PDF" in report
    page.wait_for_function(
        "document.querySelector('#library-stats').innerText.includes('2 article(s)')"
    )
    assert "Volcano erupts in Iceland" in page.inner_text("#library-table")
    page.screenshot(path=str(SHOTS / "library.png"), full_page=True)


def test_summarise_one_article(page: Any) -> None:
    open_tab(page, "Summarise")
    pick(page, "sum-articles", "Japan changes arms export rules")
    page.click("#summarise")
    page.wait_for_selector('#summary a[href^="#cite:sum:"]')
    page.locator('#summary a[href^="#cite:sum:"]').first.click()
    page.wait_for_selector("#sum-article mark.quote")
    page.screenshot(path=str(SHOTS / "summarise.png"), full_page=True)


def test_eval_runs_a_tiny_suite(page: Any, tmp_path: Path) -> None:
    open_tab(page, "Eval")
    if page.locator("#eval-missing").count():
        page.screenshot(path=str(SHOTS / "eval.png"))
        pytest.skip("the eval harness (rag.eval) is not installed")
    suite = tmp_path / "tiny.jsonl"
    cases = [
        {
            "id": "maker",
            "question": QUESTION,
            "answerable": True,
            "reference_answer": "Mitsubishi Heavy Industries",
            "evidence": [{"quote": "manufactured by Mitsubishi Heavy Industries"}],
        },
        {
            "id": "bread",
            "question": "What is the best recipe for banana bread?",
            "answerable": False,
        },
    ]
    suite.write_text("".join(json.dumps(c) + "\n" for c in cases))
    page.set_input_files("#eval-upload input[type=file]", str(suite))
    page.wait_for_function(
        "document.querySelector('#eval-suite input').value.includes('tiny.jsonl')"
    )
    page.click("#eval-run")
    page.wait_for_selector("#eval-metrics table")
    text = page.inner_text("#eval-metrics")
    assert "faithfulness" in text and "2 cases" in text
    page.wait_for_selector("#eval-report iframe")
    page.screenshot(path=str(SHOTS / "eval.png"), full_page=True)

    pick(page, "eval-articles", "Japan changes arms export rules")
    page.click("#eval-generate")
    page.wait_for_function("document.querySelector('#eval-generated').innerText.includes('Saved')")
    assert "generated-" in page.input_value("#eval-suite input")
    page.screenshot(path=str(SHOTS / "eval-generated.png"), full_page=True)


def test_start_up_digest_and_guessed_title(
    browser: Any, tmp_path: Path, embedder: Embedder
) -> None:
    """A fresh server: "model loading" until warm, then "ready" and the Summarise tab opens on
    the digest; a bare .txt article is cited under the title read from its text."""
    import threading

    from tests.conftest import need_data

    folder = tmp_path / "articles"
    folder.mkdir()
    seed = need_data("seed/000_dba7927240a092be.txt")
    copy = folder / seed.name
    copy.write_bytes(seed.read_bytes())  # no sidecar: title and date guessed (the file's day)
    os.utime(copy, (datetime(2023, 12, 22, 9).timestamp(),) * 2)
    (folder / "iceland.txt").write_text(
        "Volcano erupts near Grindavik in Iceland\n\nA volcano on the Reykjanes peninsula "
        "erupted on Monday, January 15, 2024, sending lava towards the town of Grindavik."
    )
    pipe = Pipeline(
        Settings(index_dir=tmp_path / "index", llm_backend="extractive"),
        llm=ExtractiveLLM(),
        embedder=embedder,
    )
    assert len(pipe.ingest([folder]).added) == 2
    app, url = start_server(pipe)
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    outside: list[str] = []
    pg.on("request", lambda r: None if r.url.startswith(LOCAL) else outside.append(r.url))
    pg.set_default_timeout(TIMEOUT)
    try:
        pg.goto(url)
        pg.wait_for_function(HEADER_SAYS, arg="model loading")
        assert "model loading" in pg.inner_text("#header")
        threading.Thread(target=lambda: (pipe.warm(), pipe.summarize()), daemon=True).start()
        pg.wait_for_function(HEADER_SAYS, arg="model ready")
        open_tab(pg, "Summarise")
        pg.wait_for_function(
            "document.querySelector('#summary').innerText.includes('Digest of the 2 newest')"
        )
        text = pg.inner_text("#summary")
        assert text.index("Volcano erupts near Grindavik") < text.index("Japan allowed")  # newest
        assert "Japan allowed the shipment of Patriot air defense missiles" in text
        pg.wait_for_selector('#summary a[href^="#cite:sum:"]')
        pg.screenshot(path=str(SHOTS / "summarise-digest.png"), full_page=True)

        open_tab(pg, "Chat")
        pg.fill("#question textarea", QUESTION)
        pg.keyboard.press("Enter")
        pg.wait_for_selector("#sources .cite-card")
        card = pg.inner_text("#sources .cite-card")
        assert "Japan allowed the shipment of Patriot air defense missiles to the US" in card
        assert "title and date guessed from the text" in card
        pg.screenshot(path=str(SHOTS / "sources-guessed-title.png"))
    finally:
        pg.close()
        app.close()
    assert outside == [], f"the page fetched from outside 127.0.0.1: {outside}"


@pytest.mark.slow
def test_real_llm_streams_a_cited_answer(
    browser: Any, seed_index: Path, tmp_path: Path, embedder: Embedder
) -> None:
    """One question with the packaged local LLM: streamed words first, then the cited answer."""
    from rag.models import llm_path

    settings = Settings(index_dir=tmp_path / "index", llm_backend="local")
    if not llm_path(settings.llm_model, settings.cache_dir).exists():
        pytest.skip("the packaged LLM is not assembled (make setup)")
    shutil.copytree(seed_index, tmp_path / "index")
    app, url = start_server(Pipeline(settings, embedder=embedder))
    try:
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(120_000)
        pg.goto(url)
        pg.fill("#question textarea", QUESTION)
        pg.keyboard.press("Enter")
        pg.wait_for_function("document.querySelector('#chat').innerText.includes('▌')")
        pg.wait_for_selector("#sources .cite-card")
        assert "Mitsubishi" in pg.inner_text("#chat")
        pg.screenshot(path=str(SHOTS / "chat-local-llm.png"))
        pg.close()
    finally:
        app.close()


@pytest.fixture(scope="module")
def hostile_server(
    seed_index: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[str]:
    hostile = PROJECT_ROOT / "tests" / "data" / "hostile" / "script-payloads.html"
    tmp = tmp_path_factory.mktemp("browser-hostile")
    yield from seed_server(seed_index, tmp, embedder, (hostile,))


def test_script_in_an_article_is_shown_not_run(browser: Any, hostile_server: str) -> None:
    """Article text with <script> and onerror= payloads, in the chat, the sources and the
    article viewer: shown as text; no dialog, no marker set, no request off 127.0.0.1."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    dialogs: list[str] = []
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.on("request", lambda r: None if r.url.startswith(LOCAL) else outside.append(r.url))
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.set_default_timeout(TIMEOUT)
    pg.goto(hostile_server)
    pg.wait_for_selector("#question textarea")
    pg.fill("#question textarea", "What did comments under the debate report say?")
    pg.keyboard.press("Enter")
    pg.wait_for_selector("#sources .cite-card")
    sources = pg.inner_text("#sources")
    assert "<script>" in sources or "onerror=" in sources, sources  # shown as text
    pg.locator('#chat a[href^="#cite:chat:"]').first.click()
    pg.wait_for_selector("#chat-article mark.quote")
    assert "<script>" in pg.inner_text("#chat-article")
    pg.wait_for_timeout(1000)  # an onerror handler would have fired by now
    pg.screenshot(path=str(SHOTS / "hostile-script-shown.png"))
    marker = pg.evaluate("() => window.__hostile || null")
    scripts = pg.evaluate(
        "() => [...document.querySelectorAll('#chat script, #sources script, "
        "#chat-article script, #chat img, #sources img, #chat-article img')].length"
    )
    chat = pg.inner_text("#chat")
    pg.close()
    assert marker is None and dialogs == [] and scripts == 0  # no element made of article text
    assert "onerror=" in chat or "<script>" in chat, chat  # the chat shows it as text too
    assert outside == [], f"the page fetched from outside 127.0.0.1: {outside}"
