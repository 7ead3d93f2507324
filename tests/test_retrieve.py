"""Ranking logic on hand-made hits (article evidence, diversity, interleaving) and, with the
real embedder, recency and as-of filtering through a pipeline over dated articles."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.embed import Embedder
from rag.index import named_titles, title_key
from rag.llm.extractive import ExtractiveLLM
from rag.load import make_document
from rag.pipeline import Pipeline
from rag.retrieve import _interleave, article_evidence, diversify
from rag.settings import Settings
from rag.types import Chunk, Filters, Hit


def _hit(doc: str, n: int, score: float) -> Hit:
    chunk = Chunk(id=f"{doc}:{n}", doc_id=doc, text="x", start=0, end=1, sentences=(), position=n)
    return Hit(chunk, score)


def test_article_evidence_lifts_an_article_many_chunks_match() -> None:
    # one lucky chunk of article b, three good chunks of article a
    hits = [_hit("b", 0, 1.0), _hit("a", 0, 0.9), _hit("a", 1, 0.8), _hit("a", 2, 0.7)]
    ranked = article_evidence(hits, 0.1)
    assert ranked[0].chunk.id == "a:0"  # 0.9 + 0.1 * 1.5 = 1.05 > 1.0
    assert [h.chunk.id for h in ranked if h.chunk.doc_id == "a"] == ["a:0", "a:1", "a:2"]
    assert article_evidence(hits, 0.0)[0].chunk.id == "b:0"


def test_diversify_caps_chunks_per_article_then_fills() -> None:
    hits = [_hit("a", 0, 3), _hit("a", 1, 2.9), _hit("b", 0, 2), _hit("c", 0, 1)]
    assert [h.chunk.id for h in diversify(hits, 3, 1)] == ["a:0", "b:0", "c:0"]
    assert [h.chunk.id for h in diversify(hits, 4, 1)] == ["a:0", "b:0", "c:0", "a:1"]
    assert [h.chunk.id for h in diversify(hits, 2, 0)] == ["a:0", "a:1"]


def test_interleave_takes_turns_between_sources() -> None:
    one = [_hit("a", 0, 3), _hit("a", 1, 2)]
    two = [_hit("b", 0, 1), _hit("a", 0, 3)]
    assert [h.chunk.id for h in _interleave([one, two], 3)] == ["a:0", "b:0", "a:1"]


def test_recency_and_as_of_on_dated_articles(tmp_path: Path, embedder: Embedder) -> None:
    text = "The city council approved the new budget for public libraries on {}."
    docs = [
        make_document(text.format(day), path=f"{day}.txt", title=f"Budget {day}", published_at=day)
        for day in ("2023-01-05", "2023-03-01", "2023-06-20")
    ]
    pipe = Pipeline(
        Settings(index_dir=tmp_path / "i", llm_backend="extractive"),
        llm=ExtractiveLLM(),
        embedder=embedder,
    )
    pipe.ingest_documents(docs)
    latest = pipe.retrieve("What did the city council approve this week?")
    assert latest[0].chunk.doc_id == docs[2].id  # the freshest article leads
    asof = pipe.retrieve("What did the city council approve this week?", as_of="2023-03-02")
    assert docs[2].id not in {h.chunk.doc_id for h in asof}  # later articles unseen
    assert asof[0].chunk.doc_id == docs[1].id


def test_second_hop_lifts_the_bridge_passage(tmp_path: Path, embedder: Embedder) -> None:
    texts = [
        "Blue Harbor is a 1998 drama film directed by Mara Quell.",
        "Mara Quell grew up in the mountain town of Esterwick before moving to the capital.",
        "The harbor of the old city is painted blue every spring by local volunteers.",
        "Many children grow up in the small town near the harbor.",
        "Blue whales were seen near the harbor entrance last summer.",
    ]
    docs = [make_document(t, path=f"p{i}.txt", title=f"p{i}") for i, t in enumerate(texts)]
    pipe = Pipeline(
        Settings(index_dir=tmp_path / "i", llm_backend="extractive", hops=2, hop_weight=1.0),
        llm=ExtractiveLLM(),
        embedder=embedder,
    )
    pipe.ingest_documents(docs)
    query = pipe.query("In which town did the director of Blue Harbor grow up?")
    by_doc = {h.chunk.doc_id: h for h in pipe.retrieve(query.text)}
    # a first hop that found the film and ranked the bridge last
    first = [by_doc[docs[i].id] for i in (0, 2, 3, 4, 1)]
    second = pipe.retriever._second_hop(query, first, query.filters)
    order = [h.chunk.doc_id for h in second]
    assert order[0] == docs[0].id  # the first hop keeps its lead
    # the bridge ("Mara Quell", named only in the film's passage) moves up
    assert order.index(docs[1].id) < 4, order


def test_named_titles_finds_capitalised_runs_that_are_titles() -> None:
    titles = {
        title_key(t): [t]
        for t in ("Mara Quell", "Esterwick (town)", "Blue", "A Long Headline Of Seven Words Here")
    }
    assert title_key("Esterwick (town)") == "esterwick"
    text = "Blue Harbor is a film by Mara Quell, who grew up in Esterwick; blue skies."
    found = named_titles(text, titles)
    assert found == {"mara quell", "esterwick", "blue"}  # "Blue" as a capitalised word
    assert named_titles("mara quell and the esterwick mill", titles) == set()  # lower case: no name
    assert named_titles("A Long Headline Of Seven Words Here", titles) == set()  # too long to link


def test_title_link_never_lowers_a_page_ranked_above_its_linker() -> None:
    """The second passage names the first's title: the first keeps its place."""
    from rag.retrieve import Retriever

    class Titles:
        def titled(self) -> dict[str, list[str]]:
            return {"alpha": ["a"], "beta": ["b"]}

    hits = [_hit("a", 0, 1.0), _hit("b", 0, 0.9), _hit("c", 0, 0.8)]
    object.__setattr__(hits[1].chunk, "text", "Beta's page says Alpha did it.")
    object.__setattr__(hits[0].chunk, "text", "nothing named here")
    r = Retriever(Titles(), None, Settings(link_weight=1.0))  # type: ignore[arg-type]
    out = r._title_links(hits, None)
    assert [h.chunk.doc_id for h in out] == ["a", "b", "c"]
    assert out[0].score == 1.0


def test_title_links_lift_the_page_a_top_passage_names(tmp_path: Path, embedder: Embedder) -> None:
    texts = {
        "Blue Harbor": "Blue Harbor is a 1998 drama film directed by Mara Quell.",
        "Mara Quell": "Quell grew up in the mountain town of Esterwick before moving away.",
        "Harbor festival": "The harbor of the old city is painted blue every spring by volunteers.",
        "Small towns": "Many children grow up in the small town near the harbor.",
        "Whales": "Blue whales were seen near the harbor entrance last summer.",
    }
    docs = [make_document(x, path=f"{t}.txt", title=t) for t, x in texts.items()]
    question = "In which town did the director of Blue Harbor grow up?"

    def ranked(weight: float, only: str = "") -> list[str]:
        pipe = Pipeline(
            Settings(
                index_dir=tmp_path / f"i{weight}{only}",
                llm_backend="extractive",
                link_weight=weight,
            ),
            llm=ExtractiveLLM(),
            embedder=embedder,
        )
        pipe.ingest_documents(docs)
        keep = Filters(doc_ids=tuple(d.id for d in docs if d.title == only)) if only else None
        return [pipe.index.documents[h.chunk.doc_id].title for h in pipe.retrieve(question, keep)]

    plain, linked = ranked(0.0), ranked(0.5)
    assert plain.index("Mara Quell") > 1, plain
    # the film's page names its director, whose page (the answer) joins it at the top
    assert set(linked[:2]) == {"Blue Harbor", "Mara Quell"}, (plain, linked)
    assert ranked(0.5, only="Blue Harbor") == ["Blue Harbor"]  # filters bind linked pages too


def test_rerank_fuses_llm_order_with_first_stage(monkeypatch) -> None:
    """The fusion logic, with the LLM's judgement stubbed (the real model is tested below)."""
    import rag.rerank as rr

    hits = [_hit(d, 0, 1.0 - i / 10) for i, d in enumerate("abcdef")]
    liked = {"d:0": 5.0, "a:0": 1.0}  # the LLM strongly prefers d, then a
    monkeypatch.setattr(
        rr, "yes_no", lambda llm, prompt: next((v for k, v in liked.items() if k in prompt), -3)
    )
    monkeypatch.setattr(rr, "PROMPT", "{title}|{text}|{question}|")
    for h in hits:
        object.__setattr__(h.chunk, "text", h.chunk.id)
    out = rr.LLMReranker(None, top=5).rerank("q?", hits, {})
    assert [h.chunk.id for h in out][:2] == ["a:0", "d:0"]  # rank 0+1 vs 3+0: a keeps the lead
    assert out[5].chunk.id == "f:0"  # beyond the top 5, untouched


@pytest.mark.slow
def test_llm_reranker_prefers_the_answering_passage(real) -> None:
    from rag.rerank import LLMReranker

    question = "Who manufactures the Patriot missiles in Japan?"
    hits = real.retrieve(question)
    titles = {h.chunk.doc_id: "" for h in hits}
    # the chunk that opens with the answer (overlapping chunks hold it too, among other news)
    answering = next(h for h in hits if h.chunk.text.startswith("Patriot missiles in Japan"))
    # put the answering chunk last and let the model judge
    order = [h for h in hits if h is not answering] + [answering]
    out = LLMReranker(real.llm, top=len(order), rrf_k=0).rerank(question, order, titles)
    assert out.index(answering) < len(order) - 1
