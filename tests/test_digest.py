"""The digest (`summarize` with no ids and no query): the newest articles, grouped by topic,
every sentence cited. Articles written by hand: two stories on each of two events, one alone."""

from __future__ import annotations

import numpy as np

from rag.load import make_document
from rag.pipeline import Pipeline
from rag.summarize import newest, topics

ARTICLES = [
    (
        "Volcano erupts near Grindavik in Iceland",
        "2024-01-14",
        "A volcano on Iceland's Reykjanes peninsula erupted on Sunday near the town of "
        "Grindavik. Lava flowed towards the town, which had been evacuated in November. The "
        "Icelandic Meteorological Office said the fissure was about one kilometre long.",
    ),
    (
        "Lava reaches homes in Grindavik as Iceland eruption continues",
        "2024-01-15",
        "Lava from the eruption on Iceland's Reykjanes peninsula reached the edge of Grindavik on "
        "Monday and set three homes on fire. Iceland's president said the town faced a "
        "daunting period. Residents had left the town before the volcano erupted.",
    ),
    (
        "Barcelona signs Brazilian striker Vitor Roque",
        "2024-01-10",
        "Barcelona completed the signing of the Brazilian striker Vitor Roque from Athletico "
        "Paranaense for a fee of 30 million euros. The 18-year-old forward joined the Spanish "
        "football club in January and will wear the number 19 shirt.",
    ),
    (
        "Vitor Roque makes Barcelona debut",
        "2024-01-12",
        "The Brazilian striker Vitor Roque made his debut for Barcelona on Wednesday, weeks after "
        "the Spanish football club signed the 18-year-old forward from Athletico Paranaense.",
    ),
    (
        "City council approves new library budget",
        "2024-01-08",
        "The city council of Leeds approved a budget of 4 million pounds for a new central "
        "library on Tuesday. Construction is expected to begin in the spring and to take two "
        "years, the council said.",
    ),
]


def _docs() -> list:
    return [
        make_document(text, path=f"{i}.txt", title=title, published_at=day, source="Test")
        for i, (title, day, text) in enumerate(ARTICLES)
    ]


def test_newest_first_and_undated_last() -> None:
    docs = {d.id: d for d in _docs()}
    undated = make_document("An undated note about nothing in particular.", path="u.txt")
    docs[undated.id] = undated
    order = [d.title for d in newest(docs, 10)]
    assert order[0] == "Lava reaches homes in Grindavik as Iceland eruption continues"
    assert order[-1] == "" and len(newest(docs, 2)) == 2


def test_average_linkage_merges_only_close_groups() -> None:
    v = np.array([[1, 0], [0.9, 0.436], [0, 1], [0.1, 0.995]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    assert topics(v, 0.8) == [[0, 1], [2, 3]]
    assert topics(v, 0.999) == [[0], [1], [2], [3]]
    assert topics(v, -1.0) == [[0, 1, 2, 3]]


def test_digest_groups_the_collection_by_topic_and_cites_every_sentence(pipe: Pipeline) -> None:
    pipe.ingest_documents(_docs())
    digest = pipe.summarize()
    titles = {d.id: d.title for d in pipe.index.documents.values()}
    groups = [sorted(titles[d] for d in t.doc_ids) for t in digest.topics]
    assert groups == [
        [
            "Lava reaches homes in Grindavik as Iceland eruption continues",
            "Volcano erupts near Grindavik in Iceland",
        ],
        ["Barcelona signs Brazilian striker Vitor Roque", "Vitor Roque makes Barcelona debut"],
        ["City council approves new library budget"],
    ]
    assert "Grindavik" in digest.topics[0].label and "Vitor Roque" in digest.topics[1].label
    assert digest.topics[2].label == "City council approves new library budget"
    assert digest.sentences and all(s.supported and s.citations for s in digest.sentences)
    for topic in digest.topics:
        assert topic.sentences, topic.label
        assert {c.doc_id for s in topic.sentences for c in s.citations} <= set(topic.doc_ids)
    assert pipe.cached_digest() is digest and pipe.summarize() is digest
    pipe.delete([digest.topics[2].doc_ids[0]])
    assert pipe.cached_digest() is None  # the collection changed: the digest is stale


def test_digest_of_nothing_is_a_clear_error(pipe: Pipeline) -> None:
    from rag.errors import NewsragError

    try:
        pipe.summarize()
    except NewsragError as e:
        assert "no articles" in str(e)
    else:
        raise AssertionError("an empty collection has no digest")
