"""Eval suites: JSONL files of cases, one question a line.

    {"id", "question", "answerable": bool, "reference_answer"?: str,
     "evidence"?: [{"doc_id"?, "title"?, "quote"?, "start"?, "end"?}], "tags"?: [...]}

Fields this module does not know are kept in `Case.extra` and written back unchanged, so a
suite can carry what its source had (choices, dates, alternative answers) through any tool.
A malformed line is an EvalError naming the file and the line: a suite is hand-edited often.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import NewsragError


class EvalError(NewsragError):
    """A suite, run directory or gate specification that cannot be used; says where and why."""


KNOWN = ("id", "question", "answerable", "reference_answer", "evidence", "tags")


@dataclass(frozen=True)
class Evidence:
    """Where the answer is: a document (by id or title) and/or a verbatim quote of it.

    `doc_id` is either a newsrag Document id or the record key the document was loaded
    with (the part after '#' in Document.path, e.g. a RealTimeQA "rtqa_..." id).
    `start`/`end` are the quote's character offsets in that document, when known.
    """

    quote: str = ""
    doc_id: str | None = None
    title: str | None = None
    start: int | None = None
    end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.doc_id is not None:
            d["doc_id"] = self.doc_id
        if self.title is not None:
            d["title"] = self.title
        d["quote"] = self.quote
        if self.start is not None:
            d["start"] = self.start
            d["end"] = self.end
        return d


@dataclass(frozen=True)
class Case:
    """One question of a suite, with what a right answer and its evidence look like."""

    id: str
    question: str
    answerable: bool = True
    reference_answer: str | None = None
    evidence: tuple[Evidence, ...] = ()
    tags: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def references(self) -> list[str]:
        """Every acceptable answer: the reference plus `extra["reference_answers"]`."""
        refs = [self.reference_answer] if self.reference_answer else []
        for r in self.extra.get("reference_answers") or []:
            if isinstance(r, str) and r and r not in refs:
                refs.append(r)
        return refs

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "question": self.question}
        d["answerable"] = self.answerable
        if self.reference_answer is not None:
            d["reference_answer"] = self.reference_answer
        if self.evidence:
            d["evidence"] = [e.to_dict() for e in self.evidence]
        if self.tags:
            d["tags"] = list(self.tags)
        d.update(self.extra)
        return d


def _evidence(raw: Any, where: str) -> tuple[Evidence, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise EvalError(f"{where}: 'evidence' must be a list of objects")
    out = []
    for i, e in enumerate(raw):
        if not isinstance(e, dict):
            raise EvalError(f"{where}: evidence item {i} must be an object")
        quote = e.get("quote") or ""
        if not isinstance(quote, str):
            raise EvalError(f"{where}: evidence item {i}: 'quote' must be a string")
        if not (quote or e.get("doc_id") or e.get("title")):
            raise EvalError(f"{where}: evidence item {i} needs a quote, a doc_id or a title")
        start, end = e.get("start"), e.get("end")
        if (start is None) != (end is None) or not all(
            v is None or isinstance(v, int) for v in (start, end)
        ):
            raise EvalError(f"{where}: evidence item {i}: 'start' and 'end' must be integers")
        out.append(
            Evidence(
                quote=quote,
                doc_id=str(e["doc_id"]) if e.get("doc_id") is not None else None,
                title=str(e["title"]) if e.get("title") is not None else None,
                start=start,
                end=end,
            )
        )
    return tuple(out)


def case_from_dict(d: Any, where: str = "case") -> Case:
    """A Case from one decoded JSON object; EvalError (prefixed with `where`) when malformed."""
    if not isinstance(d, dict):
        raise EvalError(f"{where}: a case must be a JSON object")
    for name in ("id", "question"):
        if not isinstance(d.get(name), str | int) or not str(d.get(name)).strip():
            raise EvalError(f"{where}: missing or empty {name!r}")
    answerable = d.get("answerable", True)
    if not isinstance(answerable, bool):
        raise EvalError(f"{where}: 'answerable' must be true or false")
    ref = d.get("reference_answer")
    if ref is not None and not isinstance(ref, str):
        raise EvalError(f"{where}: 'reference_answer' must be a string")
    tags = d.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise EvalError(f"{where}: 'tags' must be a list of strings")
    return Case(
        id=str(d["id"]),
        question=str(d["question"]).strip(),
        answerable=answerable,
        reference_answer=ref,
        evidence=_evidence(d.get("evidence"), where),
        tags=tuple(tags),
        extra={k: v for k, v in d.items() if k not in KNOWN},
    )


def load_suite(path: str | Path) -> list[Case]:
    """The cases of a JSONL suite; EvalError naming the file and line of the first bad one."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise EvalError(f"{p}: cannot read suite ({e})") from e
    cases: list[Case] = []
    seen: set[str] = set()
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{p}: line {n}"
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise EvalError(f"{where}: malformed JSON ({e.msg} at column {e.colno})") from e
        case = case_from_dict(d, where)
        if case.id in seen:
            raise EvalError(f"{where}: duplicate id {case.id!r}")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise EvalError(f"{p}: the suite has no cases")
    return cases


def save_suite(cases: Iterable[Case], path: str | Path) -> Path:
    """Write cases as JSONL (atomically: a crash never leaves half a suite)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
    tmp.replace(p)
    return p
