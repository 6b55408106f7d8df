"""The exported graph computes the checkpoint's readout; OnnxPolicy refuses a mismatch."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))

from tiny_checkpoint import INSTRUCTIONS, make_tiny_checkpoint  # noqa: E402

from vla.constants import OBS_STATE, TASK  # noqa: E402
from vla.export import ExportConfig, export_onnx  # noqa: E402
from vla.export.onnx_export import EXPORT_META_FILENAME  # noqa: E402
from vla.inference.onnx_policy import OnnxPolicy  # noqa: E402
from vla.policy import Policy  # noqa: E402
from vla.policy.readout import READOUT_MODES, Readout  # noqa: E402

pytest.importorskip("onnxruntime")


class FakeText:
    """Stands in for MiniLM: fixed random (1, 5, 384) states per instruction."""

    def embed(self, texts):
        gen = torch.Generator().manual_seed(len(texts[0]))
        return torch.randn(1, 5, 384, generator=gen), torch.ones(1, 5, dtype=torch.bool)


@pytest.mark.parametrize("mode", [m for m in READOUT_MODES if m != "argmax"])
def test_graph_ids_are_the_readout_of_its_logits(tmp_path, mode: str):
    ckpt = make_tiny_checkpoint(tmp_path / "ckpt", text_encoder="minilm", use_state=True,
                                random_state_stats=True)  # fmt: skip
    meta_path = ckpt / "policy_meta.json"
    meta = json.loads(meta_path.read_text())
    meta["readout"] = mode
    meta_path.write_text(json.dumps(meta))
    out = tmp_path / "out"
    assert export_onnx(ckpt, out, ExportConfig(batch=1))["readout"] == mode
    onnx = OnnxPolicy(out, "policy.onnx", text_encoder=FakeText())
    policy = Policy.from_pretrained(ckpt)
    rng = np.random.default_rng(0)
    h, w = policy.meta.image_size
    obs = {k: rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for k in policy.meta.camera_keys}
    obs[OBS_STATE] = rng.normal(size=len(policy.meta.state_names)).astype(np.float32)
    obs[TASK] = INSTRUCTIONS[0]
    feed = onnx._feed([obs])
    ids, logits = onnx.session.run(["action_ids", "logits"], feed)
    np.testing.assert_array_equal(ids, Readout(mode)(torch.from_numpy(logits)).numpy())
    assert not np.array_equal(ids, logits.argmax(-1))  # the readout, not argmax, is in the graph

    # a graph exported with another readout than policy_meta.json asks for is refused
    meta["readout"] = "argmax"
    (out / "policy_meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="re-export"):
        OnnxPolicy(out, "policy.onnx", text_encoder=FakeText())
    em = json.loads((out / EXPORT_META_FILENAME).read_text())
    assert em["readout"] == mode
