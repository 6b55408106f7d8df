"""scripts/average_checkpoints.py: the weighted mean of compatible checkpoints, refused otherwise."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("avg", ROOT / "scripts" / "average_checkpoints.py")
avg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(avg)


def _checkpoint(path: Path, seed: int, config: dict | None = None) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    weights = {
        "a.weight": torch.randn(8, 4, generator=g).half(),
        "b.bias": torch.randn(4, generator=g).half(),
    }
    (path / "action_tokenizer").mkdir(parents=True)
    save_file(weights, str(path / "model.safetensors"), metadata={"format": "pt"})
    (path / "config.json").write_text(json.dumps(config or {"model_type": "vla", "hidden_size": 4}))
    (path / "stats.json").write_text(json.dumps({"seed": seed}))
    (path / "action_tokenizer" / "action_tokenizer.json").write_text('{"type": "binning"}')
    (path / "action_tokenizer" / "action_stats.json").write_text('{"action": {"min": [-1]}}')
    (path / "eval_mujoco.json").write_text("{}")
    return weights


def test_weighted_mean_keeps_dtype_and_the_first_folder(tmp_path):
    w1 = _checkpoint(tmp_path / "one", 1)
    w2 = _checkpoint(tmp_path / "two", 2)
    out = tmp_path / "soup"
    assert avg.main([str(tmp_path / "one"), str(tmp_path / "two"), "--out", str(out),
                     "--weights", "3", "1"]) == 0  # fmt: skip
    soup = load_file(str(out / "model.safetensors"))
    for k, v in soup.items():
        assert v.dtype == torch.float16
        want = (0.75 * w1[k].float() + 0.25 * w2[k].float()).half()
        assert torch.equal(v, want), k
    assert json.loads((out / "stats.json").read_text()) == {"seed": 1}  # the first one's files
    assert (out / "action_tokenizer" / "action_stats.json").is_file()
    assert not (out / "eval_mujoco.json").exists()  # its evaluation is not the soup's
    with pytest.raises(SystemExit, match="exists"):  # nothing is overwritten
        avg.main([str(tmp_path / "one"), str(tmp_path / "two"), "--out", str(out)])


def test_incompatible_checkpoints_are_refused_with_the_reason(tmp_path):
    _checkpoint(tmp_path / "one", 1)
    _checkpoint(tmp_path / "wide", 2, {"model_type": "vla", "hidden_size": 8})
    with pytest.raises(ValueError, match="config.json differs"):
        avg.average([tmp_path / "one", tmp_path / "wide"])
    with pytest.raises(ValueError, match="at least two"):
        avg.average([tmp_path / "one"])
    _checkpoint(tmp_path / "two", 3)
    with pytest.raises(ValueError, match="non-negative"):
        avg.average([tmp_path / "one", tmp_path / "two"], [1.0, -1.0])
    save_file({"a.weight": torch.zeros(8, 4).half()}, str(tmp_path / "two" / "model.safetensors"))
    with pytest.raises(ValueError, match="tensors differ"):
        avg.average([tmp_path / "one", tmp_path / "two"])
