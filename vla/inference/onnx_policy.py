"""``OnnxPolicy``: an exported policy (fp32 or int8 ONNX) under ONNX Runtime on a CPU, no GPU.

    obs dicts --validate, stack--> uint8 cameras (B, H, W, 3) per camera, raw state
    instruction --MiniLM states (text cache or MiniLM), padded to L, cached per instruction-->
    DIR/policy[_int8].onnx (static batch B: a smaller batch is padded, a larger one split)
      --> action_ids (B, T) (the checkpoint's readout, inside the graph) --ActionTokenizer.decode--> chunks (B, H, D) in robot units

Same API as ``vla.policy.Policy`` (``act``, ``predict_batch``, ``select_action``, ``reset``,
``metadata``), so ``vla serve`` and the ROS node can serve it. Built by ``vla export --format
onnx --int8 --out DIR``; DIR holds everything needed except the MiniLM instruction states
(``--text-cache FILE`` from ``vla text-cache``, or the MiniLM package).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vla.constants import OBS_STATE, TASK
from vla.policy.action_tokens import decode_tokens
from vla.policy.checkpoint import TOKENIZER_DIRNAME, PolicyMeta
from vla.robot.chunks import ChunkBroker


class OnnxPolicy:
    """A ``vla export`` folder run by ONNX Runtime (CPU); see the module docstring."""

    def __init__(self, export_dir: str | Path, filename: str = "policy.onnx", threads: int = 0,
                 text_cache: str | Path | None = None, text_encoder: Any = None,
                 providers: Sequence[Any] = ("CPUExecutionProvider",),
                 spin: bool = False):  # fmt: skip
        import onnxruntime as ort

        from vla.export.onnx_export import EXPORT_META_FILENAME, STATE, TEXT_MASK, TEXT_STATES
        from vla.model import VLAConfig
        from vla.policy.policy import build_text_encoder
        from vla.tokenizers import load_tokenizer

        self.dir = Path(export_dir)
        path = self.dir / filename
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: `vla export --format onnx [--int8] --out {self.dir}` writes it"
            )
        self.filename = filename
        self.export_meta = json.loads((self.dir / EXPORT_META_FILENAME).read_text())
        self.meta = PolicyMeta.read(self.dir)
        graph_readout = self.export_meta.get("readout", "argmax")  # exports before the option
        if graph_readout != self.meta.readout:
            raise ValueError(
                f"{path} computes action_ids by readout {graph_readout!r} but policy_meta.json "
                f"asks for {self.meta.readout!r}: re-export with `vla export --checkpoint CKPT "
                f"--format onnx --out {self.dir}`"
            )
        self.tokenizer = load_tokenizer(self.dir / TOKENIZER_DIRNAME)
        config = VLAConfig.from_pretrained(self.dir)
        # an EmbedInstruction: MiniLM states from the text cache / MiniLM (or a caller's own)
        self.text_encoder = text_encoder or build_text_encoder(config, self.dir, text_cache)
        self.inputs = {s["name"]: s for s in self.export_meta["inputs"]}
        self.batch = int(self.export_meta["batch"])
        self.names = (TEXT_STATES, TEXT_MASK, STATE)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        # spin=False: no busy-waiting between ops. A robot computer shares its few cores (ROS
        # nodes, the camera driver): v7 on the 2-core CPU machine, 2 threads, one core busy
        # elsewhere: 101-120 ms per chunk spinning vs 50-52 ms not; both cores free: 33 vs 37
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        # providers: ONNX Runtime's execution providers, e.g. TensorRT on a Jetson with
        # onnxruntime-gpu: [("TensorrtExecutionProvider", {"trt_fp16_enable": True}), ...]
        self.session = ort.InferenceSession(str(path), opts, providers=list(providers))
        self._text: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.broker = ChunkBroker(self.act, self.meta.execution_horizon)

    @classmethod
    def from_export(cls, export_dir: str | Path, filename: str | None = None, threads: int = 0,
                    text_cache: str | Path | None = None) -> OnnxPolicy:  # fmt: skip
        """Load ``DIR/filename``; default: the fp32 ``policy.onnx`` (faithful to PyTorch), or
        ``policy_int8.onnx`` in a folder that holds only that one."""
        if filename is None:
            from vla.export.quantize import INT8_FILENAME

            fp32 = (Path(export_dir) / "policy.onnx").is_file()
            filename = "policy.onnx" if fp32 else INT8_FILENAME
        return cls(export_dir, filename, threads, text_cache)

    # ---- Policy API -----------------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, Any]:
        """``PolicyMeta`` fields, the decode mode and which ONNX file runs."""
        return {**self.meta.to_json(), "decode": "parallel",
                "onnx_file": self.filename, "onnx_batch": self.batch}  # fmt: skip

    def reset(self) -> None:
        """Start a new episode (clears the broker's queued actions)."""
        self.broker.reset()

    def act(self, observation: dict) -> np.ndarray:
        """One action chunk (H, D) float32 in robot units."""
        return self.predict_batch([observation])[0]

    def select_action(self, observation: dict) -> np.ndarray:
        """One action (D,) for this control step, via the chunk broker."""
        return self.broker.select_action(observation)

    def predict_batch(self, observations: Sequence[dict]) -> np.ndarray:
        """Action chunks (B, H, D) float32 in robot units."""
        ids = np.concatenate([self._run(p, "action_ids") for p in self._pieces(observations)])
        eos = int(self.export_meta["eos_id"])
        return decode_tokens(self.tokenizer, ids, self.meta.chunk_size, eos)

    def predict_logits(self, observations: Sequence[dict]) -> torch.Tensor:
        """Logits (B, T, V) float32 (for fidelity checks)."""
        parts = [self._run(p, "logits") for p in self._pieces(observations)]
        return torch.from_numpy(np.concatenate(parts))

    # ---- internals ------------------------------------------------------------------------
    def _pieces(self, observations: Sequence[dict]) -> list[Sequence[dict]]:
        if not observations:
            raise ValueError("predict_batch needs at least one observation")
        return [observations[i : i + self.batch] for i in range(0, len(observations), self.batch)]

    def _run(self, observations: Sequence[dict], output: str) -> np.ndarray:
        n = len(observations)
        padded = list(observations) + [observations[-1]] * (self.batch - n)
        return self.session.run([output], self._feed(padded))[0][:n]

    def _feed(self, observations: Sequence[dict]) -> dict[str, np.ndarray]:
        text_states, text_mask, state = self.names
        hw = tuple(int(x) for x in self.meta.image_size)
        feed: dict[str, np.ndarray] = {}
        for key in self.meta.camera_keys:
            imgs = []
            for obs in observations:
                if key not in obs:
                    raise KeyError(f"observation lacks {key!r}; it has {sorted(obs)}")
                img = np.asarray(obs[key])
                if img.dtype != np.uint8 or img.shape != (*hw, 3):
                    raise ValueError(f"{key} must be uint8 {(*hw, 3)}, got {img.dtype} "
                                     f"{img.shape}: render the environment at that size")  # fmt: skip
                imgs.append(img)
            feed[key.split(".")[-1]] = np.stack(imgs)
        texts = [self._embed(obs[TASK]) for obs in observations]
        feed[text_states] = np.stack([t for t, _ in texts])
        feed[text_mask] = np.stack([m for _, m in texts])
        if state in self.inputs:
            s = np.stack([np.asarray(o[OBS_STATE], dtype=np.float32).reshape(-1)
                          for o in observations])  # fmt: skip
            if s.shape[1] != len(self.meta.state_names):
                raise ValueError(f"state has {s.shape[1]} values, the policy expects "
                                 f"{len(self.meta.state_names)}")  # fmt: skip
            feed[state] = s
        return feed

    def _embed(self, task: str) -> tuple[np.ndarray, np.ndarray]:
        """(L, 384) float32 states and (L,) bool mask of one instruction, zero-padded (cached)."""
        hit = self._text.get(task)
        if hit is None:
            length, dim = self.inputs[self.names[0]]["shape"][1:]
            text, mask = self.text_encoder.embed([task])  # (1, l, 384), (1, l)
            n = text.shape[1]
            if n > length:
                raise ValueError(f"instruction {task[:60]!r} has {n} tokens, over {length}")
            states = np.zeros((length, dim), np.float32)
            states[:n] = text[0].float().numpy()
            valid = np.zeros(length, bool)
            valid[:n] = mask[0].numpy()
            hit = self._text[task] = (states, valid)
        return hit
