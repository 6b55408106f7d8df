"""Export the policy to ONNX for edge devices (Jetson / TensorRT, ONNX Runtime).

Command::

    vla export --checkpoint checkpoints/pick_place_v7 --format onnx --out exports/pp_v1 \\
        [--batch 1] [--opset 18]

writes ``DIR/policy.onnx`` (ONE graph) plus ``policy_meta.json``, ``stats.json`` and
``action_tokenizer/`` copied from the checkpoint, and ``export_meta.json`` (input/output names,
shapes, dtypes, opset, exporter, torch version, parity figures measured at export time).

The graph (static shapes, batch fixed by ``--batch``)::

    scene        uint8   (B, H, W, 3)   camera images as rendered (one input per camera key,
    wrist        uint8   (B, H, W, 3)     named by the key's last part, in policy_meta order)
    text_states  float32 (B, L, 384)    MiniLM token states of the instruction, zero-padded to L
    text_mask    bool    (B, L)         True on real tokens (at least one per row)
    state        float32 (B, S)         raw robot state; ONLY if the model uses it (use_state)
    -> action_ids int64  (B, T)         bin ids by the checkpoint's readout (policy_meta.json
                                        "readout": argmax | mean); decode with action_tokenizer/
    -> logits     float32 (B, T, V)

Inside: uint8 -> [0, 1] float, state normalisation (stats baked in as constants), the CNN
vision tower, the Llama fusion decoder (bidirectional), the parallel action head and the readout
(``vla.policy.readout``, recorded in ``export_meta.json``): the same body as ``vla.inference.static_forward.forward_tokens``. Decoding ids to robot units
(``ActionTokenizer.decode``: ``bins -> centres``, unnormalise) stays on the host: it is a table
lookup on 56 numbers. For the shipped checkpoint L=32, T=56, V=256, S=15 (not an input:
``use_state: false``).

Why MiniLM stays outside the graph: it is frozen and its output depends only on the
instruction, which changes once per episode, not per control step. The robot computes the
(L, 384) states once per instruction (``vla text-cache`` / ``InstructionEmbeddings``, or MiniLM
on the host) and feeds the cached array every step; folding MiniLM (22M parameters, a
WordPiece tokenizer that ONNX cannot express cleanly) into the per-step graph would make every
step pay for it.

Exporter: ``torch.onnx.export(..., dynamo=True)`` (the torch.export-based exporter; needs the
``onnxscript`` package) is tried first; if it fails the TorchScript exporter
(``dynamo=False``) is used. ``export_meta.json["exporter"]`` records which one produced the file.
With torch 2.13 + transformers 5 here only the dynamo exporter works (TorchScript tracing hits
an internal assert on transformers' attention-mask code), and it emits **opset 18**: asking for
17 fails because ONNX's version converter cannot move ``ReduceMean`` (RMSNorm) back to the
attribute form. Hence the default ``--opset 18``; ``--opset 17`` raises a clear error. Opset 18
needs ONNX Runtime >= 1.14 and TensorRT >= 10 (JetPack 6.2 ships TensorRT 10.3); TensorRT 8.6
(JetPack 6.0/6.1) officially parses up to opset 17 (untested here whether it accepts this file).

Parity (``vla.export.parity``, run by ``vla export`` and tested in ``tests/export``): ONNX
Runtime CPU vs the PyTorch fp32 forward on the same random inputs; token agreement and the RMSE
of the decoded actions are written to ``export_meta.json``.

TensorRT (Jetson; untested here, no TensorRT on this machine)::

    trtexec --onnx=policy.onnx --saveEngine=policy.plan --fp16 \\
        --shapes=scene:1x128x128x3,wrist:1x128x128x3,text_states:1x32x384,text_mask:1x32

(shapes are static in the file, so ``--shapes`` only restates them; add ``state:1x15`` for a
model with a state input; build the engine ON the target Jetson, engines are not portable
across GPUs / TensorRT versions). Precision: **fp16** (``--fp16``) runs the stored weights; on
recorded episodes the PyTorch fp16 fast path agreed with fp32 on 98.6 % of the action ids (100 %
where fp32's runner-up bin is >= 0.01 logits behind; see ``vla.inference.fast_policy``,
'Fidelity'). Keep the action head (the last MatMul, feeding ``logits``) in fp32: half-precision
logits round near-tied bins into exact ties, the largest single cause of disagreement
(``--precisionConstraints=obey --layerPrecisions=<that layer>:fp32``). The readout is part of
the graph (``action_ids``), so the engine reads out as the checkpoint asks. Parity on the
device (JetPack 6.2: TensorRT 10.3, onnxruntime-gpu with its TensorRT provider, torch for the
fp32 reference; the observations and their instruction states are committed)::

    python benchmarks/precision_fidelity.py --onnx DIR --ort-tensorrt fp16 --dtypes float32 \
        --text-cache benchmarks/results/edge_inference/text_cache_seed3400.safetensors

expect, as on the H100's fp16: >= 98 % identical ids, >= 99.9 % within one bin under the
``smoothed`` readout. **int8** (``vla export --int8``, ``vla.export.quantize``;
``benchmarks/precision_int8.py``) is not faithful for pick_place_v7 (27-92 % identical ids
under any readout, static QDQ included) and not faster on a 2-core CPU than the fp32 graph;
re-run the parity check and a closed-loop evaluation before using it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vla.constants import OBS_STATE
from vla.model import VLAModel
from vla.policy.checkpoint import TOKENIZER_DIRNAME
from vla.policy.readout import Readout
from vla.policy.transforms import CLIP, Normalize

ONNX_FILENAME = "policy.onnx"
EXPORT_META_FILENAME = "export_meta.json"
TEXT_STATES, TEXT_MASK, STATE = "text_states", "text_mask", "state"
OUTPUT_NAMES = ("action_ids", "logits")
COPIED_FILES = ("policy_meta.json", "stats.json", "config.json")


@dataclass(frozen=True)
class ExportConfig:
    """Options of ``export_onnx``.

    Args:
        batch: static batch size of the graph.
        opset: ONNX opset version (18: what the dynamo exporter produces; see module doc).
        exporter: ``"auto"`` (dynamo, then TorchScript on failure), ``"dynamo"`` or
            ``"torchscript"``.
    """

    batch: int = 1
    opset: int = 18
    exporter: str = "auto"

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError(f"batch must be >= 1, got {self.batch}")
        if not 14 <= self.opset <= 23:
            raise ValueError(f"opset {self.opset}: use 14..23 (18 is the tested default)")
        if self.exporter not in ("auto", "dynamo", "torchscript"):
            raise ValueError(f"exporter {self.exporter!r}: choose auto, dynamo or torchscript")


class PolicyGraph(nn.Module):
    """The exported body: raw uint8 cameras (+ raw state) + text states -> (ids, logits)."""

    def __init__(self, model: VLAModel, centre: torch.Tensor, scale: torch.Tensor,
                 readout: Readout | None = None):  # fmt: skip
        super().__init__()
        self.model = model.float().eval()
        self.readout = readout or Readout("argmax")
        self.num_cameras = model.config.num_cameras
        self.use_state = bool(model.config.use_state)
        self.register_buffer("centre", centre.float().clone())
        self.register_buffer("scale", scale.float().clone())

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(*cameras, text_states, text_mask[, state])`` as in the module docstring."""
        n = self.num_cameras
        cams, text, mask = inputs[:n], inputs[n], inputs[n + 1]
        imgs = torch.stack(cams, dim=1).permute(0, 1, 4, 2, 3).float() / 255.0  # (B, N, 3, H, W)
        state = None
        if self.use_state:
            state = ((inputs[n + 2] - self.centre) / self.scale).clamp(-CLIP, CLIP)
        logits = self.model(imgs, state, text, mask)["logits"]  # (B, T, V)
        return self.readout(logits), logits


def input_specs(policy, batch: int) -> list[dict[str, Any]]:
    """Names, shapes and dtypes of the graph inputs for a loaded ``Policy``."""
    cfg, meta = policy.model.config, policy.meta
    if cfg.text_encoder != "minilm":
        raise ValueError(
            f"ONNX export supports text_encoder='minilm' checkpoints (text states as an input); "
            f"this one uses {cfg.text_encoder!r}"
        )
    h, w = (int(x) for x in meta.image_size)
    specs = [{"name": k.split(".")[-1], "shape": [batch, h, w, 3], "dtype": "uint8"}
             for k in meta.camera_keys]  # fmt: skip
    if len({s["name"] for s in specs}) != len(specs):
        raise ValueError(f"camera keys {meta.camera_keys} do not have distinct last parts")
    specs.append({"name": TEXT_STATES, "shape": [batch, cfg.max_text_tokens, cfg.text_dim],
                  "dtype": "float32"})  # fmt: skip
    specs.append({"name": TEXT_MASK, "shape": [batch, cfg.max_text_tokens], "dtype": "bool"})
    if cfg.use_state:
        specs.append({"name": STATE, "shape": [batch, len(meta.state_names)], "dtype": "float32"})
    return specs


def build_graph(policy) -> PolicyGraph:
    """The ``PolicyGraph`` of a loaded ``Policy`` (its fp32 model and state statistics)."""
    norm = next((t for t in policy.chain if isinstance(t, Normalize) and t.key == OBS_STATE),
                None)  # fmt: skip
    n = len(policy.meta.state_names)
    centre = norm.centre if norm is not None else torch.zeros(n)
    scale = norm.scale if norm is not None else torch.ones(n)
    return PolicyGraph(policy.model.cpu(), centre.cpu(), scale.cpu(), policy.readout).eval()


def example_inputs(specs: list[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """Random numpy inputs matching ``specs`` (uint8 images, N(0,1) text/state, mask prefix)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for s in specs:
        shape = s["shape"]
        if s["dtype"] == "uint8":
            out[s["name"]] = rng.integers(0, 256, shape, dtype=np.uint8)
        elif s["dtype"] == "bool":
            lengths = rng.integers(1, shape[1] + 1, shape[0])
            out[s["name"]] = np.arange(shape[1])[None, :] < lengths[:, None]
        else:
            out[s["name"]] = rng.standard_normal(shape).astype(np.float32)
    return out


def _export(graph: PolicyGraph, args: tuple, names: list[str], path: Path, opset: int,
            dynamo: bool) -> None:  # fmt: skip
    kwargs: dict[str, Any] = {"input_names": names, "output_names": list(OUTPUT_NAMES),
                              "opset_version": opset, "dynamo": dynamo}  # fmt: skip
    if dynamo:
        kwargs.update(external_data=False, optimize=True)
    torch.onnx.export(graph, args, str(path), **kwargs)


def file_opset(path: str | Path) -> int:
    """The default-domain opset version of an ONNX file."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next(int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx"))


def export_onnx(checkpoint: str | Path, out_dir: str | Path,
                config: ExportConfig | None = None) -> dict[str, Any]:  # fmt: skip
    """Export a checkpoint folder to ``out_dir`` (see module docstring); returns export_meta."""
    import onnx

    from vla.policy import Policy

    config = config or ExportConfig()
    checkpoint, out_dir = Path(checkpoint), Path(out_dir)
    policy = Policy.from_pretrained(checkpoint, device="cpu")
    if policy.decode != "parallel":
        raise ValueError(
            f"ONNX export covers the parallel action head; this checkpoint decodes "
            f"{policy.decode!r} (autoregressive needs a KV-cache loop outside one graph)"
        )
    specs = input_specs(policy, config.batch)
    graph = build_graph(policy)
    arrays = example_inputs(specs)
    args = tuple(torch.from_numpy(arrays[s["name"]]) for s in specs)
    names = [s["name"] for s in specs]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ONNX_FILENAME
    order = {"auto": ("dynamo", "torchscript"), "dynamo": ("dynamo",),
             "torchscript": ("torchscript",)}[config.exporter]  # fmt: skip
    errors: dict[str, str] = {}
    used = None
    with torch.no_grad():
        for name in order:
            try:
                _export(graph, args, names, path, config.opset, dynamo=name == "dynamo")
                onnx.checker.check_model(str(path))
                got = file_opset(path)
                if got != config.opset:
                    raise RuntimeError(
                        f"the file has opset {got}, not the requested {config.opset}"
                    )
                used = name
                break
            except Exception as exc:  # noqa: BLE001 - the next exporter is tried, errors kept
                errors[name] = f"{type(exc).__name__}: {str(exc)[:500]}"
    if used is None:
        path.unlink(missing_ok=True)  # no half-right file left behind
        raise RuntimeError(
            f"ONNX export failed with every exporter: {errors}; with this torch use --opset 18 "
            "and the dynamo exporter (pip install onnxscript)"
        )
    for fname in COPIED_FILES:
        if (checkpoint / fname).is_file():
            shutil.copy2(checkpoint / fname, out_dir / fname)
    shutil.copytree(checkpoint / TOKENIZER_DIRNAME, out_dir / TOKENIZER_DIRNAME,
                    dirs_exist_ok=True)  # fmt: skip
    cfg = policy.model.config
    t, v = cfg.max_action_tokens, cfg.action_vocab_size
    meta = {
        "format": "onnx", "file": ONNX_FILENAME, "opset": config.opset, "exporter": used,
        "exporter_errors": errors, "torch_version": torch.__version__,
        "onnx_version": onnx.__version__, "checkpoint": str(checkpoint), "batch": config.batch,
        "inputs": specs,
        "outputs": [{"name": "action_ids", "shape": [config.batch, t], "dtype": "int64"},
                    {"name": "logits", "shape": [config.batch, t, v], "dtype": "float32"}],
        "readout": policy.readout.mode,
        "chunk_size": cfg.chunk_size, "eos_id": cfg.eos_id, "use_state": bool(cfg.use_state),
        "text_encoder": "MiniLM (all-MiniLM-L6-v2) token states, computed outside the graph",
        "onnx_bytes": path.stat().st_size,
    }  # fmt: skip
    (out_dir / EXPORT_META_FILENAME).write_text(json.dumps(meta, indent=1))
    return meta
