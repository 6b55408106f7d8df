"""int8 builds of an exported policy and ``OnnxPolicy`` (the CPU-only serving path)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))

from tiny_checkpoint import INSTRUCTIONS, make_tiny_checkpoint  # noqa: E402

from vla.export import ExportConfig, export_onnx  # noqa: E402
from vla.export.onnx_export import build_graph  # noqa: E402
from vla.export.quantize import INT8_FILENAME, head_nodes, quantize_int8  # noqa: E402
from vla.inference.bench import synthetic_observations  # noqa: E402
from vla.inference.onnx_policy import OnnxPolicy  # noqa: E402
from vla.policy import Policy  # noqa: E402
from vla.policy.action_tokens import decode_tokens  # noqa: E402


class FakeText:
    """Stands in for MiniLM: fixed random (1, 5, 384) states per instruction."""

    def embed(self, texts):
        gen = torch.Generator().manual_seed(len(texts[0]))
        return torch.randn(1, 5, 384, generator=gen), torch.ones(1, 5, dtype=torch.bool)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("int8")
    ckpt = make_tiny_checkpoint(root / "ckpt", text_encoder="minilm", use_state=True,
                                random_state_stats=True)  # fmt: skip
    export_onnx(ckpt, root / "out", ExportConfig(batch=2))
    return ckpt, root / "out"


def observations(policy: Policy, n: int) -> list[dict]:
    return synthetic_observations(policy, n, INSTRUCTIONS[:2], seed=0)


def test_fp32_onnx_policy_matches_the_graph(exported):
    """Batch 3 through a batch-2 graph (split + padded) gives the PyTorch graph's actions."""
    ckpt, out = exported
    policy = Policy.from_pretrained(ckpt)
    onnx = OnnxPolicy(out, "policy.onnx", text_encoder=FakeText())
    obs = observations(policy, 3)
    feed = onnx._feed(obs)
    graph = build_graph(policy)
    with torch.no_grad():
        ids, _ = graph(*(torch.from_numpy(feed[s["name"]]) for s in onnx.export_meta["inputs"]))
    want = decode_tokens(policy.tokenizer, ids.numpy(), policy.meta.chunk_size,
                         policy.model.config.eos_id)  # fmt: skip
    got = onnx.predict_batch(obs)
    assert got.shape == (3, policy.meta.chunk_size, 7) and got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    cfg = policy.model.config
    assert onnx.predict_logits(obs).shape == (3, cfg.max_action_tokens, cfg.action_vocab_size)
    meta = onnx.metadata
    assert meta["camera_keys"] == policy.meta.camera_keys and meta["onnx_file"] == "policy.onnx"
    onnx.reset()
    assert onnx.select_action(obs[0]).shape == (7,)


@pytest.mark.parametrize(
    "method, op",
    [
        ("dynamic", "MatMulInteger"),
        ("blockwise", "MatMulNBits"),
        ("weight_only", "MatMulNBits"),
    ],  # fmt: skip
)
def test_int8_build_keeps_head_fp32_and_serves(exported, method: str, op: str):
    import onnx

    ckpt, out = exported
    fp32 = onnx.load(str(out / "policy.onnx"))
    head = head_nodes(fp32)
    info = quantize_int8(out, method)
    assert info["method"] == method and info["kept_fp32"] == head and len(head) == 1
    model = onnx.load(str(out / INT8_FILENAME))
    ops = {n.op_type for n in model.graph.node}
    assert op in ops, ops
    assert any(n.name == head[0] and n.op_type in ("MatMul", "Gemm") for n in model.graph.node)
    policy = Policy.from_pretrained(ckpt)
    assert OnnxPolicy.from_export(out).filename == "policy.onnx"  # fp32 first: faithful
    int8 = OnnxPolicy.from_export(out, INT8_FILENAME)
    int8.text_encoder = FakeText()
    chunk = int8.predict_batch(observations(policy, 2))
    assert chunk.shape == (2, policy.meta.chunk_size, 7) and np.isfinite(chunk).all()


def test_errors_name_the_fix(exported, tmp_path):
    _, out = exported
    with pytest.raises(FileNotFoundError, match="vla export"):
        OnnxPolicy(out, "nope.onnx")
    with pytest.raises(ValueError, match="method"):
        quantize_int8(out, "int4")
    with pytest.raises(FileNotFoundError, match="vla export"):
        quantize_int8(tmp_path)
    onnx = OnnxPolicy(out, "policy.onnx", text_encoder=FakeText())
    bad = observations(Policy.from_pretrained(exported[0]), 1)[0]
    bad["observation.images.scene"] = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="render"):
        onnx.act(bad)
