"""The packaged MiniLM as ONNX files for onnxruntime, built here from the packaged weights.

Why onnxruntime: its sessions each own a thread pool, so a batch ingest can use every core while a
question's one-text embedding runs on one thread beside FAISS; torch's one process-wide OpenMP
pool cannot do both (see rag/embed.py). Why hand-rolled: optimum-onnx pulls a transformers that
breaks sentence-transformers here, so the model is exported with torch.onnx and run directly.

`make setup` (through `newsrag models`) writes, under `<cache>/models/<name>-onnx/`:
  fp32.onnx  the transformer, exported with torch.onnx (same vectors as sentence-transformers)
  int8.onnx  the same with dynamically quantised per-channel int8 weights (smaller; vectors differ)
  manifest.json  sha256 of the packaged weights it came from and of each file, checked at load.
Nothing is downloaded; a missing or mismatched file is rebuilt from the packaged weights.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from rag.errors import ModelError
from rag.models import embedder_path, quiet_transformers, sha256_file

PRECISIONS = ("fp32", "int8")
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_dir(spec: str, cache_dir: Path) -> Path:
    name = spec.removeprefix("packaged:") if spec.startswith("packaged:") else Path(spec).name
    return Path(cache_dir) / "models" / f"{name}-onnx"


def _source_hash(spec: str) -> str:
    return sha256_file(Path(embedder_path(spec)) / "model.safetensors")


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def onnx_model(spec: str, precision: str, cache_dir: Path) -> Path:
    """The verified ONNX file for `spec` at `precision`, exported first if missing or stale."""
    if precision not in PRECISIONS:
        raise ModelError(f"embed_precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    folder = export_dir(spec, cache_dir)
    path = folder / f"{precision}.onnx"
    manifest = _manifest(folder)
    source = _source_hash(spec)
    fresh = manifest.get("source_sha256") == source and path.exists()
    if not fresh:
        print(f"embedder: exporting {spec} to ONNX in {folder} (once)", file=sys.stderr)
        manifest = export(spec, folder)
    if sha256_file(path) != manifest["files"][path.name]:
        raise ModelError(
            f"{path}: checksum differs from {folder / 'manifest.json'}; delete {folder} and run "
            "`newsrag models` to export it again"
        )
    return path


def export(spec: str, folder: Path) -> dict[str, Any]:
    """Export fp32 with torch.onnx, quantise to int8, write the manifest last (atomically)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    quiet_transformers()
    src = embedder_path(spec)
    folder.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(src)
    base = AutoModel.from_pretrained(src).eval()

    class Hidden(torch.nn.Module):
        """Keyword call (transformers 5 reorders positional arguments); last hidden state."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    warnings.filterwarnings("ignore")  # tracer and quantiser notes, not a user's business
    logging.getLogger().setLevel(logging.ERROR)
    probe = tok(["an example sentence to trace", "short"], padding=True, return_tensors="pt")
    fp32 = folder / "fp32.onnx"
    tmp = folder / "fp32.onnx.tmp"
    axes = {n: {0: "batch", 1: "tokens"} for n in (*INPUTS, "last_hidden_state")}
    with torch.no_grad():
        torch.onnx.export(
            Hidden(base),
            tuple(probe[n] for n in INPUTS),
            str(tmp),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    os.replace(tmp, fp32)
    int8_tmp = folder / "int8.tmp.onnx"
    # per-channel: per-tensor int8 moved vectors to mean cosine 0.95 of fp32, per-channel 0.993
    quantize_dynamic(str(fp32), str(int8_tmp), weight_type=QuantType.QInt8, per_channel=True)
    os.replace(int8_tmp, folder / "int8.onnx")
    manifest = {
        "model": spec,
        "source_sha256": _source_hash(spec),
        "files": {f"{p}.onnx": sha256_file(folder / f"{p}.onnx") for p in PRECISIONS},
        "opset": OPSET,
        "torch": torch.__version__,
        "int8": "onnxruntime quantize_dynamic, QInt8 weights, per channel",
    }
    tmp_manifest = folder / "manifest.json.tmp"
    tmp_manifest.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(tmp_manifest, folder / "manifest.json")
    return manifest
