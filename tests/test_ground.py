"""The support checker: right quotes for true sentences, flags for planted errors."""

from __future__ import annotations

import pytest

from rag.chunk import split_sentences
from rag.embed import Embedder
from rag.ground import (
    SupportChecker,
    Unit,
    as_the_source_writes,
    missing_answer_type,
    missing_question_terms,
    premise_conflict,
    says_not_found,
    split_answer,
    strip_markers,
)
from rag.load import load_file, make_document
from rag.terms import has_negation, names, numbers
from tests.conftest import SEED


@pytest.fixture(scope="module")
def seed_units(embedder: Embedder) -> tuple:
    [doc] = load_file(SEED)
    units = [
        Unit(doc.id, f"{doc.id}:0", s, e, doc.text[s:e], (i,))
        for i, (s, e) in enumerate(split_sentences(doc.text))
    ]
    vecs = embedder.embed([u.text for u in units])
    context = {f"{doc.id}:0": doc.title + "\n" + doc.text}
    return doc, units, vecs, context


def _check(embedder: Embedder, seed_units: tuple, claim: str):
    _, units, vecs, context = seed_units
    checker = SupportChecker(embedder, 0.5)
    return checker.check(claim, units, vecs, embedder.embed([claim])[0], context)


TRUE = [
    "Patriot missiles in Japan are made by Mitsubishi Heavy Industries.",
    "The US Congress failed to approve a $60 billion aid package for Ukraine.",
    "Japan is considering exporting 155mm artillery shells to the UK.",
    "Japan plans to double its military spending to 2% of GDP by 2027.",
    "Japan still upholds its ban on exporting weapons to nations at war.",
    "The revised rules now allow Japan to send complete products.",
]
PLANTED = [
    ("The US Congress failed to approve a $80 billion aid package for Ukraine.", "number"),
    ("Japan plans to double its military spending to 2% of GDP by 2030.", "number"),
    ("Patriot missiles in Japan are made by Boeing.", "name"),
    ("Japan is considering exporting 155mm artillery shells to France.", "name"),
    ("Japan no longer upholds its ban on exporting weapons to nations at war.", "negation"),
    ("The population of Tokyo is 13.9 million.", ""),
    # the known wrong answer of the core issue: before and after reversed (checker /3)
    ("The previous rules allowed Japan to send complete products.", '"previous"'),
    ("Japan plans to cut its military spending to 2% of GDP by 2027.", '"cut"'),
    # a name from the neighbouring sentence put in this one's place
    (
        "The missiles can only be sent to the US and require Patriot's approval to be sent "
        "to any other country.",
        "where the source says",
    ),
]


@pytest.mark.parametrize("claim", TRUE)
def test_true_sentences_supported_with_exact_quote(embedder, seed_units, claim) -> None:
    doc = seed_units[0]
    v = _check(embedder, seed_units, claim)
    assert v.support >= 0.5, v
    for u in v.units:
        assert doc.text[u.start : u.end] == u.text


@pytest.mark.parametrize(("claim", "kind"), PLANTED)
def test_planted_errors_flagged(embedder, seed_units, claim, kind) -> None:
    v = _check(embedder, seed_units, claim)
    assert v.support < 0.5, v
    assert kind in v.reason


def test_ground_builds_cited_and_flagged_sentences(embedder, seed_units) -> None:
    doc, units, vecs, context = seed_units
    checker = SupportChecker(embedder, 0.5)
    out = checker.ground(
        [(TRUE[0], {1}), (PLANTED[0][0], set())], units, {doc.id: doc}, context, unit_vecs=vecs
    )
    assert out[0].supported and out[0].citations
    c = out[0].citations[0]
    assert c.quote == doc.text[c.start : c.end] and "Mitsubishi" in c.quote
    assert not out[1].supported and not out[1].citations and "number" in out[1].reason


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


def test_question_terms_and_answer_types() -> None:
    ev = "Japan allowed Patriot missiles to be shipped to the United States in 2023."
    assert missing_question_terms("What did South Korea say?", ev) == ["korea", "south"]
    assert missing_question_terms("What did Japan allow for the US?", ev) == []
    assert missing_question_terms("What happened in 1999?", ev) == ["1999"]
    assert missing_answer_type("How many missiles were sent?", "Japan sent missiles.") == "a number"
    assert missing_answer_type("How many missiles were sent?", "Japan sent 40 missiles.") == ""
    assert missing_answer_type("Who makes them?", "Mitsubishi makes them.") == ""
    assert missing_answer_type("When did it change?", "It changed in December.") == ""


def test_terms_numbers_and_names() -> None:
    assert numbers("$60 billion, 2%, 155mm, two, 1,200") == {60e9, 2.0, 155.0, 1200.0}
    assert numbers("the fifth Session") == {5.0} and numbers("first reported") == set()
    assert not has_negation("problems with the yes/no answers reversed")
    assert has_negation("no answer was given")
    assert names("However, the U.S. and the United States met Japan.") == {"united_states", "japan"}


def test_names_match_across_accents_place_forms_and_initials() -> None:
    ev = "Möngke Khan was elected Great Khan. The Chinese medical tradition had four schools."
    assert missing_question_terms("When did Mongke become Great Khan?", ev) == []
    assert missing_question_terms("How many medical schools were recognized in China?", ev) == []
    assert missing_question_terms("How many medical schools were there in Korea?", ev) == ["korea"]
    tfeu = "Article 34 of the Treaty on the Functioning of the European Union applies."
    assert missing_question_terms("Which TFEU article bans quotas?", tfeu) == []
    assert missing_question_terms("Which TEU article bans quotas?", tfeu) == ["teu"]


def one_span_verdict(embedder: Embedder, text: str, around: str):
    """A checker over one quoted span (`around`: its chunk and title): claim -> verdict."""
    units = [Unit("d", "d:0", 0, len(text), text, (0,))]
    vecs = embedder.embed([text])
    checker = SupportChecker(embedder, 0.5)

    def verdict(claim: str, question: str = ""):
        cvec = embedder.embed([claim])[0]
        return checker.check(claim, units, vecs, cvec, {"d:0": around}, question=question)

    return verdict


def accepts_then_flags(verdict, true: str, false: str, flagged: str, question: str = "") -> None:
    """`true` is supported; `false`, its copy with one error, is not, and the reason names it."""
    ok = verdict(true, question)
    assert ok.support >= 0.5, ok.reason
    bad = verdict(false, question)
    assert bad.support < 0.5 and flagged in bad.reason, bad.reason


def test_a_name_written_as_initials_in_the_source_is_supported(embedder: Embedder) -> None:
    text = (
        "The TEU specifically excludes certain regions, for example the Faroe Islands, from the "
        "jurisdiction of European Union law."
    )
    verdict = one_span_verdict(embedder, text, "EU law")

    accepts_then_flags(
        verdict,
        "The Treaty on European Union excludes the Faroe Islands from EU jurisdiction.",
        "The Treaty of Lisbon excludes the Faroe Islands from EU jurisdiction.",
        "lisbon",
    )


def test_names_from_a_file_name_title_or_a_name_given_in_part(embedder: Embedder) -> None:
    text = "Some documents such as Wang Zhen's Nong Shu were printed with movable type."
    verdict = one_span_verdict(embedder, text, "Yuan_dynasty\nKublai Khan ruled. " + text)
    assert verdict("The Nong Shu was written by Wang Zhen of the Yuan Dynasty.").support >= 0.5
    assert verdict("The Nong Shu was written by Wang Zhen of the Ming Dynasty.").support < 0.5
    # the chunk names Kublai Khan, the span only Kublai: not a way to bring in a new name
    kublai = "Kublai created the Imperial Academy of Medicine."
    verdict = one_span_verdict(embedder, kublai, "Yuan_dynasty\nKublai Khan ruled. " + kublai)
    accepts_then_flags(
        verdict,
        "Kublai Khan created the Imperial Academy of Medicine.",
        "Kublai Smith created the Imperial Academy of Medicine.",
        "smith",
    )


def test_an_answer_may_carry_its_questions_names_and_its_titles_numbers(
    embedder: Embedder,
) -> None:
    """The question's name, given a paragraph away in the same article, may be restated; not
    in the place of a name the span gives, and not a name the article lacks."""
    text = "Richard then proceeded to conquer the whole island, his troops being led by Guy."
    around = "Normans\n" + text + "\nIn 1191 Richard the Lionheart took Cyprus from Isaac."
    verdict = one_span_verdict(embedder, text, around)
    claim = "Guy led Richard's troops when Cyprus was conquered."
    asked = "Who led Richard's troops when Cyprus was conquered?"
    assert "cyprus" in verdict(claim).reason  # no question: a name from elsewhere
    ok = verdict(claim, asked)
    assert ok.support >= 0.5, ok.reason
    crete = verdict(
        "Guy led Richard's troops when Crete was conquered.", asked.replace("Cyprus", "Crete")
    )
    assert crete.support < 0.5 and "crete" in crete.reason  # not in the article
    saudi = "Saudi Arabia, trying to recover market share, increased production in 1985."
    verdict = one_span_verdict(embedder, saudi, "Oil\n" + saudi + "\nOPEC raised prices.")
    swapped = verdict(
        "OPEC, trying to recover market share, increased production in 1985.",
        "What did OPEC do to gain market share in 1985?",
    )
    assert swapped.support < 0.5 and "opec" in swapped.reason
    # a year the article's title gives; a year neither gives is still flagged
    dec = "By December 25, Japan was considered an Arab-friendly state."
    verdict = one_span_verdict(embedder, dec, "1973_oil_crisis\n" + dec)
    accepts_then_flags(
        verdict,
        "Japan was considered an Arab-friendly state on December 25, 1973.",
        "Japan was considered an Arab-friendly state on December 25, 1974.",
        "1974",
    )


def test_question_openers_and_weekdays_are_not_required_names() -> None:
    ev = "The festival at Coeur d'Alene City Park drew 4,000 people."
    assert missing_question_terms("Approximately how many people came to the festival?", ev) == []
    assert missing_question_terms("Which park hosted the festival on Monday?", ev) == []
    assert missing_question_terms("Which park in Boise hosted the festival?", ev) == ["boise"]


def test_premise_conflict_with_the_quoted_source() -> None:
    """SQuAD 2.0-style unanswerables: the question flips a word of the sentence it copies."""
    innate = "Innate immune defenses are non-specific, responding to pathogens in a generic way."
    assert "non-specific" in premise_conflict(
        "What defenses respond to pathogens in a specific way?", innate
    )
    agrees = "The Presiding Officer agrees the timetable of business in the chamber."
    assert "'agrees'" in premise_conflict("Who disagrees with the timetable of business?", agrees)
    assert "'rose'" in premise_conflict("When did exports fall?", "In 2022 exports rose by 4%.")
    best = "The best known algorithm for integer factorization is the general number field sieve."
    assert "'best'" in premise_conflict("What is the least well known algorithm for it?", best)
    cells = "The conditions that produce responses from γδ T cells are not fully understood."
    assert "denies" in premise_conflict("What is fully understood about γδ T cells?", cells)
    office = "In 1263 the physician Jesus the Interpreter founded the Office of Western Medicine."
    assert "'western'" in premise_conflict("Who founded the Office of eastern Medicine?", office)
    assert premise_conflict("Who founded the Office of Western Medicine?", office) == ""
    # answerable questions phrased from their sentence are left alone
    assert premise_conflict("Who agrees the timetable of business in the chamber?", agrees) == ""
    assert premise_conflict("Are the conditions of γδ T cells understood?", cells) == ""
    assert premise_conflict("Which defenses are non-specific?", innate) == ""
    # "not … able" is what "unable" says; the flip must change the meaning
    unable = "The Scottish Parliament is unable to legislate on issues reserved to Westminster."
    assert (
        premise_conflict("Issues at Westminster are not ones who is able to deal with?", unable)
        == ""
    )
    assert "'unable'" in premise_conflict("Who is able to legislate on reserved issues?", unable)
    assert premise_conflict("Which defenses are not specific?", innate) == ""
    # the denial must be in the clause about what is asked
    steam = (
        "Without the pressure reaching supercritical levels for the working fluid, the range is "
        "quite small; in steam turbines, turbine entry temperatures are typically 565 °C (the "
        "creep limit of stainless steel) and condenser temperatures are around 30 °C."
    )
    assert premise_conflict("What is 565 °C the creep limit of?", steam) == ""


def test_negation_in_another_clause_of_the_source(embedder: Embedder) -> None:
    """A negated clause the claim does not restate leaves its polarity alone; a negation dropped
    from a near-copy of the source, or added to one, is still caught."""
    text = (
        "Huguenot immigrants did not disperse or settle in different parts of the country, but "
        "rather, formed three societies or congregations; one in the city of New York, another "
        "21 miles north of New York in a town which they named New Rochelle."
    )
    verdict = one_span_verdict(embedder, text, "Huguenot")

    ok = verdict("New Rochelle, New York, is the city north of New York where Huguenots settled.")
    assert ok.support >= 0.5, ok.reason
    dropped = verdict(
        "Huguenot immigrants did disperse or settle in different parts of the country, but "
        "rather, formed three societies or congregations."
    )
    assert dropped.support < 0.5 and "negation" in dropped.reason
    added = verdict("Huguenot immigrants did not name a town north of New York New Rochelle.")
    assert added.support < 0.5, added.reason


def test_a_supported_sentence_keeps_the_sources_dashes_and_quote_marks(embedder) -> None:
    """The model writes "1973-74" for the source's "1973–74": the answer shows the source's."""
    span = (
        "The strikes over the winter of 1973–74 became a major factor in the change of government."
    )
    assert as_the_source_writes("The strikes over the winter of 1973-74 mattered.", span) == (
        "The strikes over the winter of 1973–74 mattered."
    )
    # only where the characters around the mark are the span's
    assert as_the_source_writes("A well-known change of 1973-1974.", span) == (
        "A well-known change of 1973-1974."
    )
    assert as_the_source_writes("It's known.", "It’s known to all.") == "It’s known."
    text = (
        "The strikes over the winter of 1973–74 became a major factor in the change of government."
    )
    doc = make_document(text, path="strikes.txt")
    units = [Unit(doc.id, f"{doc.id}:0", 0, len(text), text, (0,))]
    checker = SupportChecker(embedder, 0.5)
    drafted = [("The strikes over the winter of 1973-74 became a major factor.", {1})]
    (sent,) = checker.ground(drafted, units, {doc.id: doc}, {f"{doc.id}:0": text})
    assert sent.supported and "1973–74" in sent.text, sent


def test_a_short_negated_clause_copied_from_the_source(embedder: Embedder) -> None:
    """A near-copy keeps its source's "that did not": the same polarity, not a negation added."""
    text = (
        "Saudi Arabia compensated by repressing those domestic Islamists who attacked it, and "
        "increasing aid to Islamic groups (even aiding some violent Islamist groups) that did "
        "not, but its influence on behalf of moderation was greatly reduced."
    )
    verdict = one_span_verdict(embedder, text, "Islamism")
    ok = verdict(
        "Saudi Arabia tried to repress those domestic Islamists who attacked it, and increasing "
        "aid to Islamic groups (even aiding some violent Islamist groups) that did not."
    )
    assert ok.support >= 0.5, ok.reason
    flipped = verdict("Saudi Arabia did not repress those domestic Islamists who attacked it.")
    assert flipped.support < 0.5, flipped.reason


def test_partial_answers_name_the_part_not_covered() -> None:
    from rag.ground import uncovered_parts

    said = "Mitsubishi Heavy Industries manufactures the Patriot missiles in Japan."
    q = "Who manufactures the Patriot missiles and when will they be shipped?"
    assert uncovered_parts(q, said) == [
        "when will they be shipped (no date or time in the sources)"
    ]
    assert uncovered_parts(q, said + " They will be shipped in 2024.") == []
    # one-part questions, or nothing answered at all, are the refusal rules' business
    assert uncovered_parts("Who manufactures the Patriot missiles?", said) == []
    assert uncovered_parts("How many were made and when were they shipped?", said) == []
