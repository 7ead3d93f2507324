"""Follow-ups become standalone questions; questions that stand alone are left untouched."""

from __future__ import annotations

import pytest

from rag.conversation import is_follow_up, key_terms, standalone

FIRST = "Who manufactures the Patriot missiles in Japan?"


@pytest.mark.parametrize(
    "question",
    [
        "Who makes them?",
        "When did it start?",
        "Why did they do that?",
        "What does that mean?",
        "What about the UK?",
        "And Germany?",
        "Why?",
        "How many?",
    ],
)
def test_follow_ups_carry_the_previous_topic(question: str) -> None:
    r = standalone(question, [FIRST])
    assert r.follow_up
    assert r.text.startswith(question)
    assert "Patriot" in r.carried and "Japan" in r.carried
    assert "Patriot" in r.text and "Japan" in r.text


@pytest.mark.parametrize(
    "question",
    [
        "Did Japan change its rules?",
        "Is it true that Japan exports arms?",
        "What is the name of the law that banned exports?",
        "Who is the prime minister of Japan?",
        "How much aid did Congress fail to approve?",
    ],
)
def test_standalone_questions_are_unchanged(question: str) -> None:
    assert not is_follow_up(question)
    r = standalone(question, [FIRST])
    assert r.text == question and not r.follow_up and r.carried == ()


def test_no_history_means_no_rewrite() -> None:
    assert standalone("Who makes them?", []).text == "Who makes them?"


def test_terms_already_asked_are_not_repeated() -> None:
    r = standalone("And who makes them in Japan?", [FIRST])
    assert "Japan" not in r.carried and "Patriot" in r.carried


def test_chain_of_follow_ups_keeps_the_topic() -> None:
    second = standalone("When did it start?", [FIRST]).text
    third = standalone("Why?", [FIRST, second])
    assert third.follow_up and {"Patriot", "Japan"} <= set(third.carried)


def test_key_terms_keep_multiword_names_and_figures() -> None:
    terms = key_terms("How much aid did the U.S. Congress fail to approve in 2023 for Ukraine?")
    assert terms[:3] == ["U.S. Congress", "Ukraine", "2023"]
    assert key_terms("Did Mitsubishi Heavy Industries sign it?")[0] == "Mitsubishi Heavy Industries"
