"""Planted errors: `eval check` flags every planted error and accepts every true sentence.

True sentences of the seed article and of RealTimeQA news articles (read by path), and copies
with one error each: a changed number or date, a swapped name or place, a flipped negation, a
reversed relation, an outside claim (rag.eval.planted makes them by rule).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from rag.cli import main
from rag.embed import Embedder
from rag.eval.planted import KINDS, Planted, planted_set
from rag.ground import SupportChecker, check_text
from rag.load import load_file
from rag.settings import Settings
from rag.types import Document
from tests.conftest import SEED, need_data

N_NEWS = 12  # RealTimeQA gold articles used (the first ones, in file order)


def _misses(items: list[Planted], docs: dict[str, Document], checker: SupportChecker) -> list:
    wrong = []
    for p in items:
        verdicts = check_text(p.text, [docs[p.doc_id]], checker)
        accepted = bool(verdicts) and all(v.supported for v in verdicts)
        if accepted != (p.kind == "true"):
            wrong.append((p.kind, p.text, [v.reason for v in verdicts]))
    return wrong


def test_seed_article_planted_errors(embedder: Embedder) -> None:
    docs = {d.id: d for d in load_file(SEED)}
    items = [p for d in docs.values() for p in planted_set(d)]
    kinds = Counter(p.kind for p in items)
    assert kinds["true"] >= 5 and all(kinds[k] >= 1 for k in KINDS), kinds
    checker = SupportChecker(embedder, threshold=Settings().support_threshold)
    assert _misses(items, docs, checker) == []


def test_news_articles_planted_errors(embedder: Embedder) -> None:
    gold = load_file(need_data("realtimeqa_news/articles_gold.jsonl"))[:N_NEWS]
    docs = {d.id: d for d in gold}
    items = [p for d in gold for p in planted_set(d)]
    kinds = Counter(p.kind for p in items)
    assert kinds["true"] >= 50 and all(kinds[k] >= 10 for k in KINDS), kinds
    checker = SupportChecker(embedder, threshold=Settings().support_threshold)
    misses = _misses(items, docs, checker)
    assert misses == [], f"{len(misses)} of {len(items)} misjudged: {misses[:5]}"


def test_eval_check_cli_flags_planted(capsys: pytest.CaptureFixture[str]) -> None:
    """The same through the CLI users run: one text of true and planted sentences."""
    doc = load_file(SEED)[0]
    items = [p for p in planted_set(doc) if p.kind in ("true", "number", "negation", "outside")]
    text = " ".join(p.text for p in items)
    assert main(["eval", "check", "--articles", str(SEED), "--text", text, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    judged = {s["text"]: s["supported"] for s in out["sentences"]}
    for p in items:
        assert judged.get(p.text) == (p.kind == "true"), (p.kind, p.text)
