"""Hard constraints on a claim's span: every number and every name must be there.

These stay beside the trained support model (rag.ground) because they are exact and the model
is not: a MiniLM reads "$80 billion" and "$60 billion" as near-identical, and a name that
appears nowhere near the quoted span came from somewhere else. Each check returns the reason
shown to the user, or "".

Numbers and names may also come from the quoted article's title ("December 25, 1973" quoting
"By December 25, …" in the article 1973_oil_crisis; "the Huguenots purchased…" quoting "they
purchased…" in the article Huguenot). An answer may restate its question's names when the
quoted article gives them a paragraph away ("Guy de Lusignan led Richard's troops when Cyprus
was conquered" quoting "…his troops being led by Guy de Lusignan"), but never in the place of a
name the span gives ("OPEC increased production" quoting "Saudi Arabia … increased
production", a SQuAD 2.0 unanswerable question). A name the span gives in part ("Kublai") may
be written in full ("Kublai Khan") when its chunk or article writes it so; initials count for
the name they spell (TEU ~ Treaty on European Union).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from rag.terms import by_initials, fold, name_in, names, numbers
from rag.types import Unit


def number_text(n: float) -> str:
    for scale, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if n >= scale and (n / scale) * 1000 == int((n / scale) * 1000):
            return f"{n / scale:g} {word}"
    return str(int(n)) if float(n).is_integer() else f"{n:g}"


def span_titles(picked: Sequence[Unit], context: dict[str, str]) -> str:
    """The quoted articles' titles; file-name titles ("Yuan_dynasty") read with spaces."""
    return " ".join(
        {context.get(u.chunk_id, "").split("\n", 1)[0].replace("_", " ") for u in picked}
    )


def missing_numbers(claim: str, span: str, titles: str) -> str:
    """Figures of the claim (digits, with their scale) that neither span nor title gives.
    Small numbers written as words ("two contractors", "no one") are left to the model: a
    paraphrase counts what the source lists, and "one" is as often a pronoun."""
    missing = numbers(claim, spelled=False) - numbers(span) - numbers(titles)
    if not missing:
        return ""
    return "number " + ", ".join(number_text(n) for n in sorted(missing)) + " not in the source"


def claim_names(claim: str, around: str) -> set[str]:
    """The claim's names; its first word only when the article writes that word capitalised
    inside a sentence ("Mitsubishi makes …"), not a sentence opener ("Whereas", "Jurors")."""
    found = names(claim)
    first = claim.split()[0] if claim.split() else ""
    opener = names(first)
    if opener and not first.isupper() and first[1:].islower():
        inside = re.search(rf"(?<![.!?\n]\s)(?<!^)\b{re.escape(first.strip('.,;:'))}\b", around)
        if not inside:
            found -= opener
    return found


def missing_names(
    claim: str, span: str, titles: str, around: str, question_names: Collection[str] = ()
) -> str:
    span_lower, span_names = span.lower(), names(span)
    title_lower, title_names = titles.lower(), names(titles)
    missing = [
        n
        for n in claim_names(claim, around)
        if not name_in(n, span_lower, span_names) and not name_in(n, title_lower, title_names)
    ]
    if missing and question_names and not _leaves_out_a_name(claim, span_names, titles):
        around_lower, around_names = around.lower(), names(around)
        missing = [
            n
            for n in missing
            if not (n in question_names and name_in(n, around_lower, around_names))
        ]
    if missing:
        initials = by_initials(claim, span + "\n" + titles)
        missing = [
            n for n in missing if n not in initials and not _rest_of_a_name(n, claim, span, around)
        ]
    return "name " + ", ".join(sorted(missing)) + " not in the source" if missing else ""


def violated(
    claim: str,
    picked: Sequence[Unit],
    context: dict[str, str],
    question_names: Collection[str] = (),
) -> str:
    """The first constraint the claim breaks against its span, or ""."""
    span = " ".join(u.text for u in picked)
    titles = span_titles(picked, context)
    around = " ".join({context.get(u.chunk_id, "") for u in picked})
    return missing_numbers(claim, span, titles) or missing_names(
        claim, span, titles, around, question_names
    )


def _leaves_out_a_name(claim: str, span_names: set[str], titles: str) -> bool:
    """Does the span name someone or something (beyond its article's title) the claim does
    not? Then a name the claim brings in may stand in that one's place."""
    claim_lower, claim_names = claim.lower(), names(claim)
    title_lower, title_names = titles.lower(), names(titles)
    return any(
        not name_in(m, claim_lower, claim_names) and not name_in(m, title_lower, title_names)
        for m in span_names
    )


_NAME_RUN = re.compile(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)+")


def _rest_of_a_name(name: str, claim: str, span: str, around: str) -> bool:
    """Is `name` the rest of a name the span gives in part ("Kublai Khan" for the span's
    "Kublai"), written out in full around the span (its chunk or article)? Only then: "John
    Smith" for a span's "John" is a swapped surname unless the article names John Smith."""
    span_lower, span_names = span.lower(), names(span)
    for m in _NAME_RUN.finditer(fold(claim)):
        run = m.group(0)
        parts = [p.lower() for p in run.split()]
        if name not in parts or run not in fold(around):
            continue
        if any(p != name and name_in(p, span_lower, span_names) for p in parts):
            return True
    return False
