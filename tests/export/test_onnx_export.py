"""`vla export` to ONNX: graph contents, files written, ORT-vs-PyTorch parity, CLI, errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))

from tiny_checkpoint import make_tiny_checkpoint  # noqa: E402

from vla.constants import SHIPPED_CHECKPOINT  # noqa: E402
from vla.export import ExportConfig, check_parity, export_onnx  # noqa: E402
from vla.export.onnx_export import ONNX_FILENAME, build_graph, example_inputs  # noqa: E402

SHIPPED = SHIPPED_CHECKPOINT


def _minilm_checkpoint(directory: Path, use_state: bool) -> Path:
    """A tiny random MiniLM-text policy (the text encoder export supports), non-identity stats."""
    return make_tiny_checkpoint(
        directory, text_encoder="minilm", use_state=use_state, random_state_stats=True
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("export")
    ckpt = _minilm_checkpoint(root / "ckpt", use_state=True)
    meta = export_onnx(ckpt, root / "out", ExportConfig(batch=2))
    return ckpt, root / "out", meta


def test_files_and_meta(exported):
    ckpt, out, meta = exported
    for name in ("policy.onnx", "policy_meta.json", "stats.json", "export_meta.json"):
        assert (out / name).is_file(), name
    assert (out / "action_tokenizer").is_dir()
    assert json.loads((out / "export_meta.json").read_text()) == meta
    assert meta["exporter"] == "dynamo" and meta["opset"] == 18
    assert [s["name"] for s in meta["inputs"]] == [
        "scene", "wrist", "text_states", "text_mask", "state"]  # fmt: skip
    assert meta["inputs"][0] == {"name": "scene", "shape": [2, 32, 32, 3], "dtype": "uint8"}
    assert meta["inputs"][2]["shape"] == [2, 8, 384]
    assert meta["outputs"][0]["shape"] == [2, 28] and meta["outputs"][1]["shape"] == [2, 28, 32]


def test_onnx_graph_io(exported):
    import onnx

    _, out, meta = exported
    model = onnx.load(str(out / ONNX_FILENAME))
    elem = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
    tp = onnx.TensorProto
    assert elem == {"scene": tp.UINT8, "wrist": tp.UINT8, "text_states": tp.FLOAT,
                    "text_mask": tp.BOOL, "state": tp.FLOAT}  # fmt: skip
    assert [o.name for o in model.graph.output] == ["action_ids", "logits"]
    assert model.graph.output[0].type.tensor_type.elem_type == tp.INT64


def test_graph_matches_fast_path_body(exported):
    """The exported module computes what the tested fast path computes (fp32)."""
    from vla.inference.static_forward import Preprocess, forward_tokens
    from vla.policy import Policy
    from vla.policy.transforms import CLIP

    ckpt, _, meta = exported
    policy = Policy.from_pretrained(ckpt)
    graph = build_graph(policy)
    feed = {k: torch.from_numpy(v) for k, v in example_inputs(meta["inputs"], 3).items()}
    with torch.no_grad():
        ids, logits = graph(*feed.values())
    pre = Preprocess(graph.centre, graph.scale, CLIP)
    imgs = torch.stack([feed["scene"], feed["wrist"]], 1)
    with torch.no_grad():
        ref = forward_tokens(policy.model, pre, imgs, feed["state"], feed["text_states"],
                             feed["text_mask"], torch.float32)  # fmt: skip
    assert torch.equal(ids, ref)
    # the state input matters (a graph that dropped it would not change)
    feed["state"] = feed["state"] + 3.0
    with torch.no_grad():
        _, logits2 = graph(*feed.values())
    assert not torch.allclose(logits, logits2)


def test_parity_tiny(exported):
    ckpt, out, _ = exported
    report = check_parity(ckpt, out, runs=3, latency_repeats=3)
    assert report.samples == 6
    assert report.token_agreement == 1.0
    assert report.action_rmse < 1e-6
    assert report.logits_max_abs_diff < 1e-4
    assert report.onnx_bytes == (out / ONNX_FILENAME).stat().st_size
    assert report.ort_latency_ms_median > 0


def test_no_state_input_without_use_state(tmp_path):
    ckpt = _minilm_checkpoint(tmp_path / "ckpt", use_state=False)
    meta = export_onnx(ckpt, tmp_path / "out")
    assert [s["name"] for s in meta["inputs"]] == ["scene", "wrist", "text_states", "text_mask"]
    assert check_parity(ckpt, tmp_path / "out", runs=1, latency_repeats=1).token_agreement == 1.0


def test_cli_and_errors(tmp_path, capsys):
    from vla.cli.main import main

    with pytest.raises(ValueError, match="batch"):
        ExportConfig(batch=0)
    assert main(["export", "--checkpoint", str(tmp_path / "nope"), "--out",
                 str(tmp_path / "o")]) == 2  # fmt: skip
    assert "not a policy checkpoint" in capsys.readouterr().err
    ckpt = make_tiny_checkpoint(tmp_path / "words")  # word-id text encoder: refused
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "o")]) == 2
    assert "minilm" in capsys.readouterr().err


def test_unsupported_opset_fails_cleanly(exported, tmp_path, capsys):
    """torch 2.13's dynamo exporter emits opset 18; 17 is refused, no file is left behind."""
    from vla.cli.main import main

    ckpt, _, _ = exported
    out = tmp_path / "o17"
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(out), "--opset", "17"]) == 2
    assert "opset 18" in capsys.readouterr().err
    assert not (out / ONNX_FILENAME).exists()


def test_shipped_checkpoint_parity(tmp_path, capsys):
    """The shipped policy end to end through the CLI (~8 s on 2 shared cores)."""
    from vla.cli.main import main

    assert main(["export", "--checkpoint", str(SHIPPED), "--out", str(tmp_path),
                 "--parity-runs", "4", "--latency-repeats", "5"]) == 0  # fmt: skip
    meta = json.loads((tmp_path / "export_meta.json").read_text())
    par = meta["parity_onnxruntime_cpu"]
    assert [s["name"] for s in meta["inputs"]] == ["scene", "wrist", "text_states", "text_mask"]
    assert meta["inputs"][0]["shape"] == [1, 128, 128, 3]
    assert meta["outputs"][0]["shape"] == [1, 56]
    assert par["token_agreement"] >= 0.99 and par["action_rmse"] < 1e-3
    assert np.isfinite(par["ort_latency_ms_median"])
