"""Public question sets → suites: RealTimeQA and SQuAD 2.0 (formats in the data READMEs).

Gold articles and paragraphs become evidence by their record id (the key the loader puts after
'#' in Document.path), so a suite imported here scores retrieval against an index built from
the same article file. Selection is deterministic: the first N in file order, or a seeded sample.
"""

from __future__ import annotations

import html
import json
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rag.chunk import split_sentences
from rag.eval.suite import Case, EvalError, Evidence
from rag.load import normalize_text


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise EvalError(f"{path}: cannot read ({e})") from e
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise EvalError(f"{path}: line {n}: malformed JSON ({e.msg})") from e
        if not isinstance(rec, dict):
            raise EvalError(f"{path}: line {n}: a record must be a JSON object")
        yield n, rec


def _need(rec: dict[str, Any], fields: tuple[str, ...], path: Path, n: int) -> None:
    missing = [f for f in fields if f not in rec]
    if missing:
        raise EvalError(
            f"{path}: line {n}: missing {', '.join(missing)} (is this the right format?)"
        )


def _select(cases: list[Case], limit: int | None, seed: int | None) -> list[Case]:
    if limit is None or limit >= len(cases):
        return cases
    if seed is None:
        return cases[:limit]
    picked = sorted(random.Random(seed).sample(range(len(cases)), limit))
    return [cases[i] for i in picked]


def _iso(date: str | None) -> str | None:
    m = re.match(r"(\d{4})[/-](\d{2})[/-](\d{2})", date or "")
    return f"{m[1]}-{m[2]}-{m[3]}" if m else None


def _plain(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", text or "")).split())


def import_realtimeqa(
    path: Path,
    limit: int | None = None,
    seed: int | None = None,
    gold_only: bool = False,
    **_: Any,
) -> list[Case]:
    """RealTimeQA questions.jsonl → cases (all answerable; gold articles as evidence).

    The question is asked open-ended on its quiz date (`as_of`): articles published later are
    not seen. The reference answers are `answer_text` (the right choice); the choices and the
    quiz writer's explanation are kept as extra fields.
    """
    cases = []
    for n, rec in _records(path):
        _need(rec, ("question_id", "question_sentence", "answer_text"), path, n)
        gold = [str(g) for g in rec.get("gold_doc_ids") or []]
        if gold_only and not gold:
            continue
        answers = [a for a in rec["answer_text"] if isinstance(a, str) and a.strip()]
        source = rec.get("question_source") or ""
        cases.append(
            Case(
                id=str(rec["question_id"]),
                question=" ".join(str(rec["question_sentence"]).split()),
                answerable=True,
                reference_answer=answers[0] if answers else None,
                evidence=tuple(Evidence(doc_id=g) for g in gold),
                tags=tuple(t for t in ("realtimeqa", source, "gold" if gold else "") if t),
                extra={
                    "as_of": _iso(rec.get("question_date")),
                    "choices": rec.get("choices") or [],
                    "reference_answers": answers,
                    "explanation": _plain(rec.get("evidence") or ""),
                },
            )
        )
    return _select(cases, limit, seed)


def _answer_sentence(context: str, start: int, text: str) -> tuple[str, int | None, int | None]:
    """The sentence of the paragraph holding an answer span, with its offsets in the document.

    Offsets are given only when the loader keeps the paragraph unchanged (they index the
    indexed document's text); the quote alone still matches otherwise.
    """
    for s, e in split_sentences(context):
        if s <= start < e:
            quote = context[s : max(e, min(len(context), start + len(text)))]
            exact = normalize_text(context) == context
            return quote, (s if exact else None), (s + len(quote) if exact else None)
    return text, None, None


def import_squad2(
    path: Path,
    limit: int | None = None,
    seed: int | None = None,
    unanswerable_share: float | None = None,
    paragraphs: Path | None = None,
    **_: Any,
) -> list[Case]:
    """SQuAD 2.0 questions.jsonl → cases; `is_impossible` questions become answerable=false.

    Evidence is the question's paragraph (its `paragraph_id`, the key the loader gives each
    record of paragraphs.jsonl) with, for answerable questions, the sentence holding the first
    answer as the quote (read from paragraphs.jsonl beside the questions, when it is there).
    `unanswerable_share` (with `limit`) picks that share of unanswerables, e.g. 0.5 for half.
    """
    para_file = paragraphs or Path(path).with_name("paragraphs.jsonl")
    contexts: dict[str, str] = {}
    if para_file.exists():
        for _n, p in _records(para_file):
            if "paragraph_id" in p and "context" in p:
                contexts[str(p["paragraph_id"])] = str(p["context"])
    cases = []
    for n, rec in _records(path):
        _need(rec, ("id", "question", "is_impossible", "paragraph_id"), path, n)
        pid = str(rec["paragraph_id"])
        impossible = bool(rec["is_impossible"])
        answers = list(dict.fromkeys(a["text"] for a in rec.get("answers") or []))
        title = rec.get("title")
        ev = Evidence(doc_id=pid, title=title)
        if answers and pid in contexts:
            first = rec["answers"][0]
            quote, s, e = _answer_sentence(contexts[pid], int(first["answer_start"]), first["text"])
            ev = Evidence(quote=quote, doc_id=pid, title=title, start=s, end=e)
        extra: dict[str, Any] = {"paragraph_id": pid, "reference_answers": answers}
        if impossible:
            extra["plausible_answers"] = [a["text"] for a in rec.get("plausible_answers") or []]
        cases.append(
            Case(
                id=str(rec["id"]),
                question=str(rec["question"]).strip(),
                answerable=not impossible,
                reference_answer=answers[0] if answers else None,
                evidence=(ev,),
                tags=("squad2", "unanswerable" if impossible else "answerable")
                + ((str(title),) if title else ()),
                extra=extra,
            )
        )
    if unanswerable_share is not None and limit is not None:
        if not 0.0 <= unanswerable_share <= 1.0:
            raise EvalError("unanswerable share must be between 0 and 1")
        k_un = round(limit * unanswerable_share)
        un = _select([c for c in cases if not c.answerable], k_un, seed)
        an = _select([c for c in cases if c.answerable], limit - len(un), seed)
        keep = {c.id for c in un + an}
        return [c for c in cases if c.id in keep]
    return _select(cases, limit, seed)


Importer = Callable[..., list[Case]]
FORMATS: dict[str, Importer] = {"realtimeqa": import_realtimeqa, "squad2": import_squad2}


def import_suite(fmt: str, path: str | Path, **options: Any) -> list[Case]:
    """Cases from a public question file in format `fmt` (one of FORMATS)."""
    if fmt not in FORMATS:
        raise EvalError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")
    p = Path(path)
    if not p.is_file():
        raise EvalError(f"{p}: no such file")
    cases = FORMATS[fmt](p, **options)
    if not cases:
        raise EvalError(f"{p}: no questions selected")
    return cases
