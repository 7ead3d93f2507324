"""The product path with the real embedder, FAISS and BM25; the extractive LLM stands in for
generation so these run in seconds (the real LLM runs in test_e2e.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.cli import main
from rag.pipeline import Pipeline
from rag.types import Answer
from tests.conftest import SEED


class _Says:
    """An LLM that drafts one fixed reply (the grounding under test reads it as it would the
    real model's); no token probabilities, so the gate and the answer check are skipped."""

    name = "fixed"

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def stream(self, messages, max_tokens):
        yield self.reply

    def complete(self, messages, max_tokens) -> str:
        return self.reply


def test_ask_cites_retrieved_quotes(seed_pipe: Pipeline) -> None:
    a = seed_pipe.ask("Who manufactures the Patriot missiles in Japan?")
    assert not a.refused
    assert any("Mitsubishi" in c.quote for c in a.citations)
    retrieved = {h.chunk.id for h in a.retrieved}
    for c in a.citations:
        doc = seed_pipe.index.documents[c.doc_id]
        assert doc.text[c.start : c.end] == c.quote
        assert c.chunk_id in retrieved
        chunk = seed_pipe.index.chunks[c.chunk_id]
        assert chunk.start <= c.start and c.end <= chunk.end


def test_unrelated_question_refused_before_llm(seed_pipe: Pipeline) -> None:
    a = seed_pipe.ask("What is the best recipe for banana bread?")
    assert a.refused and a.refusal_reason and not a.citations
    assert "generate_ms" not in a.timings  # decided from retrieval, the LLM never ran


def test_question_about_absent_entity_refused(seed_pipe: Pipeline) -> None:
    a = seed_pipe.ask("What did South Korea say about Japan's missile exports?")
    assert a.refused and "south" in a.refusal_reason.lower()


def test_answer_the_model_does_not_confirm_is_refused(
    seed_pipe: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer check's verdict decides, after every other check passed (the extractive
    stand-in gives no token probabilities, so the check is simulated here; test_e2e.py runs it
    with the real model)."""
    q = "Who manufactures the Patriot missiles in Japan?"
    seen: list[str] = []

    def check(llm, question, answer, hits, titles, chunks):
        seen.append(answer)
        return 0.25, 0.75

    monkeypatch.setattr("rag.pipeline.checked_logodds", check)
    a = seed_pipe.ask(q)
    assert a.refused and "does not confirm" in a.refusal_reason and "1.0" in a.refusal_reason
    assert seen and "Mitsubishi" in seen[0]  # the supported answer is what the model is shown
    monkeypatch.setattr("rag.pipeline.checked_logodds", lambda *args: (4.0, 5.0))
    b = seed_pipe.ask(q)
    assert not b.refused and b.timings["answer_check_logodds"] == 9.0
    assert (b.timings["answer_check_gate"], b.timings["answer_check_correct"]) == (4.0, 5.0)
    off = Pipeline(seed_pipe.settings.with_overrides(answer_check=False))
    monkeypatch.setattr("rag.pipeline.checked_logodds", check)
    assert not off.ask(q).refused


def test_stream_yields_text_then_answer(seed_pipe: Pipeline) -> None:
    events = list(seed_pipe.stream("What is Japan considering exporting to the UK?"))
    assert isinstance(events[-1], Answer)
    assert all(isinstance(e, str) for e in events[:-1]) and len(events) > 1
    assert "155mm" in events[-1].text


def test_filters_apply_inside_retrieval(seed_pipe: Pipeline, tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text("Japan's Patriot missile factory expanded in 2021, the ministry said.")
    other.with_name("other.txt.meta.json").write_text(
        json.dumps({"title": "Factory", "source": "Wire", "published_at": "2021-05-01"})
    )
    seed_pipe.ingest([other])
    q = "Patriot missiles Japan"
    assert {h.chunk.doc_id for h in seed_pipe.retrieve(q)} == set(seed_pipe.index.documents)
    only = seed_pipe.retrieve(q, {"sources": ["Wire"]})
    assert only and {seed_pipe.index.documents[h.chunk.doc_id].source for h in only} == {"Wire"}
    dated = seed_pipe.retrieve(q, {"date_from": "2023-01-01"})
    assert dated and all(
        seed_pipe.index.documents[h.chunk.doc_id].published_at >= "2023-01-01" for h in dated
    )
    assert seed_pipe.ask(q, {"sources": ["Nobody"]}).refusal_reason.startswith("No indexed")


def test_summary_sentences_are_cited(seed_pipe: Pipeline) -> None:
    doc_id = next(iter(seed_pipe.index.documents))
    s = seed_pipe.summarize([doc_id])
    assert s.sentences and all(x.supported and x.citations for x in s.sentences)
    by_query = seed_pipe.summarize(query="Japan arms export rules")
    assert by_query.doc_ids == (doc_id,)


def test_cli_ask_json_shape(seed_pipe: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    index = str(seed_pipe.settings.index_dir)
    code = main(
        [
            "ask",
            "--index",
            index,
            "--llm-backend",
            "extractive",
            "--json",
            "How much aid did Congress fail to approve for Ukraine?",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {
        "question",
        "answer",
        "refused",
        "refusal_reason",
        "sentences",
        "citations",
        "retrieved",
        "timings",
    }
    assert set(out["timings"]) >= {"retrieve_ms", "first_token_ms", "total_ms"}
    assert set(out["retrieved"][0]) == {"chunk_id", "doc_id", "title", "score"}
    cite = out["citations"][0]
    assert set(cite) == {
        "doc_id",
        "chunk_id",
        "title",
        "source",
        "published_at",
        "quote",
        "start",
        "end",
        "support",
    }
    text = SEED.read_text()
    assert cite["quote"] in text and "$60 billion" in " ".join(c["quote"] for c in out["citations"])
    assert out["sentences"][0]["citations"]


def test_cli_bad_file_exit_code_and_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text("{nope")
    code = main(["ingest", "--quiet", "--index", str(tmp_path / "i"), str(bad), str(SEED)])
    err = capsys.readouterr().err
    assert code != 0 and str(bad) in err and "malformed JSON" in err
    code = main(["documents", "--index", str(tmp_path / "i"), "--json"])
    docs = json.loads(capsys.readouterr().out)
    assert code == 0 and len(docs) == 1


def test_cli_delete_unknown_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["delete", "--index", str(tmp_path / "i"), "nope"]) != 0
    assert "nope" in capsys.readouterr().err


def test_supported_but_off_topic_answer_refused(seed_pipe: Pipeline, tmp_path: Path) -> None:
    other = tmp_path / "russia.txt"
    other.write_text(
        "Russia's population shrank by 86,000 people per month this year, Rosstat said. "
        "Tokyo is mentioned here only once."
    )
    seed_pipe.ingest([other])

    seed_pipe._llm = _Says("Russia's population shrank by 86,000 people per month this year. [1]")
    a = seed_pipe.ask("What is the population of Japan's Patriot missile makers?")
    assert a.sentences and a.sentences[0].supported
    assert a.refused and "not about" in a.refusal_reason


def test_answer_that_only_points_at_evidence_says_what_it_points_at(seed_pipe: Pipeline) -> None:
    """The small model sometimes answers "Passage [2]": the answer is then evidence [2] itself,
    quoted and cited, instead of an unsupported one-word claim that refuses the question."""
    seen: list[str] = []

    class Pointer:
        name = "pointer"

        def stream(self, messages, max_tokens):
            seen.append(str(messages[-1].content))
            yield "Passage [2]"

        def complete(self, messages, max_tokens):
            return "".join(self.stream(messages, max_tokens))

    seed_pipe._llm = Pointer()
    a = seed_pipe.ask("Who manufactures Patriot missiles in Japan?")
    assert not a.refused, a.refusal_reason
    (sentence,) = a.sentences
    assert sentence.supported and sentence.citations[0].quote == sentence.text
    second = next(line for line in seen[0].splitlines() if line.startswith("[2]"))
    assert sentence.text in second


def test_date_phrase_that_became_a_filter_is_not_a_missing_term(seed_pipe: Pipeline) -> None:
    a = seed_pipe.ask("What did Japan decide about Patriot missiles in December 2023?")
    assert a.query is not None and a.query.filters.date_from == "2023-12-01"
    assert "december" not in a.query.core.lower()
    assert not a.refused, a.refusal_reason
    assert seed_pipe.ask("What did Japan decide about Patriot missiles in May 2021?").refused


def test_questions_answered_while_another_user_ingests(seed_pipe: Pipeline, tmp_path: Path) -> None:
    import threading

    files = []
    for i in range(6):
        f = tmp_path / f"n{i}.txt"
        f.write_text(
            f"Harbour {i} in Osaka reopened after storm repairs costing {i + 3} million yen."
        )
        files.append(f)
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            for f in files:
                seed_pipe.ingest([f])
        except BaseException as e:  # pragma: no cover - the assertion below reports it
            errors.append(e)

    t = threading.Thread(target=upload)
    t.start()
    answers = [seed_pipe.ask("Who manufactures the Patriot missiles in Japan?") for _ in range(4)]
    t.join()
    assert not errors
    assert all(not a.refused for a in answers)
    assert len(seed_pipe.documents()) == 7


def test_question_premise_contradicted_by_the_source_is_refused(pipe) -> None:
    from rag.load import make_document

    text = (
        "The immune system protects the body from pathogens. Innate immune defenses are "
        "non-specific, meaning these systems respond to pathogens in a generic way. Adaptive "
        "immunity recognises specific pathogens and remembers them."
    )
    pipe.ingest_documents([make_document(text, path="immune.txt", title="Immune system")])
    flipped = pipe.ask("Which innate defenses respond to pathogens in a specific way?")
    assert flipped.refused and "contradict" in flipped.refusal_reason, flipped
    kept = pipe.ask("Which defenses respond to pathogens in a generic way?")
    assert not kept.refused and "generic" in kept.text, kept


def test_partial_answer_says_which_part_is_not_covered(seed_pipe) -> None:
    a = seed_pipe.ask("Who manufactures the Patriot missiles in Japan and when will they ship?")
    assert not a.refused and "Mitsubishi" in a.text
    assert a.not_covered and a.not_covered[0].startswith("when will they ship")
    assert "The sources do not say: when will they ship" in a.text
    assert a.to_dict()["not_covered"] == list(a.not_covered)


def test_answerability_gate_refuses_before_drafting(seed_pipe: Pipeline, monkeypatch) -> None:
    """The LLM judge's verdict (its yes/no log-odds, stubbed here) decides before any draft."""
    import rag.pipeline as pl

    seen: list[tuple[str, str]] = []

    def gate(odds: float):
        def judge(llm, question, hits, titles, chunks, enough):
            seen.append((question, " ".join(h.chunk.text for h in hits[:chunks])))
            return odds

        return judge

    q = "Who manufactures the Patriot missiles in Japan?"
    seed_pipe.settings = seed_pipe.settings.with_overrides(answerable_judge="llm")
    monkeypatch.setattr(pl, "answerable_logodds", gate(0.4))
    low = seed_pipe.ask(q)
    assert low.refused and "do not contain the answer" in low.refusal_reason
    assert "0.4" in low.refusal_reason and "generate_ms" not in low.timings
    assert low.timings["answerable_logodds"] == 0.4
    # the gate reads the retrieved passages, the answering one among them
    assert seen[-1][0] == q and "Mitsubishi" in seen[-1][1]

    monkeypatch.setattr(pl, "answerable_logodds", gate(seed_pipe.settings.answerable_min + 0.1))
    assert not seed_pipe.ask(q).refused
    seed_pipe.settings = seed_pipe.settings.with_overrides(answerable_gate=False)
    monkeypatch.setattr(pl, "answerable_logodds", gate(-9.0))
    n = len(seen)
    assert not seed_pipe.ask(q).refused and len(seen) == n  # off: never asked


def test_answerability_gate_skipped_without_token_probabilities(seed_pipe: Pipeline) -> None:
    from rag.answerable import answerable_logodds

    hits = seed_pipe.retrieve("Who manufactures the Patriot missiles in Japan?")
    assert answerable_logodds(seed_pipe.llm, "Who?", hits, {}) is None  # the extractive backend
    seed_pipe.settings = seed_pipe.settings.with_overrides(answerable_judge="llm")
    a = seed_pipe.ask("Who manufactures the Patriot missiles in Japan?")
    assert not a.refused and "answerable_logodds" not in a.timings


def test_the_trained_answerability_model_gates_before_drafting(seed_pipe: Pipeline) -> None:
    """`answerable_judge="model"`: the shipped (passage, question) model, no LLM pass; below
    its card's threshold the question is refused before any draft, above it goes on. (Not the
    default: on the seed article it scores answerable questions 0.12-0.31 and unanswerable
    ones 0.15-0.35, so it does not separate news; README step 4.)"""
    seed_pipe.settings = seed_pipe.settings.with_overrides(answerable_judge="model")
    bar = seed_pipe.answerable_model.threshold
    a = seed_pipe.ask("Who manufactures the Patriot missiles in Japan?")
    assert not a.refused and a.timings["answerable_p"] >= bar
    b = seed_pipe.ask("What is the population of Japan's Patriot missile makers?")
    assert b.refused and "answerability model" in b.refusal_reason and not b.draft
    assert b.timings["answerable_p"] < bar and "answerable_logodds" not in b.timings


def test_a_name_given_in_part_may_be_written_in_full_from_its_articles_other_paragraph(
    settings, embedder
) -> None:
    """SQuAD-style: each paragraph is a document, all titled by their article. The quoted
    paragraph says "Kublai"; another retrieved paragraph of the same article says "Kublai Khan"."""
    from rag.load import make_document

    docs = [
        make_document(
            "The system of bureaucracy created by Kublai Khan reflected various cultures.",
            path="yuan.jsonl#1",
            title="Yuan_dynasty",
        ),
        make_document(
            "Kublai created the Imperial Academy of Medicine to manage medical treatises and the "
            "education of new doctors.",
            path="yuan.jsonl#2",
            title="Yuan_dynasty",
        ),
    ]
    q = "What did Kublai create to educate new doctors?"
    draft = "The Imperial Academy of Medicine was created by Kublai {} to educate new doctors [1]."
    full = Pipeline(settings, llm=_Says(draft.format("Khan")), embedder=embedder)
    full.ingest_documents(docs)
    a = full.ask(q)
    assert not a.refused and a.sentences[0].supported, a
    full._llm = _Says(draft.format("Smith"))
    b = full.ask(q)
    assert b.refused and "smith" in b.sentences[0].reason, b
