"""The hand-written planted set (tests/data/planted_by_hand.jsonl, README beside it).

A person wrote each claim from a real article: true sentences with exactly one fact changed
(implicative verbs, permissions, destinations and roles, scope, time) and true paraphrases.
Neither the checker's constraints nor the rule edits its training data was made with
(rag.train.perturb) produced any of them. The goal (issue 19) is every error flagged and 90% of
the paraphrases accepted; the shipped model does not reach it, so these tests hold the measured
floor of the shipped model (`newsrag bench checker` prints the same figures per category) and
fail when a change makes it worse.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.bench.checker import PLANTED, planted
from rag.cli import main
from rag.embed import Embedder
from rag.ground import SupportChecker
from rag.settings import Settings
from tests.conftest import SEED, need_data

# measured with rag/weights/support (v2): errors flagged, paraphrases accepted
FLOOR = {"seed": (18, 11), "news": (46, 24)}
ITEMS = [json.loads(x) for x in PLANTED.read_text(encoding="utf-8").splitlines() if x.strip()]


def _counts(result: dict, part: str) -> tuple[int, int, int, int]:
    missed = {m["claim"] for m in result["misses"]}
    mine = [i for i in ITEMS if (i["article"] == "seed") == (part == "seed")]
    errors = [i for i in mine if i["kind"] == "error"]
    paraphrases = [i for i in mine if i["kind"] == "paraphrase"]
    return (
        sum(i["claim"] not in missed for i in errors),
        len(errors),
        sum(i["claim"] not in missed for i in paraphrases),
        len(paraphrases),
    )


@pytest.fixture(scope="module")
def checker(embedder: Embedder) -> SupportChecker:
    return SupportChecker(embedder, threshold=Settings().support_threshold)


def test_the_set_is_what_its_readme_says() -> None:
    assert len(ITEMS) == 167
    assert sum(i["kind"] == "error" for i in ITEMS) == 108
    cats = {i["category"] for i in ITEMS if i["kind"] == "error"}
    assert cats == {"implicative", "permission", "destination_role", "scope", "time"}


def test_seed_article_planted_by_hand(checker: SupportChecker) -> None:
    # no data path: only the seed article's claims are checked
    flagged, errors, accepted, paraphrases = _counts(planted(checker, Path("/nonexistent")), "seed")
    assert (errors, paraphrases) == (30, 17)
    floor = FLOOR["seed"]
    assert flagged >= floor[0] and accepted >= floor[1], (flagged, accepted)


def test_news_articles_planted_by_hand(checker: SupportChecker) -> None:
    data = need_data("realtimeqa_news/articles_gold.jsonl").parent.parent
    flagged, errors, accepted, paraphrases = _counts(planted(checker, data), "news")
    assert (errors, paraphrases) == (78, 42)
    floor = FLOOR["news"]
    assert flagged >= floor[0] and accepted >= floor[1], (flagged, accepted)


def test_eval_check_cli_judges_as_the_library(
    checker: SupportChecker, capsys: pytest.CaptureFixture[str]
) -> None:
    """`eval check` is the same code: one call per claim, the same verdict as `planted`."""
    missed = {m["claim"] for m in planted(checker, Path("/nonexistent"))["misses"]}
    seed = [i for i in ITEMS if i["article"] == "seed"][::6]
    for it in seed:
        argv = ["eval", "check", "--articles", str(SEED), "--text", it["claim"], "--json"]
        assert main(argv) == 0
        out = json.loads(capsys.readouterr().out)
        accepted = all(s["supported"] for s in out["sentences"])
        assert accepted == ((it["kind"] == "paraphrase") == (it["claim"] not in missed)), it
