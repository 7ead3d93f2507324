"""Labelled (source span, claim) pairs for the support model, with their splits.

Read by path from the factcheck sets and FaithBench (`NEWSRAG_DATA`, never copied). Every set
is split the same way, by a hash of the thing its pairs share (ANLI's premise, a SummEdits
document, a WiCE claim's id, a SICK caption), so related pairs never sit on both sides:
70% train, 15% validation, 15% test. FaithBench is split by batch, as its figures are reported:
batches 1-8 give train and validation (82 / 18 by source), batches 9-12 are test only.
Labels are binary: supported (entailment, consistent, correct, supported) against everything
else (neutral, contradiction, partially supported, inconsistent).

Long sources (SummEdits documents, WiCE's cited pages, FaithBench passages over `max_chars`)
are cut to the claim's candidate span by rag.align, the very step the checker uses at run time,
so the model is trained on what it will be shown. Short premises (SICK, RTE, ANLI, Falke) are
kept whole.
"""

from __future__ import annotations

import ast
import csv
import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.align import align, span_text
from rag.chunk import split_sentences
from rag.models import sha256_file
from rag.terms import tokens
from rag.types import Unit

# bump when the pairs built from the same files change; /4: spans of neighbouring sentences only
PAIRS_VERSION = "pairs/4"

# name -> (relative path, licence); the licences as the data's README gives them
SETS: dict[str, tuple[str, str]] = {
    "anli": ("factcheck/anli-dev", "CC BY-NC 4.0"),
    "rte": ("factcheck/rte", "research use (licence unstated upstream)"),
    "sick": ("factcheck/sick", "CC BY-NC-SA 3.0"),
    "summedits": ("factcheck/summedits", "Apache-2.0"),
    "falke": ("factcheck/falke-cogensumm", "CC BY-SA 4.0"),
    "wice": ("factcheck/wice", "ODC-BY (annotations), CC BY-SA (Wikipedia), Common Crawl terms"),
    "faithbench": ("faithbench", "CC BY-NC-SA 4.0"),
    # rule-edited copies of real sentences (rag.train.perturb), training only
    "synthetic_news": ("realtimeqa_news", "research and evaluation use (publishers' text)"),
    "synthetic_wiki": ("squad2_dev_half", "CC BY-SA 4.0"),
}
NON_COMMERCIAL = frozenset({"anli", "sick", "faithbench", "synthetic_news"})
SYNTHETIC_ARTICLES = {"synthetic_news": 3000, "synthetic_wiki": 646}
TRAIN_BATCHES = frozenset(range(1, 9))  # FaithBench
TEST_BATCHES = frozenset(range(9, 13))


@dataclass(frozen=True)
class Pair:
    set: str  # "anli", "summedits-news", "faithbench", ...
    split: str  # "train" | "validation" | "test"
    source: str  # what the model reads as evidence (a whole short premise or an aligned span)
    claim: str
    label: int  # 1 = the source supports the claim
    group: str  # what related pairs share; the split is decided on it


def split_of(set_name: str, group: str) -> str:
    h = int(hashlib.sha256(f"{set_name}\n{group}".encode()).hexdigest()[:8], 16) % 100
    return "train" if h < 70 else "validation" if h < 85 else "test"


def _faithbench_split(batch: int, group: str) -> str:
    if batch in TEST_BATCHES:
        return "test"
    h = int(hashlib.sha256(f"faithbench\n{group}".encode()).hexdigest()[:8], 16) % 100
    return "train" if h < 82 else "validation"


def data_files(data: Path, names: tuple[str, ...] = tuple(SETS)) -> list[Path]:
    """Every file the pairs are read from (their hashes go in the model card)."""
    files = {
        "anli": sorted((data / SETS["anli"][0]).rglob("ANLI_analysis_r*_dev.csv")),
        "rte": sorted((data / SETS["rte"][0]).rglob("*.tsv")),
        "sick": [data / SETS["sick"][0] / "corrected" / "SICK_whole_corpus_reannotated.csv"],
        "summedits": sorted((data / SETS["summedits"][0]).rglob("summedits_*.json")),
        "falke": sorted((data / SETS["falke"][0]).rglob("val_sentence_pairs.json")),
        "wice": sorted((data / SETS["wice"][0] / "data" / "entailment_retrieval").rglob("*.jsonl")),
        "faithbench": [data / SETS["faithbench"][0] / "faithbench.jsonl"],
        "synthetic_news": [
            data / "realtimeqa_news" / "articles_pool.jsonl.gz",
            data / "realtimeqa_news" / "articles_gold.jsonl",
        ],
        "synthetic_wiki": [data / "squad2_dev_half" / "paragraphs.jsonl"],
    }
    return [f for n in names for f in files[n]]


# ---- raw records: (set, group, source, claim, label, title, split or None) -----------------
Raw = tuple[Any, ...]  # (set, group, source, claim, label, title, split or None[, extra])
SUPPORTING = "supporting"


def _anli(data: Path) -> Iterator[Raw]:
    for f in data_files(data, ("anli",)):
        for r in csv.DictReader(f.open(encoding="utf-8")):
            label = int(r["gold_label"] == "e")
            yield "anli", r["context"], r["context"], r["statement"], label, "", None


def _rte(data: Path) -> Iterator[Raw]:
    for f in data_files(data, ("rte",)):
        rows = csv.DictReader(f.open(encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE)
        for r in rows:
            if r.get("label") not in ("entailment", "not_entailment"):
                continue
            yield (
                "rte",
                r["sentence1"],
                r["sentence1"],
                r["sentence2"],
                int(r["label"] == "entailment"),
                "",
                None,
            )


def _sick(data: Path) -> Iterator[Raw]:
    (f,) = data_files(data, ("sick",))
    rows = csv.DictReader(f.open(encoding="utf-8", errors="replace"), delimiter="\t")
    for r in rows:
        label = r["entailment_label"].strip().upper()
        if label not in ("ENTAILMENT", "NEUTRAL", "CONTRADICTION"):
            continue
        group = r.get("sentence_A_original") or r["sentence_A"]
        yield "sick", group, r["sentence_A"], r["sentence_B"], int(label == "ENTAILMENT"), "", None


def _summedits(data: Path) -> Iterator[Raw]:
    for f in data_files(data, ("summedits",)):
        domain = f.stem.removeprefix("summedits_")
        for r in json.loads(f.read_text(encoding="utf-8")):
            yield (
                f"summedits-{domain}",
                r["doc"],
                r["doc"],
                r["summary"],
                int(str(r["label"]) == "1"),
                "",
                None,
            )


def _falke(data: Path) -> Iterator[Raw]:
    for f in data_files(data, ("falke",)):
        for r in json.loads(f.read_text(encoding="utf-8")):
            group = f"{r['article_id']}\n{r['article_sent']}"
            yield "falke", group, r["article_sent"], r["correct_sent"], 1, "", None
            yield "falke", group, r["article_sent"], r["incorrect_sent"], 0, "", None


def _wice(data: Path) -> Iterator[Raw]:
    for f in data_files(data, ("wice",)):
        for line in f.open(encoding="utf-8"):
            r = json.loads(line)
            meta = r["meta"] if isinstance(r["meta"], dict) else ast.literal_eval(r["meta"])
            evidence = r["evidence"]
            if isinstance(evidence, str):
                evidence = ast.literal_eval(evidence)
            title = ""
            gold = r.get("supporting_sentences") or [[]]
            if isinstance(gold, str):
                gold = ast.literal_eval(gold)
            first = [int(i) for i in (gold[0] if gold else [])]
            if evidence and evidence[0].startswith("(meta data) TITLE:"):
                title = evidence[0].removeprefix("(meta data) TITLE:").strip()
                evidence = evidence[1:]
                first = [i - 1 for i in first if i > 0]
            label = int(r["label"] == "supported")
            # the annotators' supporting sentences: for a "supported" claim the span that
            # supports it; for a "partially supported" one a span that supports part of it
            marked = {SUPPORTING: tuple(first)} if first else {}
            yield "wice", meta["id"], list(evidence), r["claim"], label, title, None, marked


SEVERITY = {"Consistent": 0, "Benign": 1, "Questionable": 2, "Unwanted": 3}


def worst_label(sample: dict[str, Any]) -> str:
    labels = [a["label"][0] for a in sample.get("annotations") or [] if a.get("label")]
    return max(labels, key=lambda lab: SEVERITY.get(lab, 0), default="Consistent")


def summary_sentences(summary: str) -> list[str]:
    """A summary's checkable sentences, split as `eval check` splits a text."""
    from rag.draft import split_answer

    return [t for t, _ in split_answer(summary)]


def sentence_spans(summary: str, texts: list[str]) -> list[tuple[int, int]]:
    """Where each checked sentence sits in the summary (the splitter hands back text).

    Found in order from a cursor; a sentence whose preamble the splitter dropped ("The passage
    states that as of ...") is found case-blind and its span starts where the last one ended.
    """
    out: list[tuple[int, int]] = []
    cur, lower = 0, summary.lower()
    for t in texts:
        i = summary.find(t, cur)
        if i >= 0:
            start, end = i, i + len(t)
        elif (j := lower.find(t.lower(), cur)) >= 0:
            start, end = cur, j + len(t)
        else:
            start, end = cur, min(len(summary), cur + len(t))
        out.append((start, end))
        cur = max(cur, end)
    return out


def sentence_labels(sample: dict[str, Any], texts: list[str]) -> list[int | None]:
    """Per summary sentence: 0 when an Unwanted span overlaps it, None when only a Questionable
    one does or when it is an untouched sentence of a sample someone marked Unwanted (the
    annotators may have marked one error of several), else 1 (Consistent, Benign)."""
    spans: dict[str, list[tuple[int, int]]] = {"Unwanted": [], "Questionable": []}
    for a in sample.get("annotations") or []:
        if not a.get("label") or a.get("summary_start") is None or a.get("summary_end") is None:
            continue
        kind = str(a["label"][0]).split(".")[0]
        if kind in spans:
            spans[kind].append((a["summary_start"], a["summary_end"]))
    sample_bad = worst_label(sample) == "Unwanted"
    out: list[int | None] = []
    for s, e in sentence_spans(sample["summary"], texts):
        if any(s < be and bs < e for bs, be in spans["Unwanted"]):
            out.append(0)
        elif any(s < be and bs < e for bs, be in spans["Questionable"]) or sample_bad:
            out.append(None)
        else:
            out.append(1)
    return out


def load_faithbench(path: Path) -> list[dict[str, Any]]:
    """Samples labelled hallucinated (worst Unwanted) or faithful (Consistent / Benign);
    Questionable samples are left out, as FaithBench's own figures do."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        s = json.loads(line)
        worst = worst_label(s)
        if worst == "Questionable":
            continue
        s["hallucinated"] = worst == "Unwanted"
        out.append(s)
    return out


def _faithbench(data: Path) -> Iterator[Raw]:
    (f,) = data_files(data, ("faithbench",))
    for s in load_faithbench(f):
        texts = summary_sentences(s["summary"])
        split = _faithbench_split(int(s["batch_id"]), s["source"])
        for text, label in zip(texts, sentence_labels(s, texts), strict=True):
            if label is not None:
                yield "faithbench", s["source"], s["source"], text, label, "", split


def _synthetic(name: str, articles: list[tuple[str, str, str]], per_article: int) -> Iterator[Raw]:
    """Rule-edited and detail-dropped copies of real sentences (rag.train.perturb); the source
    is the sentence's window of seven, as a retrieved chunk would give it. Training only."""
    import random

    from rag.train.perturb import perturbed

    rng = random.Random(f"{name}/{PAIRS_VERSION}")
    rng.shuffle(articles)
    for key, title, text in articles[: SYNTHETIC_ARTICLES[name]]:
        spans = split_sentences(text)
        sents = [" ".join(text[a:b].split()) for a, b in spans]
        for x in perturbed(text, rng, per_article):
            i = x["sentence"]
            window = sents[max(0, i - 3) : i + 4]
            yield name, key, window, x["claim"], x["label"], title, "train"


def _synthetic_news(data: Path) -> Iterator[Raw]:
    """RealTimeQA pool articles, the gold articles (the planted test set's) left out."""
    pool, gold = data_files(data, ("synthetic_news",))
    held = {json.loads(x)["doc_id"] for x in gold.read_text(encoding="utf-8").splitlines() if x}
    with gzip.open(pool, "rt", encoding="utf-8") as f:
        rows = [json.loads(x) for x in f]
    arts = [
        (r["doc_id"], r.get("title") or "", r.get("text") or "")
        for r in rows
        if r["doc_id"] not in held and r.get("text")
    ]
    yield from _synthetic("synthetic_news", sorted(arts), 2)


def _synthetic_wiki(data: Path) -> Iterator[Raw]:
    (f,) = data_files(data, ("synthetic_wiki",))
    rows = [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
    arts = [(r["paragraph_id"], r["title"].replace("_", " "), r["context"]) for r in rows]
    yield from _synthetic("synthetic_wiki", sorted(arts), 2)


READERS = {
    "anli": _anli,
    "rte": _rte,
    "sick": _sick,
    "summedits": _summedits,
    "falke": _falke,
    "wice": _wice,
    "faithbench": _faithbench,
    "synthetic_news": _synthetic_news,
    "synthetic_wiki": _synthetic_wiki,
}


def _units(source: str | tuple[str, ...], key: str) -> list[Unit]:
    """Sentences of a source as units (one document); a list source keeps one unit per entry,
    so annotators' sentence indexes still point at the right unit."""
    if not isinstance(source, str):
        units, pos = [], 0
        for s in source:
            units.append(Unit(key, key, pos, pos + len(s), s, (len(units),)))
            pos += len(s) + 1
        return units
    return [
        Unit(key, key, s, e, source[s:e], (i,)) for i, (s, e) in enumerate(split_sentences(source))
    ]


@dataclass(frozen=True)
class Record:
    """One labelled (source, claim) as the set gives it, the source whole."""

    set: str
    split: str
    group: str
    source: str | tuple[str, ...]  # text, or the set's own sentences (WiCE)
    claim: str
    label: int
    title: str = ""
    supporting: tuple[int, ...] = ()  # indexes of the source sentences annotators marked

    @property
    def text(self) -> str:
        return self.source if isinstance(self.source, str) else "\n".join(self.source)


def records(data: Path, names: tuple[str, ...] = tuple(SETS)) -> list[Record]:
    """Every labelled record of the named sets with its split (what benches check whole)."""
    out = []
    for n in names:
        for raw in READERS[n](data):
            set_name, group, source, claim, label, title, split = raw[:7]
            extra = raw[7] if len(raw) > 7 else {}
            out.append(
                Record(
                    set=set_name,
                    split=split or split_of(set_name.split("-")[0], group),
                    group=group,
                    source=source if isinstance(source, str) else tuple(source),
                    claim=claim,
                    label=int(label),
                    title=title,
                    supporting=tuple(extra.get(SUPPORTING, ())),
                )
            )
    return out


def build_pairs(
    data: Path,
    embedder: Any,
    names: tuple[str, ...] = tuple(SETS),
    max_chars: int = 700,
    progress: bool = True,
    min_coverage: float = 0.5,
) -> list[Pair]:
    """Every pair of the named sets, long sources cut to the claim's aligned span."""
    from tqdm import tqdm

    recs = records(data, names)
    long_units: dict[str, list[Unit]] = {}
    for r in recs:
        if len(r.text) > max_chars or not isinstance(r.source, str):
            key = hashlib.sha256(r.text.encode()).hexdigest()[:16]
            if key not in long_units:
                long_units[key] = _units(r.source, key)
    texts = sorted({u.text for us in long_units.values() for u in us})
    claims = sorted({r.claim for r in recs})
    vec = {}
    if texts:
        all_texts = texts + claims
        vecs = embedder.embed(all_texts, progress=progress)
        vec = dict(zip(all_texts, vecs, strict=True))
    out: list[Pair] = []
    dropped = 0
    for r in tqdm(recs, desc="pairs", unit="pair", disable=not progress):
        key = hashlib.sha256(r.text.encode()).hexdigest()[:16]
        if key in long_units:
            units = long_units[key]
            if not units:
                continue
            if r.supporting and all(i < len(units) for i in r.supporting):
                premise = span_text([units[i] for i in sorted(r.supporting)], r.title)
            else:
                uvecs = np.stack([vec[u.text] for u in units])
                toks = [set(tokens(u.text)) for u in units]
                a = align(r.claim, units, toks, uvecs, vec[r.claim])
                # a supported claim whose span holds little of it was supported elsewhere in
                # the document: as a pair (this span, this claim) its label would be wrong
                if not a.units or (r.label == 1 and a.coverage < min_coverage):
                    dropped += 1
                    continue
                premise = span_text([units[i] for i in a.units], r.title)
        else:
            premise = span_text([Unit("", "", 0, len(r.text), r.text, ())], r.title)
        out.append(
            Pair(
                set=r.set,
                split=r.split,
                source=premise,
                claim=" ".join(r.claim.split()),
                label=r.label,
                group=hashlib.sha256(r.group.encode()).hexdigest()[:12],
            )
        )
    if progress:
        print(f"pairs: {len(out)} built, {dropped} supported claims left out (span coverage)")
    return out


def cached_pairs(
    data: Path, cache_dir: Path, embedder: Any, names: tuple[str, ...] = tuple(SETS)
) -> list[Pair]:
    """`build_pairs`, cached by the hashes of the files read and the pairs version."""
    files = data_files(data, names)
    missing = [str(f) for f in files if not f.exists()]
    if missing or not files:
        from rag.errors import ConfigError

        raise ConfigError(f"training data not found: {missing or names} (set NEWSRAG_DATA)")
    key = hashlib.sha256(
        json.dumps([PAIRS_VERSION, names, [sha256_file(f) for f in files]]).encode()
    ).hexdigest()[:16]
    path = cache_dir / "train" / f"pairs-{key}.jsonl.gz"
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return [Pair(**json.loads(line)) for line in f]
    pairs = build_pairs(data, embedder, names)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(asdict(p)) + "\n")
    tmp.replace(path)
    return pairs
