"""End to end with the real packaged LLM (llama.cpp) and embedder on the seed article. Slow."""

from __future__ import annotations

import pytest

from rag.answerable import checked_logodds
from rag.pipeline import Pipeline

pytestmark = pytest.mark.slow


def test_fact_question_answered_with_quote_containing_fact(real: Pipeline) -> None:
    a = real.ask("How much aid did the US Congress fail to approve for Ukraine?")
    assert not a.refused, a
    assert any(s.supported for s in a.sentences)
    assert any("$60 billion" in c.quote for c in a.citations)
    for c in a.citations:
        assert real.index.documents[c.doc_id].text[c.start : c.end] == c.quote


def test_unanswerable_question_refused(real: Pipeline) -> None:
    a = real.ask("What is the population of Tokyo?")
    assert a.refused and a.refusal_reason
    assert not any(s.supported for s in a.sentences)


def test_summary_sentences_cited(real: Pipeline) -> None:
    doc_id = next(iter(real.index.documents))
    s = real.summarize([doc_id])
    assert len(s.sentences) >= 2
    cited = [x for x in s.sentences if x.supported and x.citations]
    assert len(cited) >= 0.75 * len(s.sentences), s.to_dict()


def test_answerability_gate_reads_the_passages(real: Pipeline) -> None:
    """The real model, asked whether the passages hold the answer: yes for what the article
    says, no for an on-topic question whose answer it lacks (refused before any draft)."""
    s = real.settings
    known = real.answerability("Who manufactures Patriot missiles in Japan?")
    assert known is not None and known >= s.answerable_min
    q = "What is the price of the Patriot missiles Japan will ship to the US?"
    lacking = real.answerability(q)
    assert lacking is not None and lacking < s.answerable_min
    a = real.ask(q)
    assert a.refused and "do not contain the answer" in a.refusal_reason and not a.draft


def test_answer_check_confirms_a_right_answer_not_a_wrong_one(real: Pipeline) -> None:
    """After drafting, the model is asked again with the answer: the article's answer clears
    the bar (it is answered, not refused), a swapped maker scores lower."""
    q = "Who manufactures Patriot missiles in Japan?"
    hits = real.retrieve(q)
    titles = {h.chunk.doc_id: real.index.documents[h.chunk.doc_id].title for h in hits}
    right = checked_logodds(real.llm, q, "Mitsubishi Heavy Industries makes them.", hits, titles)
    wrong = checked_logodds(real.llm, q, "Boeing makes them.", hits, titles)
    assert right is not None and wrong is not None
    assert sum(right) >= real.settings.answer_check_min and sum(wrong) < sum(right)
    # the passages and the question are the same: only the verdict on the answer differs
    assert abs(right[0] - wrong[0]) < 0.3 and wrong[1] < right[1]
    a = real.ask(q)
    assert not a.refused and a.timings["answer_check_logodds"] >= real.settings.answer_check_min
