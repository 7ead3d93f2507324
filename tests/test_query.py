"""Query understanding: filters read from the words, on a table of phrasings."""

from __future__ import annotations

import pytest

from rag.query import understand

AS_OF = "2022-07-15"
SOURCES = ["CNN", "USA Today", "The Week"]


@pytest.mark.parametrize(
    ("question", "date_from", "date_to", "sources"),
    [
        ("What did the Fed decide last week?", "2022-07-01", "2022-07-15", ()),
        ("What happened yesterday in Ukraine?", "2022-07-14", "2022-07-14", ()),
        ("What did CNN report about inflation?", None, "2022-07-15", ("CNN",)),
        ("According to USA Today, who won the Open?", None, "2022-07-15", ("USA Today",)),
        ("Which stocks fell in June 2022?", "2022-06-01", "2022-06-30", ()),
        ("What did Congress pass after March 2022?", "2022-03-01", "2022-07-15", ()),
        ("What was announced on March 5, 2022?", "2022-03-05", "2022-03-05", ()),
        ("Who was president before January 2021?", None, "2021-01-01", ()),
        # a bare year is part of the fact asked about, not a filter
        ("What was the first change since 2014?", None, "2022-07-15", ()),
        ("Is the CNN building in Atlanta?", None, "2022-07-15", ()),
    ],
)
def test_filters_from_phrasings(question, date_from, date_to, sources) -> None:
    q = understand(question, None, SOURCES, (), AS_OF)
    assert (q.filters.date_from, q.filters.date_to, q.filters.sources) == (
        date_from,
        date_to,
        sources,
    )


def test_explicit_filters_win_and_core_drops_filter_phrases() -> None:
    q = understand("What did CNN report in June 2022?", {"sources": ["The Week"]}, SOURCES)
    assert q.filters.sources == ("The Week",) and q.filters.date_from == "2022-06-01"
    assert "june" not in q.core.lower()
    assert q.current is False
    assert understand("What is the latest on the strike?").current is True


def test_several_sources_named() -> None:
    q = understand("What did CNN and The Week report about the storm?", None, SOURCES)
    assert set(q.filters.sources) == {"CNN", "The Week"}


def test_follow_up_keeps_earlier_inferred_filters_kind_by_kind() -> None:
    first = understand("What did CNN report last week?", None, SOURCES, (), AS_OF)
    assert first.read_filters.sources == ("CNN",)
    then = understand("And why did it happen?", None, SOURCES, (), AS_OF, follows=first)
    assert then.filters.sources == ("CNN",)
    assert (then.filters.date_from, then.filters.date_to) == ("2022-07-01", "2022-07-15")
    assert any("earlier question" in note for note in then.inferred)
    # its own words win for their kind; the other kind is still kept
    own = understand("What did The Week report about it?", None, SOURCES, (), AS_OF, follows=first)
    assert own.filters.sources == ("The Week",) and own.filters.date_from == "2022-07-01"
    # hand-set filters win too, and are never themselves carried as "read from the words"
    hand = understand("And then?", {"sources": ["USA Today"]}, SOURCES, (), AS_OF, follows=first)
    assert hand.filters.sources == ("USA Today",) and hand.read_filters.sources == ()
    # no earlier question: nothing carried
    assert understand("And why?", None, SOURCES, (), AS_OF).filters.sources == ()
