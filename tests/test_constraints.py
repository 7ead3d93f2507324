"""Hard constraints beside the support model: every number and name of a claim in its span.

Exact checks on hand-written cases (SQuAD 2.0 and seed-article sentences); the model is not
involved, so each allowance (title, question names, initials, a name given in part) is tested
alone."""

from __future__ import annotations

from rag.constraints import violated
from rag.types import Unit


def check(claim: str, span: str, around: str, question_names: tuple[str, ...] = ()) -> str:
    units = (Unit("d", "d:0", 0, len(span), span, (0,)),)
    return violated(claim, units, {"d:0": around}, question_names)


def test_numbers_must_be_in_the_span_or_its_title() -> None:
    span = "The US Congress recently failed to approve a $60 billion aid package for Ukraine."
    assert check("Congress failed to approve $60 billion for Ukraine.", span, "News") == ""
    assert "80 billion" in check("Congress failed to approve $80 billion.", span, "News")
    dec = "By December 25, Japan was considered an Arab-friendly state."
    assert (
        check("Japan was Arab-friendly on December 25, 1973.", dec, "1973_oil_crisis\n" + dec) == ""
    )
    assert "1974" in check("Japan was Arab-friendly on December 25, 1974.", dec, "1973_oil_crisis")


def test_a_name_written_as_initials_or_from_a_file_name_title() -> None:
    teu = (
        "The TEU specifically excludes certain regions, for example the Faroe Islands, from the "
        "jurisdiction of European Union law."
    )
    assert check("The Treaty on European Union excludes the Faroe Islands.", teu, "EU law") == ""
    assert "lisbon" in check("The Treaty of Lisbon excludes the Faroe Islands.", teu, "EU law")
    wang = "Some documents such as Wang Zhen's Nong Shu were printed with movable type."
    around = "Yuan_dynasty\nKublai Khan ruled. " + wang
    assert check("The Nong Shu was written by Wang Zhen of the Yuan Dynasty.", wang, around) == ""
    assert "ming" in check(
        "The Nong Shu was written by Wang Zhen of the Ming Dynasty.", wang, around
    )


def test_a_name_given_in_part_may_be_written_in_full_only_as_the_article_writes_it() -> None:
    kublai = "Kublai created the Imperial Academy of Medicine."
    around = "Yuan_dynasty\nKublai Khan ruled. " + kublai
    assert check("Kublai Khan created the Imperial Academy of Medicine.", kublai, around) == ""
    assert "smith" in check(
        "Kublai Smith created the Imperial Academy of Medicine.", kublai, around
    )


def test_an_answer_may_restate_its_questions_names_given_a_paragraph_away() -> None:
    span = "Richard then proceeded to conquer the whole island, his troops being led by Guy."
    around = "Normans\n" + span + "\nIn 1191 Richard the Lionheart took Cyprus from Isaac."
    claim = "Guy led Richard's troops when Cyprus was conquered."
    assert "cyprus" in check(claim, span, around)  # no question: a name from elsewhere
    assert check(claim, span, around, ("richard", "cyprus")) == ""
    crete = "Guy led Richard's troops when Crete was conquered."
    assert "crete" in check(crete, span, around, ("richard", "crete"))  # not in the article
    saudi = "Saudi Arabia, trying to recover market share, increased production in 1985."
    opec = "OPEC, trying to recover market share, increased production in 1985."
    # never in the place of a name the span gives
    assert "opec" in check(opec, saudi, "Oil\n" + saudi + "\nOPEC raised prices.", ("opec",))
