"""Eval metrics, computed by the system: the support checker, embeddings and string matching.

No metric asks the LLM for an opinion (a 1.5B model is no judge). Each metric is a small pure
function over booleans or strings, so it can be tested on hand-made cases; `check_answer` and
`match_evidence` produce those inputs from a real Answer. eval/README.md defines every metric
and says how refused answers count in it.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rag.ground import SupportChecker, Unit, sentence_units
from rag.terms import tokens
from rag.types import Answer, Citation, Document, Hit

# ---- answers vs references (SQuAD-style) -----------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation (any script's, curly quotes too), no articles, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(
        " " if (unicodedata.category(ch).startswith("P") or ch in string.punctuation) else ch
        for ch in text
    )
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 between normalised texts."""
    p = normalize_answer(prediction).split()
    r = normalize_answer(reference).split()
    if not p or not r:
        return float(p == r)
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def contains_answer(prediction: str, references: Iterable[str]) -> bool:
    """Does the prediction hold any reference: as whole words after normalisation, or with every
    content word of the reference present (stemmed, any order: "Patriot missile" holds
    "Patriot missiles")?"""
    pred = f" {normalize_answer(prediction)} "
    pred_tokens = set(tokens(prediction))
    for r in references:
        ref = normalize_answer(r or "")
        if ref and f" {ref} " in pred:
            return True
        ref_tokens = set(tokens(r or ""))
        if ref_tokens and ref_tokens <= pred_tokens:
            return True
    return False


def answer_correctness(prediction: str, references: Sequence[str]) -> tuple[float, float]:
    """(containment 0/1, best token F1) of an answer against any of its reference answers."""
    if not references:
        return 0.0, 0.0
    contained = 1.0 if contains_answer(prediction, references) else 0.0
    return contained, max(token_f1(prediction, r) for r in references)


# ---- aggregation ----------------------------------------------------------------------------


def share(flags: Sequence[bool]) -> float | None:
    """Share of True values; None when there is nothing to count (the metric is undefined)."""
    return sum(bool(f) for f in flags) / len(flags) if flags else None


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the defined values; None when none is defined."""
    vals = [v for v in values if v is not None]
    return float(sum(vals) / len(vals)) if vals else None


def faithfulness(supported: Sequence[bool]) -> float | None:
    """Share of answer sentences the support checker finds supported by the retrieved text."""
    return share(supported)


def citation_recall(cited_support: Sequence[bool]) -> float | None:
    """ALCE recall: share of sentences fully supported by their own citations taken together."""
    return share(cited_support)


def citation_precision(precise: Sequence[Sequence[bool]]) -> float | None:
    """ALCE precision: share of all citations that are precise (None when nothing is cited)."""
    flat = [p for per_sentence in precise for p in per_sentence]
    return share(flat)


def context_precision(relevant: Sequence[bool]) -> float | None:
    """Rank-aware precision of retrieval (RAGAS): mean of precision@k at each relevant rank.

    1.0 when every relevant chunk is ranked above every irrelevant one; 0.0 when none of the
    retrieved chunks is relevant; None when nothing was retrieved.
    """
    if not relevant:
        return None
    hits, total = 0, 0.0
    for k, rel in enumerate(relevant, start=1):
        if rel:
            hits += 1
            total += hits / k
    return total / hits if hits else 0.0


def context_recall(found: Sequence[bool]) -> float | None:
    """Share of the case's evidence items found among the retrieved chunks."""
    return share(found)


def refusal_rates(answerable: Sequence[bool], refused: Sequence[bool]) -> tuple[float | None, ...]:
    """(refusal_accuracy, false_refusal_rate): refused unanswerables / unanswerables and
    refused answerables / answerables."""
    un = [r for a, r in zip(answerable, refused, strict=True) if not a]
    an = [r for a, r in zip(answerable, refused, strict=True) if a]
    return share(un), share(an)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b / (na * nb)) if na and nb else 0.0


# ---- from an Answer to the inputs of the metrics ---------------------------------------------


@dataclass(frozen=True)
class SentenceCheck:
    """One answer sentence re-verified by the checker, independently of the pipeline's verdict."""

    text: str
    supported: bool  # some retrieved span supports it (faithfulness)
    support: float
    reason: str
    cited_support: bool  # its citations together support it (citation recall)
    precise: tuple[bool, ...]  # per citation, ALCE precision

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "supported": self.supported,
            "support": round(self.support, 4),
            "reason": self.reason,
            "cited_support": self.cited_support,
            "precise": list(self.precise),
        }


def _quote_unit(cites: Sequence[Citation]) -> Unit:
    """The quotes of some citations as one span: "taken together", as ALCE concatenates them."""
    c = cites[0]
    return Unit(c.doc_id, c.chunk_id, c.start, c.end, " ".join(x.quote for x in cites), (0,))


class _Vectors:
    """Embeds every text once, in one batch, then looks vectors up by text."""

    def __init__(self, checker: SupportChecker, texts: Iterable[str]) -> None:
        unique = list(dict.fromkeys(texts))
        vecs = checker.embed(unique)
        self.vecs = dict(zip(unique, vecs, strict=True)) if vecs is not None else {}

    def get(self, text: str) -> np.ndarray | None:
        return self.vecs.get(text)

    def stack(self, texts: Sequence[str]) -> np.ndarray | None:
        got = [self.vecs.get(t) for t in texts]
        return np.stack(got) if got and all(g is not None for g in got) else None  # type: ignore[arg-type]


def _groups(cites: Sequence[Citation]) -> list[list[Citation]]:
    """The citation sets ALCE looks at: all together, each alone, all but each."""
    out = [list(cites)] + [[c] for c in cites]
    if len(cites) > 1:
        out += [[c for k, c in enumerate(cites) if k != j] for j in range(len(cites))]
    return out


def check_answer(
    answer: Answer,
    documents: Mapping[str, Document],
    checker: SupportChecker,
    chunk_texts: Mapping[str, str] | None = None,
) -> list[SentenceCheck]:
    """Re-check every sentence of an answer: against all retrieved text, and against its quotes.

    The sentence *text* is what is checked, not the pipeline's `supported` flag, so an answer
    whose words were changed after grounding (a number, a name) is caught. `chunk_texts` maps
    chunk ids to their text: a name may come from the chunk around a quote, as in grounding.
    """
    if not answer.sentences:
        return []
    known = [h for h in answer.retrieved if h.chunk.doc_id in documents]
    units = sentence_units(known, dict(documents))
    context = {h.chunk.id: f"{documents[h.chunk.doc_id].title}\n{h.chunk.text}" for h in known}
    for s in answer.sentences:
        for c in s.citations:
            if c.chunk_id not in context:
                context[c.chunk_id] = _around(c, documents, chunk_texts)
    texts = [s.text for s in answer.sentences]
    spans = [_quote_unit(g).text for s in answer.sentences for g in _groups(s.citations) if g]
    vectors = _Vectors(checker, texts + [u.text for u in units] + spans)
    unit_vecs = vectors.stack([u.text for u in units])

    def supports(text: str, cites: Sequence[Citation]) -> bool:
        if not cites:
            return False
        unit = _quote_unit(cites)
        cvec = vectors.get(text)
        uvecs = vectors.stack([unit.text])
        if cvec is None or uvecs is None:
            cvec, uvecs = None, None
        return checker.check(text, [unit], uvecs, cvec, context).supported

    out = []
    for s in answer.sentences:
        v = checker.check(s.text, units, unit_vecs, vectors.get(s.text), context)
        cites = list(s.citations)
        joint = supports(s.text, cites)
        precise = []
        for j, c in enumerate(cites):
            if not joint:
                precise.append(False)  # ALCE: no citation of an unsupported sentence is precise
            elif supports(s.text, [c]):
                precise.append(True)
            else:
                # not enough alone, yet precise when the others cannot do without it
                rest = [x for k, x in enumerate(cites) if k != j]
                precise.append(not supports(s.text, rest))
        out.append(SentenceCheck(s.text, v.supported, v.support, v.reason, joint, tuple(precise)))
    return out


def _around(c: Citation, documents: Mapping[str, Document], chunks: Mapping[str, str] | None):
    if chunks and c.chunk_id in chunks:
        title = documents[c.doc_id].title if c.doc_id in documents else c.title
        return f"{title}\n{chunks[c.chunk_id]}"
    doc = documents.get(c.doc_id)
    if doc is None:
        return f"{c.title}\n{c.quote}"
    return f"{doc.title}\n{doc.text[max(0, c.start - 800) : c.end + 800]}"


# ---- retrieval vs the case's evidence --------------------------------------------------------

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'", "`": "'"})


def normalize_quote(text: str) -> str:
    """For verbatim matching that forgives white space, quote characters and case."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_QUOTES).lower().split())


class DocResolver:
    """Maps an evidence doc_id or title to the indexed Document ids it names.

    A doc_id is a newsrag id, or the record key a document was loaded with ("file#key" in
    Document.path): RealTimeQA's "rtqa_..." ids and SQuAD paragraph ids resolve this way.
    """

    def __init__(self, documents: Iterable[Document]) -> None:
        self.by_key: dict[str, set[str]] = {}
        self.by_title: dict[str, set[str]] = {}
        for d in documents:
            self.by_key.setdefault(d.id, set()).add(d.id)
            if "#" in d.path:
                self.by_key.setdefault(d.path.rsplit("#", 1)[1], set()).add(d.id)
            if d.title:
                self.by_title.setdefault(d.title.strip().lower(), set()).add(d.id)

    def docs(self, doc_id: str | None, title: str | None) -> set[str]:
        if doc_id:
            return set(self.by_key.get(doc_id, set()))
        if title:
            return set(self.by_title.get(title.strip().lower(), set()))
        return set()


def match_evidence(
    evidence: Sequence[object], hits: Sequence[Hit], resolver: DocResolver
) -> tuple[list[bool], list[bool]]:
    """(relevant per retrieved chunk, found per evidence item).

    An item with a quote is matched by the quote: a chunk containing it (normalised), or a
    chunk of its document covering at least half of its offsets. An item without a quote is
    matched by its document (doc_id, else title): any chunk of it is relevant.
    """
    chunk_norm = [normalize_quote(h.chunk.text) for h in hits]
    relevant = [False] * len(hits)
    found = []
    for ev in evidence:
        quote = getattr(ev, "quote", "") or ""
        docs = resolver.docs(getattr(ev, "doc_id", None), getattr(ev, "title", None))
        start, end = getattr(ev, "start", None), getattr(ev, "end", None)
        hit_any = False
        for i, h in enumerate(hits):
            if quote:
                nq = normalize_quote(quote)
                ok = bool(nq) and nq in chunk_norm[i]
                if not ok and start is not None and end is not None and h.chunk.doc_id in docs:
                    overlap = min(end, h.chunk.end) - max(start, h.chunk.start)
                    ok = overlap >= max(1, (end - start) / 2)
            else:
                ok = h.chunk.doc_id in docs
            if ok:
                relevant[i] = True
                hit_any = True
        found.append(hit_any)
    return relevant, found
