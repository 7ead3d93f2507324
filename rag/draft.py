"""The LLM's draft → the sentences to check, with the [n] markers each one carried.

The markers are only hints (the 1.5B model puts wrong numbers on right facts); preambles ("The
passage [3] states that …") and sentences about the passages themselves are no claims and go.
"""

from __future__ import annotations

import re

from rag.terms import words

NOT_FOUND_PATTERNS = re.compile(
    r"NOT IN (THE )?SOURCES|not (mentioned|stated|provided|specified|given|included) in|"
    r"(passages?|sources?|text|articles?) (do|does|did) not (say|mention|state|provide|contain|"
    r"specify|give|include|tell)|"
    r"no information (about|on|regarding)|cannot be (determined|answered)|I (cannot|can't|don't) "
    r"(answer|know|find)",
    re.IGNORECASE,
)
_MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;-]\s*\d+)*)\]")


def strip_markers(text: str) -> tuple[str, set[int]]:
    """Sentence text without [n] markers, and the passage numbers the markers named."""
    nums: set[int] = set()
    for m in _MARKER.finditer(text):
        for part in re.split(r"[,;]", m.group(1)):
            if "-" in part:
                a, b = part.split("-", 1)
                if a.strip().isdigit() and b.strip().isdigit():
                    nums.update(range(int(a), int(b) + 1))
            elif part.strip().isdigit():
                nums.add(int(part))
    clean = _MARKER.sub("", text).strip()
    clean = re.sub(r"\s+([.,;:!?])", r"\1", clean)
    return clean, nums


_META = re.compile(
    r"^(this|that|it|which) (is|was) (stated|mentioned|said|noted|explained|described|shown) in "
    r"(the )?(passages?|sources?|text|articles?)",
    re.IGNORECASE,
)


def says_not_found(text: str) -> bool:
    """The model saying the passages lack the answer (a statement about sources, not a fact)."""
    return bool(NOT_FOUND_PATTERNS.search(text))


def is_meta(text: str) -> bool:
    """A sentence about the passages themselves ("This is stated in passage 3")."""
    return bool(_META.search(text))


_SOURCE_WORD = r"(?:the )?(?:passages?|sources?|text|articles?|evidence)"
# "passage [3]", "passage 3", "the passage from Article 7", "the text in passage [2]"
_SOURCE_REF = rf"{_SOURCE_WORD}(?: (?:from|in) {_SOURCE_WORD})?(?: \[?\d+\]?)?"
_PREAMBLE = re.compile(
    rf"^(?:(?:according to|based on|as stated in|as per) {_SOURCE_REF},?\s*|{_SOURCE_REF} "
    r"(?:states?|says?|mentions?|indicates?|notes?|reports?|explains?|shows?) that\s+)",
    re.IGNORECASE,
)
# a sentence that only points at evidence: "Passage [4]", "See article 2."
_POINTER = re.compile(rf"^(?:see |in )?{_SOURCE_REF}\W*$", re.IGNORECASE)


def _drop_preamble(text: str) -> str:
    """ "The passage [3] states that X" → "X": the claim is X, the preamble is no fact."""
    m = _PREAMBLE.match(text)
    if not m or m.end() >= len(text):
        return text
    rest = text[m.end() :]
    return rest[0].upper() + rest[1:]


def split_answer(draft: str, pointers: bool = False) -> list[tuple[str, set[int]]]:
    """The draft's sentences, markers stripped (and remembered); empty ones dropped.

    A sentence that only points at evidence ("Passage [4]": the small model sometimes answers
    so) comes back as ("", {4}) when `pointers`, for the caller to replace with the sentence
    pointed at; otherwise it is dropped."""
    from rag.chunk import split_sentences

    out = []
    # markers sit after the full stop ("... US. [2]") as often as before it; move them inside
    normalized = re.sub(r"([.!?])\s*((?:\[\d+(?:\s*[,;-]\s*\d+)*\]\s*)+)", r" \2\1 ", draft)
    for s, e in split_sentences(normalized):
        raw = _drop_preamble(normalized[s:e].strip())
        text, nums = strip_markers(raw)
        nums |= strip_markers(normalized[s:e])[1]
        if nums and _POINTER.match(text):
            if pointers:
                out.append(("", nums))
            continue
        if not any(w.isalnum() for w in words(text)) or is_meta(text):
            continue
        out.append((text, nums))
    return out
