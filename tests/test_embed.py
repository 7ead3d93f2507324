"""The shipped embedder (onnxruntime over the ONNX export) against sentence-transformers itself,
its checksums, and an index refusing an embedder other than the one that built it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.embed import Embedder
from rag.embed_export import export_dir, onnx_model
from rag.errors import ConfigError, ModelError
from rag.llm.extractive import ExtractiveLLM
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.conftest import CORPUS

# Hand-written: a headline, a dateline sentence, numbers, accents and quotes, one word, and a
# text far past the 256-token window (truncated the same way by both runtimes).
TEXTS = [
    "Japan eases rules to export Patriot missiles to the United States",
    "TOKYO (AP) — Japan's Cabinet on Friday approved a change to its arms-export guidelines.",
    "The package, worth $1.2 billion, was approved 52-48 by the Senate on Dec. 6, 2023.",
    "Café owners in Zürich said «nothing changed» after the vote; prices rose 3.5%.",
    "Missiles",
    " ".join(["The ministry repeated its statement about the export rules."] * 60),
]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return Embedder(runtime="torch", precision="fp32").embed(TEXTS)


def test_what_ships_is_onnx_int8() -> None:
    s = Settings()
    assert (s.embed_runtime, s.embed_precision) == ("onnx", "int8")
    assert Embedder.from_settings(s).identity == Embedder().identity == s.embedder


def test_onnx_fp32_gives_sentence_transformers_vectors(reference: np.ndarray) -> None:
    embedder = Embedder(precision="fp32")
    vecs = embedder.embed(TEXTS)
    assert vecs.shape == (len(TEXTS), 384) and vecs.dtype == np.float32
    cos = (vecs * reference).sum(axis=1)
    assert cos.min() > 0.9999, cos
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_one_text_and_a_batch_agree(embedder: Embedder) -> None:
    """A question goes to the one-thread session, a batch to the all-core one: same vectors."""
    batch = embedder.embed(TEXTS)
    for i, text in enumerate(TEXTS[:3]):
        alone = embedder.embed([text])[0]
        assert float(alone @ batch[i]) > 0.99999


def test_token_counts_match_the_transformers_tokenizer(embedder: Embedder) -> None:
    torch = Embedder(runtime="torch", precision="fp32")
    ref = torch.model.tokenizer(TEXTS, add_special_tokens=False)
    assert embedder.count_tokens(TEXTS) == [len(ids) for ids in ref["input_ids"]]
    assert embedder.count_tokens([]) == []


def test_int8_is_another_embedder(embedder: Embedder, reference: np.ndarray) -> None:
    e = embedder
    vecs = e.embed(TEXTS)
    cos = (vecs * reference).sum(axis=1)
    assert cos.min() > 0.9 and cos.max() < 0.99999  # close, not the same vectors
    assert e.identity != Embedder(precision="fp32").identity


def test_int8_needs_the_onnx_runtime() -> None:
    with pytest.raises(ConfigError, match="embed_runtime"):
        Embedder(precision="int8", runtime="torch")


def test_damaged_export_is_named_and_refused(tmp_path: Path, embedder: Embedder) -> None:
    src = export_dir(embedder.spec, embedder.cache_dir)
    onnx_model(embedder.spec, "fp32", embedder.cache_dir)  # exported by setup; made if not
    dst = export_dir(embedder.spec, tmp_path)
    shutil.copytree(src, dst)
    data = bytearray((dst / "fp32.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (dst / "fp32.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"fp32\.onnx: checksum differs"):
        onnx_model(embedder.spec, "fp32", tmp_path)


def test_index_refuses_another_embedder(tmp_path: Path, embedder: Embedder) -> None:
    index = tmp_path / "index"
    built = Pipeline(
        Settings(index_dir=index, llm_backend="extractive"), llm=ExtractiveLLM(), embedder=embedder
    )
    assert built.ingest([CORPUS]).added
    with pytest.raises(ConfigError) as e:
        Pipeline(Settings(index_dir=index, llm_backend="extractive", embed_precision="fp32"))
    msg = str(e.value)
    assert "built by the embedder packaged:all-MiniLM-L6-v2@int8" in msg
    assert "ask for packaged:all-MiniLM-L6-v2@fp32" in msg
    assert "rebuild" in msg and str(index) in msg
    # left to the defaults, the settings take the index's own embedder
    assert Pipeline(Settings(index_dir=index, llm_backend="extractive")).documents()


def test_default_settings_open_an_fp32_index_and_torch_computes_its_vectors(
    tmp_path: Path,
) -> None:
    """An index built before int8 shipped still opens; the runtime is not part of the embedder."""
    index = tmp_path / "index"
    fp32 = Settings(index_dir=index, llm_backend="extractive", embed_precision="fp32")
    assert Pipeline(fp32, embedder=Embedder(precision="fp32")).ingest([CORPUS]).added
    again = Pipeline(Settings(index_dir=index, llm_backend="extractive", embed_runtime="torch"))
    assert again.settings.embedder == "packaged:all-MiniLM-L6-v2@fp32"
    assert len(again.documents()) == 1
    assert again.ask("Who makes the Patriot missiles?").citations
    with pytest.raises(ConfigError, match=r"the embedder given is .*@int8"):
        Pipeline(Settings(index_dir=index, llm_backend="extractive"), embedder=Embedder())


def test_index_from_before_the_precision_was_recorded_opens_as_fp32(
    tmp_path: Path, embedder: Embedder
) -> None:
    import json

    index = tmp_path / "index"
    Pipeline(Settings(index_dir=index, llm_backend="extractive"), embedder=embedder).ingest(
        [CORPUS]
    )
    stored = json.loads((index / "settings.json").read_text())
    del stored["embed_precision"]
    (index / "settings.json").write_text(json.dumps(stored))
    assert Settings(index_dir=index).adopt_index(index).embed_precision == "fp32"
    with pytest.raises(ConfigError):
        Settings(index_dir=index, embed_precision="int8").adopt_index(index)
