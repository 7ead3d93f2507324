"""Metadata a file does not state, read from its text: a title and a publication date.

A plain news text file usually opens with a headline, a bullet summary, or straight into the
first paragraph after a dateline ("New York (CNN Business) ..."), and a crawled body often starts
with boilerplate ("Sign up for ... newsletter", "CNN —", a byline). The title is the first line
that reads as a headline (a few words, no closing full stop, not a byline or a dateline), else
the first sentence of the first real line, shortened at a word boundary. The date is the first
full date (with a year) in the opening of the text, else the file's modification time. Both are
marked as guessed (`Document.guessed`), so listings and citations can say so.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from rag.chunk import BULLET, split_sentences
from rag.query import MONTH_RE, MONTHS

TITLE_CHARS = 90  # a guessed title longer than this is cut at a word boundary
HEAD_LINES = 6  # lines a headline may sit in
DATE_CHARS = 600  # how far into the text a publication date is looked for

# bylines and credits: "Randy Cordova, The Republic | azcentral.com", "The Associated Press"
_CREDIT = re.compile(r"\||@|\.com\b|\bAssociated Press\b|^\(?photo|^getty", re.IGNORECASE)
_BOILERPLATE = re.compile(
    r"\b(sign up|subscribe|newsletter|first appeared in|advertisement|cookies?|click here|"
    r"read more|all rights reserved|follow us)\b",
    re.IGNORECASE,
)
_BYLINE = re.compile(r"^(by|for the|for|from|photo|image|video|updated|published|posted)\b", re.I)
# "CNN —", "New York CNN Business —", "Washington (CNN) —", "(CNN)": a dateline, not a title
_PLACE = r"(?:[A-Z][\w.'’]*(?:,?\s+[A-Z][\w.'’]*){0,3}\s+)?"
_AGENCY = r"(?:CNN|AP|Reuters|AFP)"
_DATELINE = re.compile(rf"^{_PLACE}\(?{_AGENCY}[\w ]*\)?\s*[—–-]*\s*")
_LEADING_DATELINE = re.compile(
    rf"^{_PLACE}\({_AGENCY}[^)]*\)\s*[—–-]*\s*"
    r"|^[A-Z][A-Z .'’]{2,40}(?:,\s*[A-Z][A-Za-z.]{1,12})?\s*[—–-]+\s*"
)
_YEAR = r"(?P<y>(?:19|20)\d\d)"
_DATES = [
    re.compile(rf"\b(?P<m>{MONTH_RE})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+{_YEAR}\b", re.I),
    re.compile(rf"\b(?P<d>\d{{1,2}})\s+(?P<m>{MONTH_RE})\.?,?\s+{_YEAR}\b", re.I),
    re.compile(rf"\b{_YEAR}-(?P<mn>\d{{2}})-(?P<d>\d{{2}})(?!\d)"),
]


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def _is_noise(line: str) -> bool:
    """Boilerplate, a bare dateline, a byline or a date line: never a title."""
    if _BOILERPLATE.search(line) or _CREDIT.search(line):
        return True
    if not _DATELINE.sub("", line).strip(" —–-"):
        return True
    words = line.split()
    if _BYLINE.match(line) and len(words) <= 8:
        return True
    return bool(find_date(line)) and len(words) <= 8


def _reads_as_headline(line: str) -> bool:
    words = line.split()
    return (
        4 <= len(words) <= 20
        and len(line) <= 120
        and not BULLET.match(line)
        and not line.endswith((".", ",", ";", ":", "…"))
        and line[0].isupper()
        and sum(c.isalpha() for c in line) > len(line) / 2
    )


def shorten(text: str, limit: int = TITLE_CHARS) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0].rstrip(" ,;:—–-")
    return cut + "…"


def first_sentence(line: str) -> str:
    """The line's first sentence (rag.chunk's splitter: abbreviations kept), no dateline."""
    line = _LEADING_DATELINE.sub("", BULLET.sub("", line)).strip(" —–-")
    spans = split_sentences(line)
    sentence = line[spans[0][0] : spans[0][1]] if spans else line
    return sentence.strip().rstrip(".")


def guess_title(text: str) -> str:
    """The headline of a news text, or its first sentence shortened; '' when it has neither."""
    lines = _lines(text)
    for line in lines[:3]:
        if line.startswith("#"):
            return shorten(line.lstrip("#").strip(), 120)
    real = [ln for ln in lines[:HEAD_LINES] if not _is_noise(ln)]
    if real and _reads_as_headline(real[0]):
        return shorten(real[0], 120)
    for line in real or lines[:HEAD_LINES]:
        sentence = first_sentence(line)
        if len(sentence.split()) >= 5:
            return shorten(sentence)
    return ""


def stated_title(text: str) -> bool:
    """Does the text state its title (a Markdown heading) rather than leave it to a guess?"""
    return any(line.startswith("#") for line in _lines(text)[:3])


def find_date(text: str) -> str | None:
    """The first full date (day, month and year) in `text`, as YYYY-MM-DD."""
    best: tuple[int, str] | None = None
    for pattern in _DATES:
        for m in pattern.finditer(text):
            g = m.groupdict()
            month = int(g["mn"]) if g.get("mn") else MONTHS[g["m"].lower()]
            try:
                day = date(int(g["y"]), month, int(g["d"])).isoformat()
            except ValueError:
                continue
            if best is None or m.start() < best[0]:
                best = (m.start(), day)
            break
    return best[1] if best else None


def guess_date(text: str, path: Path | None) -> str | None:
    """A date in the opening of the text, else the file's modification day."""
    found = find_date(text[:DATE_CHARS])
    if found:
        return found
    if path is not None:
        try:
            return datetime.fromtimestamp(path.stat().st_mtime).date().isoformat()
        except OSError:
            return None
    return None
