"""The support checker: ties each sentence to a quoted source span, or flags it; and refusal.

The LLM's own [n] markers are only a hint (the 1.5B model puts wrong numbers on right facts).
For every sentence the system searches the *retrieved* sentences (and adjacent pairs) for the
span that best supports it. Support combines
  - lexical coverage: the share of the sentence's content words (stemmed; names and numbers count
    double) that the span contains, and
  - embedding similarity (MiniLM cosine), rescaled;
and is then capped by claim-level checks that similarity cannot do: every number, every name
and the polarity (negation) of the sentence must agree with the span. Embedding similarity rates
a changed number as supported (cosine 0.87), so it never decides alone.

Refusal is decided from evidence, not from the prompt: nothing retrieved, nothing similar
enough, a name or number of the question absent from everything retrieved, the model reporting
no answer, or no drafted sentence supported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

from rag.terms import (
    NEGATIONS,
    STOPWORDS,
    by_initials,
    fold,
    has_negation,
    name_in,
    names,
    numbers,
    stem,
    tokens,
    words,
)
from rag.types import Citation, Document, Hit, Sentence

# /2: names must be in the quoted span, only neighbouring sentences pair up, reversed roles
# /3: a near-copy of a source sentence with a name put in another's place, a negation added or
# dropped, or a word swapped for its opposite (previous/revised, rose/fell) is caught by aligning
# the two word sequences; that replaces /2's check of name order, which flagged paraphrases
# ("the Florida colony was Fort Caroline"); names may come from the quoted article's title; a
# negation must differ from every quoted sentence, not only from a neighbour added for coverage
# /4: numbers may come from the quoted article's title; a negated clause copied word for word
# from the span agrees with it; an answer may restate its question's names that the article
# gives elsewhere, unless the span has a name the claim leaves out
CHECKER_VERSION = "lexical-embed-claims/4"

NOT_FOUND_PATTERNS = re.compile(
    r"NOT IN (THE )?SOURCES|not (mentioned|stated|provided|specified|given|included) in|"
    r"(passages?|sources?|text|articles?) (do|does|did) not (say|mention|state|provide|contain|"
    r"specify|give|include|tell)|"
    r"no information (about|on|regarding)|cannot be (determined|answered)|I (cannot|can't|don't) "
    r"(answer|know|find)",
    re.IGNORECASE,
)
_MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;-]\s*\d+)*)\]")


@dataclass(frozen=True)
class Unit:
    """A quotable span: one sentence, or two adjacent sentences, of a retrieved chunk."""

    doc_id: str
    chunk_id: str
    start: int
    end: int
    text: str
    parts: tuple[int, ...]  # indexes of the sentences (in the unit list) it is made of


@dataclass(frozen=True)
class Verdict:
    support: float
    units: tuple[Unit, ...]
    reason: str


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


def sentence_units(hits: Sequence[Hit], documents: dict[str, Document]) -> list[Unit]:
    """Every sentence of the retrieved chunks (deduplicated across overlapping chunks)."""
    seen: set[tuple[str, int, int]] = set()
    units: list[Unit] = []
    for hit in hits:
        doc = documents[hit.chunk.doc_id]
        for s, e in hit.chunk.sentences:
            key = (doc.id, s, e)
            if key in seen:
                continue
            seen.add(key)
            units.append(Unit(doc.id, hit.chunk.id, s, e, doc.text[s:e], (len(units),)))
    return units


def _weights(text: str) -> dict[str, float]:
    """Content tokens of a claim with their weights (names and numbers matter more)."""
    name_stems = {stem(n) for n in names(text)}
    w: dict[str, float] = {}
    for t in tokens(text):
        w[t] = 2.0 if (t in name_stems or t[0].isdigit()) else 1.0
    return w


class SupportChecker:
    """Scores how well spans of retrieved text support a sentence."""

    version = CHECKER_VERSION

    CHECKS = frozenset({"embedding", "numbers", "names", "relation", "negation", "opposites"})

    def __init__(
        self,
        embedder: object | None,
        threshold: float = 0.5,
        checks: frozenset[str] = CHECKS,
    ) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.checks = checks  # parts that can be switched off, for ablations
        self._last_units: tuple[tuple[str, ...], np.ndarray | None] | None = None

    def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        if self.embedder is None or not texts:
            return None
        return self.embedder.embed(list(texts))  # type: ignore[attr-defined]

    def embed_units(self, texts: Sequence[str]) -> np.ndarray | None:
        """Like `embed`, remembering the last set: checking many texts against one article
        (eval check, a summary's sentences, the planted-error set) embeds the article once."""
        key = tuple(texts)
        last = self._last_units  # one read: threads may replace it meanwhile
        if last is not None and last[0] == key:
            return last[1]
        vecs = self.embed(texts)
        self._last_units = (key, vecs)
        return vecs

    def check(
        self,
        claim: str,
        units: Sequence[Unit],
        unit_vecs: np.ndarray | None = None,
        claim_vec: np.ndarray | None = None,
        context: dict[str, str] | None = None,
        hint: set[int] | None = None,
        question: str = "",
    ) -> Verdict:
        """Best supporting span(s) among `units` for `claim`.

        `context` maps chunk_id → text around the unit (the chunk plus the document title):
        a name may be carried by the chunk ("the country" for Japan) but never come from nowhere.
        `hint` holds unit indexes the LLM pointed at; they win ties, nothing more.
        `question` is the question an answer replies to, if any (see `_claim_checks`).
        """
        if not units:
            return Verdict(0.0, (), "nothing was retrieved to support it")
        weights = _weights(claim)
        if not weights:
            return Verdict(0.0, (), "no checkable statement")
        total = sum(weights.values())
        unit_tokens = [set(tokens(u.text)) for u in units]
        cos = np.zeros(len(units))
        if unit_vecs is not None and claim_vec is not None:
            cos = unit_vecs @ claim_vec
        lex = np.array(
            [sum(w for t, w in weights.items() if t in ut) / total for ut in unit_tokens]
        )
        base = 0.5 * lex + 0.5 * np.clip((cos - 0.2) / 0.6, 0.0, 1.0)
        use_emb = unit_vecs is not None and "embedding" in self.checks
        if not use_emb:
            base = lex
        if hint:
            for i in hint:
                if 0 <= i < len(base):
                    base[i] += 0.02
        order = list(np.argsort(-base))
        best = int(order[0])
        chosen = (best,)
        score = float(base[best])
        # A neighbouring sentence when the first leaves content words uncovered (a claim spanning
        # two). Only a neighbour: two far-apart sentences together can "support" a chimera that
        # puts a name from one into the fact of the other.
        if lex[best] < 0.85:
            covered = unit_tokens[best]
            for j in _neighbours(units, best):
                union = covered | unit_tokens[j]
                lex2 = sum(w for t, w in weights.items() if t in union) / total
                cos2 = max(cos[best], cos[j])
                s2 = (
                    lex2
                    if not use_emb
                    else 0.5 * lex2 + 0.5 * min(1.0, max(0.0, (cos2 - 0.2) / 0.6))
                )
                if s2 > score + 0.06:
                    chosen, score = (best, j), s2
                    break
        picked = tuple(units[i] for i in chosen)
        score, reason = self._claim_checks(claim, picked, score, context or {}, question)
        return Verdict(float(min(1.0, max(0.0, score))), picked, reason)

    def _claim_checks(
        self,
        claim: str,
        picked: tuple[Unit, ...],
        score: float,
        context: dict[str, str],
        question: str = "",
    ) -> tuple[float, str]:
        """Numbers, names, negation and swapped words of `claim` against the quoted span.

        Numbers and names may also come from the quoted article's title ("December 25, 1973"
        quoting "By December 25, …" in the article 1973_oil_crisis). An answer that restates
        its `question` may carry the question's names when the quoted article says them a
        paragraph away ("Guy de Lusignan led Richard's troops when Cyprus was conquered"
        quoting "Richard then proceeded to conquer the whole island, his troops being led by
        Guy de Lusignan"): the model took them from the question, not from nowhere, and
        whether the question's premise holds is for the refusal rules and the answer check
        (rag.answerable) to judge. Only while the claim keeps every name of the span: "OPEC
        increased production" quoting "Saudi Arabia, trying to recover market share, increased
        production" puts the question's name in the place of the span's (a SQuAD 2.0
        unanswerable question, "What did OPEC do to gain market share in 1979?"). A name of
        the question that no retrieved paragraph of the article gives is flagged too. Not
        numbers: SQuAD 2.0's unanswerable questions swap in a year the article gives
        elsewhere ("How much of a loss did Forbes suffer in 2008?"); letting the question's
        numbers through as well answered one more of the 50 unanswerable tuning questions and
        no more answerable ones.
        """
        span_text = " ".join(u.text for u in picked)
        reasons = []
        on = self.checks
        # file-name titles ("Yuan_dynasty") name their subject with spaces
        titles = " ".join(
            {context.get(u.chunk_id, "").split("\n", 1)[0].replace("_", " ") for u in picked}
        )
        around = " ".join({context.get(u.chunk_id, "") for u in picked})
        missing_nums = (
            numbers(claim) - numbers(span_text) - numbers(titles) if "numbers" in on else set()
        )
        if missing_nums:
            reasons.append(
                "number " + ", ".join(_fmt(n) for n in sorted(missing_nums)) + " not in the source"
            )
            score = min(score, 0.3)
        # Names must be in the quoted span itself, or be what its article is about (its title:
        # "the Huguenots purchased…" quoting "they purchased…" in an article titled Huguenot).
        # A name found only elsewhere in the article is how a swapped name slips through.
        span_lower = span_text.lower()
        span_names = names(span_text)
        title_lower, title_names = titles.lower(), names(titles)
        missing_names = [
            n
            for n in names(claim)
            if "names" in on
            and not name_in(n, span_lower, span_names)
            and not name_in(n, title_lower, title_names)
        ]
        if missing_names and question and not _leaves_out_a_name(claim, span_names, titles):
            asked, around_lower, around_names = names(question), around.lower(), names(around)
            missing_names = [
                n
                for n in missing_names
                if not (n in asked and name_in(n, around_lower, around_names))
            ]
        if missing_names:
            initials = by_initials(claim, span_text + "\n" + titles)
            missing_names = [
                n
                for n in missing_names
                if n not in initials and not _rest_of_a_name(n, claim, span_text, around)
            ]
        if missing_names:
            reasons.append("name " + ", ".join(sorted(missing_names)) + " not in the source")
            score = min(score, 0.35)
        edits = aligned_edits(claim, picked)
        if not reasons and "relation" in on and "name" in edits:
            reasons.append(edits["name"])
            score = min(score, 0.35)
        # a negation in the neighbour that only completes the coverage ("It is believed that NP
        # is not equal to co-NP") is not the claim's: every quoted sentence must disagree
        negated = has_negation(claim)
        copied = negated and _copied_negation(claim, span_text)  # the span's own words
        if (
            "negation" in on
            and not copied
            and all(_negates(u.text, claim) != negated for u in picked)
        ):
            reasons.append("negation differs from the source")
            score = min(score, 0.35)
        elif "negation" in on and "negation" in edits:
            reasons.append(edits["negation"])
            score = min(score, 0.35)
        if "opposites" in on and "opposite" in edits:
            reasons.append(edits["opposite"])
            score = min(score, 0.35)
        if not reasons and score < self.threshold:
            reasons.append("the source does not say this")
        return score, "; ".join(reasons)

    def ground(
        self,
        sentences: Sequence[tuple[str, set[int]]],
        units: Sequence[Unit],
        documents: dict[str, Document],
        context: dict[str, str],
        hint_map: dict[int, set[int]] | None = None,
        unit_vecs: np.ndarray | None = None,
        question: str = "",
    ) -> list[Sentence]:
        """Ground each (sentence, marker numbers) against `units`; `question` when they answer
        one."""
        if not sentences:
            return []
        if unit_vecs is None and units:
            unit_vecs = self.embed_units([u.text for u in units])
        claim_vecs = self.embed([t for t, _ in sentences])
        out = []
        for i, (text, markers) in enumerate(sentences):
            hint: set[int] = set()
            for m in markers:
                hint |= (hint_map or {}).get(m, set())
            cvec = claim_vecs[i] if claim_vecs is not None else None
            v = self.check(text, units, unit_vecs, cvec, context, hint, question)
            out.append(self.sentence(text, v, documents))
        return out

    def sentence(self, text: str, v: Verdict, documents: dict[str, Document]) -> Sentence:
        """A Sentence from a verdict: cited when supported, flagged with the reason when not."""
        supported = bool(v.support >= self.threshold)
        cites = tuple(_citation(u, documents[u.doc_id], v.support) for u in v.units)
        if supported:
            text = as_the_source_writes(text, " ".join(u.text for u in v.units))
        return Sentence(
            text=text,
            supported=supported,
            support=float(v.support),
            citations=cites if supported else (),
            reason="" if supported else (v.reason or "the source does not say this"),
        )


# Typographic variants the model writes in ASCII ("1973-74" for the source's "1973–74");
# one character for one, so positions in the folded text are positions in the text
_TYPOGRAPHIC = str.maketrans(
    {c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"}
    | {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
)


def as_the_source_writes(text: str, span: str) -> str:
    """`text` with the span's own dashes and quote marks in the words it copies from the span.

    Why: a supported sentence is shown as the source's words, and the 1.5B model writes the
    en dash of "the winter of 1973–74" as a hyphen; a reader (or a benchmark's string match)
    comparing the answer with the article should see the article's characters. Only a word the
    span has, up to these variants ("1973-74", "it's"), is changed."""
    if span.isascii():
        return text
    folded_span = span.translate(_TYPOGRAPHIC)

    def restore(m: re.Match[str]) -> str:
        word = m.group(0)
        if not any(c in "-'\"" for c in word):
            return word
        found = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", folded_span)
        return span[found.start() : found.end()] if found else word

    return re.sub(r"\w+(?:[-'\"]+\w+)+", restore, text)


def _neighbours(units: Sequence[Unit], i: int) -> list[int]:
    """Indexes of the sentences right before and after unit i in the same document."""
    u = units[i]
    out = []
    for j, v in enumerate(units):
        if (
            v.doc_id == u.doc_id
            and j != i
            and (0 <= v.start - u.end <= 3 or 0 <= u.start - v.end <= 3)
        ):
            out.append(j)
    return out


_CAP = re.compile(r"[A-Z]")


def aligned_edits(claim: str, picked: Sequence[Unit]) -> dict[str, str]:
    """Short edits that turn a quoted sentence into the claim: a name put in another's place,
    a negation added or dropped. Keys "name" / "negation", values the reason shown.

    Aligning the claim's words with a quoted sentence finds what word sets cannot: "Aztec" and
    "Mictecacihuatl" both occur in the source, but the claim put each in the other's place
    ("tribute to Aztec, the goddess of death"), or moved a name from the next sentence into this
    one; "it's not unknown" turned into "it has not been emerging" keeps a negation on both
    sides. Judged only for near-copies (most words aligned, the changed run short); a paraphrase
    reorders freely and is left to the other checks.
    """
    cw = words(claim)
    found: dict[str, str] = {}
    for u in picked:
        sw = words(u.text)
        if not cw or not sw:
            continue
        sm = SequenceMatcher(None, [w.lower() for w in cw], [w.lower() for w in sw], autojunk=False)
        matched = sum(b.size for b in sm.get_matching_blocks())
        if matched / len(cw) < 0.6:
            continue
        for op, i1, i2, j1, j2 in sm.get_opcodes():
            if op == "equal" or i2 - i1 > 4 or j2 - j1 > 4:
                continue
            mine, theirs = cw[i1:i2], sw[j1:j2]
            if _negations(mine) != _negations(theirs) and "negation" not in found:
                added = "adds" if _negations(mine) > _negations(theirs) else "drops"
                found["negation"] = f"{added} a negation the source does not have"
            if op == "replace" and "opposite" not in found and (pair := _opposed(mine, theirs)):
                found["opposite"] = f'says "{pair[0]}" where the source says "{pair[1]}"'
            # capitalised words; a sentence's first word only when it is a name, not "The"
            caps = [w for k, w in enumerate(mine, i1) if _CAP.match(w) and (k or names(w))]
            source_caps = [w for k, w in enumerate(theirs, j1) if _CAP.match(w) and (k or names(w))]
            if op != "replace" or not caps or not source_caps or "name" in found:
                continue
            low = " ".join(source_caps).lower()
            initials = by_initials(" ".join(mine), " ".join(theirs))
            new = [
                w
                for w in caps
                if not name_in(_name_key(w), low, names(" ".join(source_caps)))
                and w.lower() not in initials
            ]
            if new:
                found["name"] = f"name {new[0]} where the source says {' '.join(source_caps)}"
    return found


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


# Words that turn a copied sentence into its contrary when swapped for each other: before and
# after ("the previous rules allowed" against "the revised rules now allow"), up and down.
_OPPOSITES = [
    (
        "previous former formerly earlier old before past original once prior",
        "new revised current now updated latest after later recent",
    ),
    (
        "increase increased rise rose grow grew gain up higher more raise raised double doubled "
        "triple tripled",
        "decrease decreased fall fell drop dropped shrink shrank loss down lower less fewer cut",
    ),
    (
        "allow allowed permit permitted approve approved accept accepted lift lifted",
        "ban banned forbid forbade prohibit prohibited reject rejected block blocked "
        "impose imposed",
    ),
    ("win won victory", "lose lost defeat"),
    ("buy bought import imported", "sell sold export exported"),
    ("open opened start started begin began", "close closed end ended stop stopped"),
    ("largest biggest highest most maximum first best", "smallest lowest least minimum last worst"),
    ("north east northern eastern", "south west southern western"),
]
_OPPOSED = [({stem(w) for w in a.split()}, {stem(w) for w in b.split()}) for a, b in _OPPOSITES]


def _opposed(mine: Sequence[str], theirs: Sequence[str]) -> tuple[str, str] | None:
    """A word of `mine` and one of `theirs` from opposite sides of one pair, if any."""
    ms = {stem(w.lower()): w for w in mine}
    ts = {stem(w.lower()): w for w in theirs}
    for a, b in _OPPOSED:
        for x, y in ((a, b), (b, a)):
            hit_m = next((ms[k] for k in ms if k in x), None)
            hit_t = next((ts[k] for k in ts if k in y), None)
            if hit_m and hit_t and not (set(ms) & y) and not (set(ts) & x):
                return hit_m, hit_t
    return None


_CLAUSE = re.compile(r"[;:()\[\]—–]|,\s|\.\s")


def _negates(text: str, claim: str) -> bool:
    """Does `text` hold a negation in a clause about what the claim is about?

    A negation elsewhere in the quoted sentence ("… defined using Boolean circuits. #P is a
    class of counting problems (not decision problems)", "the yes/no answers") does not make
    the claim's polarity differ: the negated clause must share two content words with it, and
    be (or tie with) the clause the claim matches best, by the share of the clause's words it
    repeats - "Huguenot immigrants did not disperse or settle in different parts of the country,
    but rather, formed three societies …; another 21 miles north of New York in a town which
    they named New Rochelle" does not deny that they settled New Rochelle. A near-copy matches
    every clause alike, so a negation dropped from any of them still counts.
    """
    want = set(tokens(claim))
    clauses = []
    for c in _CLAUSE.split(text):
        own = set(tokens(c))
        if len(own & want) >= 2:
            clauses.append((len(own & want) / len(own), c))
    best = max((r for r, _ in clauses), default=0.0)
    return any(r >= best - 0.1 and has_negation(c) for r, c in clauses)


def _leaves_out_a_name(claim: str, span_names: set[str], titles: str) -> bool:
    """Does the span name someone or something (beyond its article's title) the claim does
    not? Then a name the claim brings in may stand in that one's place."""
    claim_lower, claim_names = claim.lower(), names(claim)
    title_lower, title_names = titles.lower(), names(titles)
    return any(
        not name_in(m, claim_lower, claim_names) and not name_in(m, title_lower, title_names)
        for m in span_names
    )


def _copied_negation(claim: str, span: str) -> bool:
    """Is every negated clause of the claim a negated clause of the span, word for word?

    Why: `_negates` counts a span's negation only in a clause that shares two content words
    with the claim, so a near-copy that keeps a short negated clause of its source ("…
    increasing aid to Islamic groups (…) that did not, but …") would otherwise read as a
    negation the source lacks."""

    def plain(c: str) -> str:
        return " ".join(w.lower() for w in words(c))

    theirs = {plain(c) for c in _CLAUSE.split(span) if has_negation(c)}
    mine = [plain(c) for c in _CLAUSE.split(claim) if has_negation(c)]
    return bool(mine) and all(c in theirs for c in mine)


def _negations(ws: Sequence[str]) -> int:
    return sum(w.lower().replace("’", "'") in NEGATIONS or w.lower().endswith("n't") for w in ws)


def _name_key(word: str) -> str:
    found = names(word)
    return next(iter(found)) if found else word.lower()


def _citation(u: Unit, doc: Document, support: float) -> Citation:
    return Citation(
        doc_id=doc.id,
        chunk_id=u.chunk_id,
        title=doc.title,
        source=doc.source,
        published_at=doc.published_at,
        quote=doc.text[u.start : u.end],
        start=u.start,
        end=u.end,
        support=round(float(support), 4),
    )


def _fmt(n: float) -> str:
    for scale, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if n >= scale and (n / scale) * 1000 == int((n / scale) * 1000):
            return f"{n / scale:g} {word}"
    return str(int(n)) if float(n).is_integer() else f"{n:g}"


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


def missing_question_terms(question: str, evidence_text: str) -> list[str]:
    """Names and numbers of the question that appear nowhere in the retrieved text."""
    low = evidence_text.lower()
    ev_names = names(evidence_text)
    # A question's first word is capitalised by position ("Approximately how many…"), and
    # weekdays and months are dates, not topics: neither must be found in the evidence.
    first = question.split()[0] if question.split() else ""
    skip = set(_MONTHS) | ({first.lower()} if first and not first.isupper() else set())
    missing = [
        n for n in sorted(names(question)) if n not in skip and not name_in(n, low, ev_names)
    ]
    if missing:
        initials = by_initials(question, evidence_text)
        missing = [n for n in missing if n not in initials]
    ev_numbers = numbers(evidence_text)
    # years and figures asked about must be there; small counts ("two") are too common to judge
    missing += [_fmt(n) for n in sorted(numbers(question)) if n >= 10 and n not in ev_numbers]
    return missing


_NEG_PREFIX = ("non-", "non", "un", "dis", "in", "im", "ir", "il")
_WH = re.compile(r"^\W*(what|which|who|whom|whose|when|where|why|how)\b", re.IGNORECASE)


def premise_conflict(question: str, quoted: str) -> str:
    """Where the question presumes what the quoted source contradicts, say how; else ''.

    SQuAD 2.0's unanswerable questions are mostly written this way: copy a sentence's words and
    flip one ("Who disagrees with the timetable?" against "the Presiding Officer agrees the
    timetable", "respond in a specific way" against "non-specific"). An answer drawn from that
    sentence is well supported and still answers a question nobody asked. Also a wh-question
    whose answer is the source denying the very thing asked ("What is fully understood about γδ T
    cells?" – "…are not fully understood"), the denial in the clause about what is asked: in
    "Without the pressure reaching supercritical levels …, turbine entry temperatures are
    typically 565 °C (the creep limit of stainless steel)" nothing about the creep limit is denied.
    """
    q_words = {w.lower() for w in words(question)}
    s_words = {w.lower() for w in words(quoted)}
    for w in sorted(q_words - s_words):
        if len(w) < 4 or w in STOPWORDS:
            continue
        for x in s_words:
            for p in _NEG_PREFIX:
                # "not … able" asks what "unable" says: the negation moved, not the meaning
                if (x == p + w and not has_negation(question)) or (
                    w == p + x and not has_negation(quoted)
                ):
                    return f"the source says '{x}', not '{w}'"
        pair = _opposed([w], list(s_words - q_words))
        if pair:
            return f"the source says '{pair[1]}', not '{pair[0]}'"
    q_tokens = set(tokens(question))
    if (
        _WH.match(question)
        and not has_negation(question)
        and _negates(quoted, question)
        and q_tokens
        and len(q_tokens & set(tokens(quoted))) / len(q_tokens) >= 0.8
    ):
        return "the source denies what the question asks about"
    return ""


def question_coverage(question: str, evidence_text: str) -> float:
    """Share of the question's content words found in the retrieved text."""
    q = set(tokens(question))
    if not q:
        return 1.0
    ev = set(tokens(evidence_text))
    return len(q & ev) / len(q)


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


_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
]
_TIME_WORDS = re.compile(
    r"\b(yesterday|today|tomorrow|last|next|ago|since|century|decade|year|month|week|"
    + "|".join(_MONTHS)
    + r")\b",
    re.IGNORECASE,
)


def missing_answer_type(question: str, supported_text: str) -> str:
    """What kind of answer the question asks for that the supported text does not hold, or ''.

    "How many" needs a number, "when" a date or time, "who"/"where" a name the question does
    not already contain. A supported sentence that restates the question's topic without the
    thing asked for is not an answer.
    """
    q = question.strip().lower()
    new_numbers = numbers(supported_text) - numbers(question)
    if re.match(
        r"^(how (many|much|old|long|far)|what (percentage|share|number|amount)|"
        r"(in )?(what|which) year)\b",
        q,
    ):
        return "" if new_numbers else "a number"
    if re.match(r"^when\b", q):
        return "" if new_numbers or _TIME_WORDS.search(supported_text) else "a date or time"
    if re.match(r"^(who|whom|whose|where)\b", q):
        q_names = names(question)
        fresh = {n for n in names(supported_text) if n not in q_names}
        return "" if fresh else ("a place" if q.startswith("where") else "a name")
    return ""


_PART = re.compile(
    r"\?\s+|[,;]?\s+and\s+(?=(?:who|whom|when|where|how|which|what|in what|in which)\b)",
    re.IGNORECASE,
)


def uncovered_parts(question: str, supported_text: str) -> list[str]:
    """The parts of a several-part question the supported text does not answer.

    "Who makes the missiles and when will they ship?" answered with who alone is a partial
    answer: it is given, and says which part the sources do not cover.
    """
    parts = [p.strip(" ?,;") for p in _PART.split(question) if p and p.strip(" ?,;")]
    if len(parts) < 2:
        return []
    out = []
    for part in parts:
        missing = missing_answer_type(part, supported_text)
        if missing:
            out.append(f"{part} (no {missing.removeprefix('a ')} in the sources)")
    return out if len(out) < len(parts) else []


def document_units(documents: Sequence[Document]) -> tuple[list[Unit], dict[str, str]]:
    """Every sentence of whole documents as quotable units, with each document as context."""
    from rag.chunk import split_sentences

    units: list[Unit] = []
    context: dict[str, str] = {}
    for doc in documents:
        key = f"{doc.id}:doc"
        context[key] = f"{doc.title}\n{doc.text}"
        for s, e in split_sentences(doc.text):
            units.append(Unit(doc.id, key, s, e, doc.text[s:e], (len(units),)))
    return units, context


def check_text(text: str, documents: Sequence[Document], checker: SupportChecker) -> list[Sentence]:
    """Check any text (an answer, a human summary) sentence by sentence against documents.

    The same checker the pipeline grounds answers with; [n] markers in the text are ignored.
    Citations carry `chunk_id` "<doc_id>:doc" since whole documents, not chunks, are searched.
    """
    units, context = document_units(documents)
    by_id = {d.id: d for d in documents}
    drafted = [(t, set()) for t, _ in split_answer(text)]
    return checker.ground(drafted, units, by_id, context)
