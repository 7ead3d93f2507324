"""`newsrag doctor`: is this installation able to answer, and is this index whole?

Each check says what it looked at and, when something is wrong, what to do about it; the CLI
exits non-zero when any check fails. Nothing is repaired here: a damaged index is reported, the
previous generation beside it is named, and the fix is left to the user.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import NewsragError
from rag.settings import Settings


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""


def _llm(s: Settings) -> Finding:
    if s.llm_backend == "extractive":
        return Finding("llm", True, "extractive backend (no model)")
    if s.llm_backend == "openai":
        return Finding(
            "llm", True, f"openai backend at {s.openai_base_url} (not contacted: opt-in network)"
        )
    from rag.models import LLMS, llm_path, verify

    if s.llm_backend == "server":
        from rag.llm.server import server_binary

        binary = server_binary(s)
        if not binary.is_file():
            return Finding(
                "llm", False, f"llama-server binary {binary} is missing", "run make setup"
            )
    path = llm_path(s.llm_model, s.cache_dir, assemble=False)
    if not path.exists():
        return Finding("llm", False, f"{path} is missing", "run `newsrag models` (or make setup)")
    if s.llm_model in LLMS and not verify(path, s.llm_model):
        return Finding(
            "llm", False, f"{path}: size or sha256 differs", f"delete {path}; run `newsrag models`"
        )
    detail = f"{path} ({path.stat().st_size / 2**30:.2f} GiB, sha256 ok)"
    if s.llm_backend == "server":
        detail += f", served by {server_binary(s)} ({s.llm_server_slots} slots)"
    return Finding("llm", True, detail)


def _embedder(s: Settings) -> Finding:
    if s.embed_runtime == "torch":
        from rag.models import embedder_path

        return Finding("embedder", True, f"{embedder_path(s.embed_model)} (sentence-transformers)")
    from rag.embed_export import onnx_model

    path = onnx_model(s.embed_model, s.embed_precision, s.cache_dir)
    return Finding("embedder", True, f"{s.embedder}: {path} (sha256 ok)")


def _trained(s: Settings) -> Finding:
    from rag.crossencoder import read_card, verify, weights_path

    names = [s.support_model] + (["answerable"] if s.answerable_judge != "llm" else [])
    for name in names:
        folder = weights_path(name)
        verify(folder, read_card(folder))
    return Finding("trained models", True, f"{', '.join(names)}: every file's sha256 ok")


def _index(s: Settings) -> Finding:
    from rag.embed import Embedder
    from rag.index import Index

    if s.shared_store:
        return _shared_index(s)
    directory = Path(s.index_dir)
    if not (directory / "CURRENT").exists():
        return Finding("index", True, f"{directory}: no index yet (ingest creates it)")
    adopted = s.adopt_index(directory)
    index = Index.open(directory, Embedder.from_settings(adopted).dim, adopted.vector_store)
    gen = directory / (directory / "CURRENT").read_text().strip()
    manifest = json.loads((gen / "manifest.json").read_text())
    problems = index.problems()
    if manifest.get("documents") != len(index.documents):
        problems.append(
            f"manifest says {manifest.get('documents')} documents, files hold "
            f"{len(index.documents)}"
        )
    if manifest.get("chunks") != len(index.chunks):
        problems.append(
            f"manifest says {manifest.get('chunks')} chunks, files hold {len(index.chunks)}"
        )
    if problems:
        older = sorted(p.name for p in directory.glob("gen-*") if p != gen)
        fix = (
            f"write {older[-1]} into {directory / 'CURRENT'} to go back one commit, or rebuild"
            if older
            else "rebuild the index (move it away and ingest again)"
        )
        return Finding("index", False, f"{gen}: " + "; ".join(problems), fix)
    return Finding(
        "index",
        True,
        f"{gen}: {len(index.documents)} documents, {len(index.chunks)} chunks, vectors and BM25 "
        f"agree; built by {adopted.embedder}",
    )


def _shared_index(s: Settings) -> Finding:
    from rag.pipeline import Pipeline

    pipe = Pipeline(s)
    index = pipe.index
    problems = index.problems()
    where = s.store_name
    if problems:
        return Finding(
            "index",
            False,
            f"{where}: " + "; ".join(problems),
            "ingest the same files again (hidden rows are overwritten), or delete and re-ingest "
            "the documents named",
        )
    return Finding(
        "index",
        True,
        f"{where}: {len(index.documents)} documents, {len(index.chunks)} chunks, every chunk "
        f"searchable and listed; built by {pipe.settings.embedder}",
    )


CHECKS: dict[str, Callable[[Settings], Finding]] = {
    "llm": _llm,
    "embedder": _embedder,
    "trained models": _trained,
    "index": _index,
}


def run_doctor(s: Settings) -> list[Finding]:
    findings = []
    for name, check in CHECKS.items():
        try:
            findings.append(check(s))
        except NewsragError as e:
            findings.append(Finding(name, False, str(e), "see the message"))
        except (OSError, ValueError, KeyError) as e:
            findings.append(Finding(name, False, f"{type(e).__name__}: {e}", "see the message"))
    return findings
