"""Refusal steps that read the question's terms: names and figures asked about, the kind of
answer asked for, several-part questions, and premises the quoted source contradicts."""

from __future__ import annotations

from rag.query import analyse
from rag.refuse import (
    lacks_answer_type,
    missing_question_terms,
    premise_conflict,
    uncovered_parts,
)


def missing(question: str, evidence: str) -> list[str]:
    return missing_question_terms(analyse(question), evidence)


def lacks(question: str, supported: str) -> str:
    q = analyse(question)
    return lacks_answer_type(q.answer_type, q.names, q.numbers, supported)


def conflict(question: str, quoted: str) -> str:
    return premise_conflict(analyse(question), quoted)


def test_question_terms_and_answer_types() -> None:
    ev = "Japan allowed Patriot missiles to be shipped to the United States in 2023."
    assert missing("What did South Korea say?", ev) == ["korea", "south"]
    assert missing("What did Japan allow for the US?", ev) == []
    assert missing("What happened in 1999?", ev) == ["1999"]
    assert lacks("How many missiles were sent?", "Japan sent missiles.") == "a number"
    assert lacks("How many missiles were sent?", "Japan sent 40 missiles.") == ""
    assert lacks("Who makes them?", "Mitsubishi makes them.") == ""
    assert lacks("Who makes them?", "They are made under license.") == "a name"
    assert lacks("When did it change?", "It changed in December.") == ""
    assert lacks("Where are they made?", "They are made under license.") == "a place"
    assert lacks("What did Japan decide?", "Japan decided to export missiles.") == ""


def test_names_match_across_accents_place_forms_and_initials() -> None:
    ev = "Möngke Khan was elected Great Khan. The Chinese medical tradition had four schools."
    assert missing("When did Mongke become Great Khan?", ev) == []
    assert missing("How many medical schools were recognized in China?", ev) == []
    assert missing("How many medical schools were there in Korea?", ev) == ["korea"]
    tfeu = "Article 34 of the Treaty on the Functioning of the European Union applies."
    assert missing("Which TFEU article bans quotas?", tfeu) == []
    assert missing("Which TEU article bans quotas?", tfeu) == ["teu"]


def test_question_openers_and_weekdays_are_not_required_names() -> None:
    ev = "The festival at Coeur d'Alene City Park drew 4,000 people."
    assert missing("Approximately how many people came to the festival?", ev) == []
    assert missing("Which park hosted the festival on Monday?", ev) == []
    assert missing("Which park in Boise hosted the festival?", ev) == ["boise"]


def test_premise_conflict_with_the_quoted_source() -> None:
    """SQuAD 2.0-style unanswerables: the question flips a word of the sentence it copies."""
    innate = "Innate immune defenses are non-specific, responding to pathogens in a generic way."
    assert "non-specific" in conflict(
        "What defenses respond to pathogens in a specific way?", innate
    )
    agrees = "The Presiding Officer agrees the timetable of business in the chamber."
    assert "'agrees'" in conflict("Who disagrees with the timetable of business?", agrees)
    assert "'rose'" in conflict("When did exports fall?", "In 2022 exports rose by 4%.")
    cells = "The conditions that produce responses from γδ T cells are not fully understood."
    assert "denies" in conflict("What is fully understood about γδ T cells?", cells)
    # answerable questions phrased from their sentence are left alone
    assert conflict("Who agrees the timetable of business in the chamber?", agrees) == ""
    assert conflict("Are the conditions of γδ T cells understood?", cells) == ""
    assert conflict("Which defenses are non-specific?", innate) == ""
    # "not … able" is what "unable" says; the flip must change the meaning
    unable = "The Scottish Parliament is unable to legislate on issues reserved to Westminster."
    assert conflict("Issues at Westminster are not ones who is able to deal with?", unable) == ""
    assert "'unable'" in conflict("Who is able to legislate on reserved issues?", unable)


def test_partial_answers_name_the_part_not_covered() -> None:
    said = "Mitsubishi Heavy Industries manufactures the Patriot missiles in Japan."
    q = analyse("Who manufactures the Patriot missiles and when will they be shipped?")
    assert uncovered_parts(q, said) == [
        "when will they be shipped (no date or time in the sources)"
    ]
    assert uncovered_parts(q, said + " They will be shipped in 2024.") == []
    # one-part questions, or nothing answered at all, are the refusal rules' business
    assert uncovered_parts(analyse("Who manufactures the Patriot missiles?"), said) == []
    both = analyse("How many were made and when were they shipped?")
    assert uncovered_parts(both, said) == []


def test_the_question_is_analysed_once_onto_the_query() -> None:
    from rag.query import understand

    q = understand(
        "According to CNN, how many Patriot missiles did Japan send in 2023?", known_sources=["CNN"]
    )
    assert q.terms.text == q.core and "cnn" not in q.terms.names  # the filter phrase is out
    assert q.terms.answer_type == "a number" and 2023.0 in q.terms.numbers
    assert {"patriot", "japan"} <= q.terms.names and q.terms.wh
