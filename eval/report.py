"""RUN_DIR/report.html: one self-contained page (inline SVG plots, inline CSS, no fetches).

It shows what a reader needs to trust or distrust a run: the headline metrics (against a
baseline run when given), how per-case values are distributed, the refusal confusion table,
which cases got better or worse than the baseline, and every case with its answer, each
sentence's verdict, and the cited quotes highlighted inside the article text around them.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.eval.run import METRICS, read_run

DIST_METRICS = (
    "faithfulness",
    "citation_precision",
    "citation_recall",
    "context_precision",
    "context_recall",
    "answer_relevance",
    "answer_f1",
)
# Per-case values whose change decides "better" or "worse" against a baseline.
DIFF_METRICS = (
    "refusal_correct",
    "answer_correctness",
    "faithfulness",
    "citation_precision",
    "citation_recall",
    "context_recall",
)

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d1d1f}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.meta{color:#555;font-size:12px}table{border-collapse:collapse}td,th{padding:3px 8px;
border-bottom:1px solid #eee;text-align:left;vertical-align:top}th{background:#f6f6f6}
.num{text-align:right;font-variant-numeric:tabular-nums}.up{color:#137333}.down{color:#b3261e}
.grid{display:flex;flex-wrap:wrap;gap:14px}.case td{font-size:13px}
.uns{background:#fde7e9;text-decoration:underline wavy #b3261e}.reason{color:#b3261e;font-size:12px}
mark{background:#fff3a3;padding:0 1px}.ctx{color:#666;font-size:12px;margin:4px 0 8px;
border-left:3px solid #ddd;padding-left:8px}.flag{display:inline-block;background:#fde7e9;
color:#8c1d18;border-radius:8px;padding:0 6px;margin:1px;font-size:11px}
.ok{display:inline-block;background:#e6f4ea;color:#137333;border-radius:8px;padding:0 6px;
font-size:11px}.refused{color:#555;font-style:italic}sup{color:#1a56c4}
"""
FILTER_JS = """
function filterCases(v){for(const r of document.querySelectorAll('tr.case')){
r.style.display=(v===''||(r.dataset.flags||'').split('|').includes(v))?'':'none';}}
"""


def _e(text: Any) -> str:
    return html.escape(str(text))


def _fmt(v: Any) -> str:
    return "n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else _e(v))


# ---- plots (inline SVG) ----------------------------------------------------------------------


def bar_chart(values: dict[str, float | None], baseline: dict[str, float | None] | None) -> str:
    """Horizontal bars in [0, 1] per metric; the baseline as a thin grey bar under each."""
    row, label_w, bar_w = 26, 190, 280
    h = row * len(values) + 10
    out = [f'<svg width="{label_w + bar_w + 60}" height="{h}" role="img">']
    for i, (name, v) in enumerate(values.items()):
        y = 5 + i * row
        label = name if METRICS.get(name, True) else f"{name} (lower is better)"
        out.append(f'<text x="0" y="{y + 13}" font-size="11">{_e(label)}</text>')
        out.append(
            f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="14" fill="#f1f1f1"/>'
            f'<rect x="{label_w}" y="{y}" width="{bar_w * (v or 0):.1f}" height="14" '
            f'fill="#3b6fd4"/>'
        )
        if baseline is not None and baseline.get(name) is not None:
            b = baseline[name] or 0.0
            out.append(
                f'<rect x="{label_w}" y="{y + 16}" width="{bar_w * b:.1f}" height="4" fill="#999"/>'
            )
        out.append(f'<text x="{label_w + bar_w + 6}" y="{y + 12}" font-size="12">{_fmt(v)}</text>')
    out.append("</svg>")
    return "".join(out)


def histogram(
    title: str, values: Sequence[float], lo: float = 0.0, hi: float = 1.0, bins: int = 10
) -> str:
    """A small histogram of per-case values, with the count and the mean in its caption."""
    w, h, pad = 220, 110, 18
    counts = [0] * bins
    for v in values:
        k = int((min(max(v, lo), hi) - lo) / (hi - lo) * bins) if hi > lo else 0
        counts[min(k, bins - 1)] += 1
    top = max(counts) or 1
    bw = (w - 2 * pad) / bins
    out = [f'<svg width="{w}" height="{h + 34}" role="img"><title>{_e(title)}</title>']
    out.append(f'<text x="{pad}" y="12" font-size="12" font-weight="600">{_e(title)}</text>')
    for i, c in enumerate(counts):
        bh = (h - 30) * c / top
        x = pad + i * bw
        out.append(
            f'<rect x="{x + 1:.1f}" y="{h - bh:.1f}" width="{bw - 2:.1f}" height="{bh:.1f}" '
            f'fill="#3b6fd4"><title>{c} cases</title></rect>'
        )
        if c:
            out.append(
                f'<text x="{x + bw / 2:.1f}" y="{h - bh - 2:.1f}" font-size="9" '
                f'text-anchor="middle">{c}</text>'
            )
    out.append(
        f'<line x1="{pad}" y1="{h}" x2="{w - pad}" y2="{h}" stroke="#888"/>'
        f'<text x="{pad}" y="{h + 12}" font-size="10">{lo:g}</text>'
        f'<text x="{w - pad}" y="{h + 12}" font-size="10" text-anchor="end">{hi:.3g}</text>'
    )
    mean = sum(values) / len(values) if values else None
    caption = f"n={len(values)}" + (f", mean {mean:.3f}" if mean is not None else "")
    out.append(f'<text x="{pad}" y="{h + 28}" font-size="11" fill="#555">{caption}</text>')
    out.append("</svg>")
    return "".join(out)


# ---- sections --------------------------------------------------------------------------------


def _summary_table(summary: dict[str, Any], base: dict[str, Any] | None) -> str:
    n = summary.get("counts", {}).get("metric_cases", {})
    head = "<tr><th>metric</th><th>value</th><th>cases</th>"
    head += "<th>baseline</th><th>change</th></tr>" if base else "</tr>"
    rows = [head]
    for name, higher_better in METRICS.items():
        if name not in summary:
            continue
        v = summary.get(name)
        row = f'<tr><td>{_e(name)}</td><td class="num">{_fmt(v)}</td>'
        row += f'<td class="num">{n.get(name, "")}</td>'
        if base:
            b = base.get(name)
            if v is not None and b is not None:
                d = v - b
                good = (d > 0) == higher_better
                cls = "" if abs(d) < 1e-9 else ("up" if good else "down")
                row += f'<td class="num">{_fmt(b)}</td><td class="num {cls}">{d:+.3f}</td>'
            else:
                row += f'<td class="num">{_fmt(b)}</td><td></td>'
        rows.append(row + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _confusion(records: Sequence[dict[str, Any]]) -> str:
    cells: Counter[tuple[bool, bool]] = Counter()
    for r in records:
        if "metrics" in r:
            cells[(r["answerable"], r["metrics"]["refused"])] += 1
    right = sum(bool((r.get("metrics") or {}).get("refused_right_draft")) for r in records)
    return (
        "<table><tr><th></th><th>answered</th><th>refused</th></tr>"
        f'<tr><th>answerable</th><td class="num">{cells[(True, False)]}</td>'
        f'<td class="num">{cells[(True, True)]} (false refusals; {right} with a draft that held '
        "the reference)</td></tr>"
        f'<tr><th>unanswerable</th><td class="num">{cells[(False, False)]} (missed)</td>'
        f'<td class="num">{cells[(False, True)]}</td></tr></table>'
    )


def case_changes(new: dict[str, Any], old: dict[str, Any]) -> tuple[float, list[str]]:
    """(net change, descriptions) of one case between a baseline run and this one."""
    a, b = old.get("metrics") or {}, new.get("metrics") or {}
    net, notes = 0.0, []
    for name in DIFF_METRICS:
        x, y = a.get(name), b.get(name)
        if x is None or y is None or x == y:
            continue
        x, y = float(x), float(y)
        if abs(y - x) < 0.05:
            continue
        net += y - x
        if name == "refusal_correct":
            notes.append(f"refusal {'right' if y else 'wrong'} (was {'right' if x else 'wrong'})")
        else:
            notes.append(f"{name} {x:.2f} → {y:.2f}")
    if ("error" in new) != ("error" in old):
        net += -1.0 if "error" in new else 1.0
        notes.append("now fails with an error" if "error" in new else "no longer fails")
    return net, notes


def _diff(records: Sequence[dict[str, Any]], base_records: Sequence[dict[str, Any]]) -> str:
    old = {r["id"]: r for r in base_records}
    better, worse = [], []
    for r in records:
        if r["id"] not in old:
            continue
        net, notes = case_changes(r, old[r["id"]])
        if not notes:
            continue
        item = (net, r, notes)
        (better if net > 0 else worse).append(item)
    new_ids = {r["id"] for r in records}
    only_new = [r["id"] for r in records if r["id"] not in old]
    only_old = [i for i in old if i not in new_ids]

    def table(items: list[tuple[float, dict[str, Any], list[str]]], title: str) -> str:
        if not items:
            return f"<p>{_e(title)}: none.</p>"
        rows = "".join(
            f'<tr><td><a href="#case-{_e(r["id"])}">{_e(r["id"])}</a></td>'
            f"<td>{_e(r['question'])}</td><td>{_e('; '.join(notes))}</td></tr>"
            for _, r, notes in sorted(items, key=lambda t: -abs(t[0]))
        )
        return (
            f"<h3>{_e(title)} ({len(items)})</h3><table><tr><th>case</th><th>question</th>"
            f"<th>what changed</th></tr>{rows}</table>"
        )

    out = table(better, "Better than the baseline") + table(worse, "Worse than the baseline")
    same = sum(1 for r in records if r["id"] in old) - len(better) - len(worse)
    out += f"<p>{same} cases unchanged."
    if only_new or only_old:
        out += f" {len(only_new)} cases only in this run, {len(only_old)} only in the baseline."
    return out + "</p>"


def _answer_html(r: dict[str, Any]) -> str:
    a = r.get("answer")
    if a is None:
        return f'<span class="reason">error: {_e(r.get("error", ""))}</span>'
    if a["refused"]:
        out = f'<div class="refused">Refused: {_e(a["refusal_reason"])}</div>'
        drafts = [s["text"] for s in a["sentences"]]
        if drafts:
            out += f'<div class="reason">unsupported draft: {_e(" ".join(drafts))}</div>'
        return out
    cites = a["citations"]
    number = {(c["doc_id"], c["start"], c["end"]): i for i, c in enumerate(cites, start=1)}
    checks = r.get("checks") or []
    parts = []
    for i, s in enumerate(a["sentences"]):
        check = checks[i] if i < len(checks) else {}
        marks = "".join(
            f"<sup>[{number[(c['doc_id'], c['start'], c['end'])]}]</sup>" for c in s["citations"]
        )
        ok = check.get("supported", s["supported"])
        if ok:
            parts.append(f"{_e(s['text'])}{marks}")
        else:
            reason = check.get("reason") or s.get("reason") or "not supported"
            parts.append(
                f'<span class="uns" title="{_e(reason)}">{_e(s["text"])}</span>{marks} '
                f'<span class="reason">({_e(reason)})</span>'
            )
    out = " ".join(parts)
    ctx = {(q["doc_id"], q["start"], q["end"]): q for q in r.get("quote_context") or []}
    quotes = []
    for i, c in enumerate(cites, start=1):
        q = ctx.get((c["doc_id"], c["start"], c["end"]), {})
        quotes.append(
            f'<div class="ctx">[{i}] <b>{_e(c["title"] or c["doc_id"])}</b> '
            f"(chars {c['start']}–{c['end']}, support {c['support']:.2f})<br>…"
            f"{_e(q.get('before', ''))}<mark>{_e(c['quote'])}</mark>{_e(q.get('after', ''))}…</div>"
        )
    if quotes:
        out += (
            f"<details><summary>{len(quotes)} cited quote(s) in context</summary>"
            + "".join(quotes)
            + "</details>"
        )
    return out


def _case_rows(records: Sequence[dict[str, Any]]) -> str:
    rows = []
    for r in records:
        mt = r.get("metrics") or {}
        flags = list(r.get("flags") or []) + (["error"] if "error" in r else [])
        expected = (
            "answerable: " + " | ".join(r.get("reference_answers") or ["(no reference)"])
            if r["answerable"]
            else "unanswerable"
        )
        shown = ", ".join(
            f"{k.replace('_', ' ')} {_fmt(mt.get(k))}"
            for k in (
                "faithfulness",
                "citation_precision",
                "citation_recall",
                "context_recall",
                "answer_correctness",
            )
            if mt.get(k) is not None
        )
        badges = "".join(f'<span class="flag">{_e(f)}</span>' for f in flags) or (
            '<span class="ok">ok</span>'
        )
        rows.append(
            f'<tr class="case" id="case-{_e(r["id"])}" data-flags="{_e("|".join(flags))}">'
            f"<td>{_e(r['id'])}<br>{badges}</td>"
            f"<td>{_e(r['question'])}<div class='meta'>{_e(expected)}</div></td>"
            f"<td>{_answer_html(r)}</td><td class='meta'>{_e(shown)}</td></tr>"
        )
    return "".join(rows)


def render(
    summary: dict[str, Any],
    records: Sequence[dict[str, Any]],
    title: str,
    baseline: tuple[dict[str, Any], list[dict[str, Any]], str] | None = None,
) -> str:
    """The whole page as a string (pure: easy to test without files)."""
    base_summary = baseline[0] if baseline else None
    ok = [r for r in records if "metrics" in r]
    t = summary.get("timings", {})
    c = summary.get("counts", {})
    meta = (
        f"suite {_e(summary.get('suite'))} · index {_e(summary.get('index'))} "
        f"({_e(summary.get('documents'))} documents) · LLM {_e(summary.get('llm'))} · "
        f"support checker {_e(summary.get('checker'))} · started {_e(summary.get('started_at'))}"
        f" · {_e(t.get('total_seconds'))} s total, {_e(t.get('ask_ms_p50'))} ms per answer (p50)"
    )
    headline = {k: summary.get(k) for k in METRICS if k in summary}
    base_head = {k: base_summary.get(k) for k in METRICS} if base_summary else None
    hists = [
        histogram(
            name, [float(r["metrics"][name]) for r in ok if r["metrics"].get(name) is not None]
        )
        for name in DIST_METRICS
    ]
    asks = [r["ask_ms"] / 1000 for r in ok if "ask_ms" in r]
    if asks:
        hists.append(histogram("seconds per answer", asks, 0.0, max(asks) * 1.05 or 1.0))
    flag_counts = Counter(f for r in records for f in r.get("flags") or [])
    flag_opts = "".join(
        f'<option value="{_e(f)}">{_e(f)} ({n})</option>' for f, n in flag_counts.most_common()
    )
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{CSS}</style><script>{FILTER_JS}</script></head><body>",
        f"<h1>{_e(title)}</h1><div class='meta'>{meta}</div>",
        f"<p>{c.get('cases', 0)} cases: {c.get('answerable', 0)} answerable, "
        f"{c.get('unanswerable', 0)} unanswerable; {c.get('refused', 0)} refused; "
        f"{c.get('errors', 0)} errors; {c.get('supported_sentences', 0)} of "
        f"{c.get('sentences', 0)} answer sentences supported; {c.get('precise_citations', 0)} "
        f"of {c.get('citations', 0)} citations precise.</p>",
        "<h2>Metrics</h2><div class='grid'>",
        _summary_table(summary, base_summary),
        bar_chart(headline, base_head),
        "</div>",
    ]
    if baseline:
        parts.append(f"<p class='meta'>grey bars: baseline {_e(baseline[2])}</p>")
    parts += [
        "<h2>Distributions over cases</h2><div class='grid'>",
        "".join(hists),
        "</div><h2>Refusals</h2>",
        _confusion(records),
    ]
    if baseline:
        if base_summary and base_summary.get("checker") != summary.get("checker"):
            parts.append(
                f"<p class='reason'>The baseline used support checker "
                f"{_e(base_summary.get('checker'))}; this run used {_e(summary.get('checker'))}: "
                "changes may come from the checker, not the system.</p>"
            )
        parts += [f"<h2>Against the baseline {_e(baseline[2])}</h2>", _diff(records, baseline[1])]
    parts += [
        "<h2>Cases</h2><p>Show: <select onchange='filterCases(this.value)'>"
        f"<option value=''>all cases</option>{flag_opts}</select> · "
        "<span class='uns'>underlined</span>: a sentence the checker does not find supported; "
        "<mark>highlighted</mark>: the quoted span inside its article.</p>",
        "<table><tr><th>case</th><th>question / expected</th><th>answer</th><th>metrics</th>"
        f"</tr>{_case_rows(records)}</table>",
        "</body></html>",
    ]
    return "".join(parts)


def write_report(run_dir: Path, baseline: Path | None = None) -> Path:
    """Write run_dir/report.html (self-contained) and return its path."""
    run_dir = Path(run_dir)
    summary, records = read_run(run_dir)
    base = None
    if baseline is not None:
        b_summary, b_records = read_run(Path(baseline))
        base = (b_summary, b_records, str(baseline))
    page = render(summary, records, f"newsrag eval: {run_dir.name}", base)
    out = run_dir / "report.html"
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out
