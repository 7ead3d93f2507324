"""The draft → the sentences to check: markers, preambles, pointers, "not found"."""

from __future__ import annotations

from rag.draft import says_not_found, split_answer, strip_markers


def test_markers_and_preambles() -> None:
    assert strip_markers("Japan did it [2][3].") == ("Japan did it.", {2, 3})
    assert strip_markers("Yes [1, 4-5]") == ("Yes", {1, 4, 5})
    parts = split_answer("The passage [3] states that Japan sent missiles. [3] It was new [4].")
    assert parts == [("Japan sent missiles.", {3}), ("It was new.", {4})]
    assert split_answer("Japan acted. This is stated in passage [2].") == [("Japan acted.", set())]
    # frames naming where the model read it, with the evidence number in any form
    framed = "The passage from Article 7 states that by December 25, Japan was friendly. [7]"
    assert split_answer(framed) == [("By December 25, Japan was friendly.", {7})]
    assert split_answer("According to passage 2, prices rose [2].") == [("Prices rose.", {2})]
    # an answer that only points at evidence: kept as a pointer for the pipeline, else dropped
    assert split_answer("Passage [4]", pointers=True) == [("", {4})]
    assert split_answer("Passage [4]. Prices rose [2].") == [("Prices rose.", {2})]
    assert split_answer("Passage four.") == [("Passage four.", set())]  # no marker: a claim


def test_not_found_detection() -> None:
    assert says_not_found("The passages do not say anything about South Korea.")
    assert says_not_found("NOT IN SOURCES")
    assert not says_not_found("Japan will not export weapons to nations at war.")
