"""``Policy``: a trained checkpoint wrapped with its input chain, tokenizer and chunk broker.

    obs {"observation.images.<cam>": uint8 (H, W, 3), "observation.state": (S,), "task": str}
      -> input_transforms (same chain as training, strict image sizes)
      -> VLAModel logits (parallel) --Readout (policy_meta "readout": argmax | mean)--> ids (B, T)
         [autoregressive: VLAModel.predict_tokens, greedy argmax per step]
      -> ActionTokenizer.decode (un-normalises with the stored statistics) -> (B, H, D) robot units
      -> ChunkBroker (open loop for K steps / temporal ensembling) -> one action per step

Usage::

    policy = Policy.from_pretrained("checkpoints/pick_place", device="cpu")
    policy.check_compatible(action_space="eef_delta", camera_keys=[...], image_size=(128, 128))
    policy.reset()
    chunk = policy.act(obs)            # (H, 7) float32
    action = policy.select_action(obs) # (7,) float32, through the broker
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vla.constants import OBS_STATE, TASK
from vla.model import VLAConfig, VLAModel
from vla.model.text import TEXT_CACHE_FILENAME, InstructionEmbeddings, WordVocab
from vla.policy.action_tokens import decode_tokens, is_fixed_length
from vla.policy.checkpoint import TOKENIZER_DIRNAME, PolicyMeta, load_model, read_stats
from vla.policy.readout import Readout
from vla.policy.transforms import EmbedInstruction, apply_transforms, input_transforms
from vla.robot.chunks import ChunkBroker
from vla.tokenizers import load_tokenizer


def build_text_encoder(
    config: VLAConfig, directory: Path | None, text_cache: str | Path | None = None
) -> EmbedInstruction:
    """The instruction transform of a checkpoint: cached MiniLM states or its word vocabulary."""
    if config.text_encoder == "trainable":
        if directory is None:
            raise ValueError("a trainable text encoder needs its checkpoint folder (vocabulary)")
        return EmbedInstruction(WordVocab.load(directory), config.max_text_tokens)
    entries: dict[str, torch.Tensor] = {}
    if directory is not None and (directory / TEXT_CACHE_FILENAME).is_file():
        entries.update(InstructionEmbeddings.read_file(directory / TEXT_CACHE_FILENAME))
    if text_cache is not None:
        entries.update(InstructionEmbeddings.read_file(text_cache))
    cache = InstructionEmbeddings(config.max_text_tokens, entries, lazy_encoder=True)
    return EmbedInstruction(cache, config.max_text_tokens)


def check_consistent(config: VLAConfig, meta: PolicyMeta, tokenizer) -> None:
    """The checkpoint's parts must agree with each other (a hand-edited or mixed-up folder
    fails here, at load time, not mid-episode)."""
    pairs = {
        "chunk_size (config.json vs policy_meta.json)": (config.chunk_size, meta.chunk_size),
        "image_size (config.json vs policy_meta.json)": (
            list(config.image_size), list(meta.image_size)
        ),
        "cameras (config.json vs policy_meta.json)": (config.num_cameras, len(meta.camera_keys)),
        "state size (config.json vs policy_meta.json)": (config.state_dim, len(meta.state_names)),
        "action_dim (config.json vs action_tokenizer/)": (config.action_dim, tokenizer.action_dim),
        "action vocabulary (config.json vs action_tokenizer/)": (
            config.action_vocab_size, tokenizer.vocab_size
        ),
    }  # fmt: skip
    for what, (a, b) in pairs.items():
        if a != b:
            raise ValueError(
                f"inconsistent checkpoint: {what}: {a} vs {b}; re-save it with save_policy"
            )


class Policy:
    """Inference wrapper; see the module docstring. Build with ``Policy.from_pretrained``."""

    def __init__(
        self,
        model: VLAModel,
        tokenizer,
        stats: dict,
        meta: PolicyMeta,
        text: EmbedInstruction,
        device: str = "cpu",
        decode: str | None = None,
        execution_horizon: int | None = None,
        temporal_ensemble: bool = False,
        readout: str | None = None,
    ):
        self.model = model.to(device)
        self.model.eval()  # once, here: nothing per call switches modes
        self.tokenizer = tokenizer
        self.stats = stats
        self.meta = meta
        self.device = torch.device(device)
        self.decode = decode or model.config.decode_mode
        if self.decode != model.config.decode_mode:
            raise ValueError(
                f"checkpoint was trained for decode={model.config.decode_mode!r}, not "
                f"{self.decode!r}: pass decode={model.config.decode_mode!r}"
            )
        check_consistent(model.config, meta, tokenizer)
        mode = readout or meta.readout  # an override (benchmarks) or the checkpoint's choice
        if self.decode != "parallel" and mode != "argmax":
            raise ValueError(
                f"readout {mode!r} is for parallel decoding; this checkpoint decodes "
                f"{self.decode!r}: use readout 'argmax' (policy_meta.json)"
            )
        self.readout = Readout(mode)  # the same module runs in FastPolicy and ONNX
        self.chain = input_transforms(
            meta.camera_keys, meta.image_size, stats, text, meta.state_norm_mode, train=False
        )
        k = execution_horizon or meta.execution_horizon
        self.broker = ChunkBroker(self.act, k, temporal_ensemble=temporal_ensemble)

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        device: str = "cpu",
        decode: str | None = None,
        text_cache: str | Path | None = None,
        execution_horizon: int | None = None,
        temporal_ensemble: bool = False,
        readout: str | None = None,
    ) -> Policy:
        """Load a checkpoint folder written by ``save_policy`` / ``vla train`` (offline).
        ``readout``: override the checkpoint's (``policy_meta.json``) logits -> ids readout."""
        path = Path(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"{path} is not a policy checkpoint (no config.json): pass the folder written by "
                "`vla train` (e.g. <output_dir>/final)"
            )
        meta = PolicyMeta.read(path)
        stats = read_stats(path)
        tok_dir = path / TOKENIZER_DIRNAME
        if not tok_dir.is_dir():
            raise FileNotFoundError(
                f"{tok_dir} is missing: re-save the checkpoint with save_policy"
            )
        tokenizer = load_tokenizer(tok_dir)
        model = load_model(path)  # refuses a damaged model.safetensors, naming it
        text = build_text_encoder(model.config, path, text_cache)
        return cls(
            model, tokenizer, stats, meta, text, device, decode, execution_horizon,
            temporal_ensemble, readout,
        )  # fmt: skip

    # ---- metadata / compatibility -------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, Any]:
        """Camera keys, image size, state names, action space, control rate, chunk size, ..."""
        return {**self.meta.to_json(), "decode": self.decode, "readout": self.readout.mode}

    def check_compatible(
        self,
        action_space: str | None = None,
        camera_keys: Sequence[str] | None = None,
        image_size: Sequence[int] | None = None,
        control_hz: float | None = None,
    ) -> None:
        """Raise ValueError naming both sides when the environment differs from the checkpoint."""
        m = self.meta
        if action_space is not None and action_space != m.action_space:
            raise ValueError(
                f"action space mismatch: the checkpoint outputs {m.action_space!r}, the "
                f"environment expects {action_space!r}"
            )
        if camera_keys is not None and sorted(camera_keys) != sorted(m.camera_keys):
            raise ValueError(
                f"camera mismatch: the checkpoint expects {m.camera_keys}, the environment "
                f"provides {list(camera_keys)}"
            )
        if image_size is not None and tuple(image_size) != tuple(m.image_size):
            raise ValueError(
                f"image size mismatch: the checkpoint expects {tuple(m.image_size)} (H, W), the "
                f"environment renders {tuple(image_size)}"
            )
        if control_hz is not None and abs(float(control_hz) - m.control_hz) > 1e-6:
            raise ValueError(
                f"control rate mismatch: the checkpoint was trained at {m.control_hz} Hz, the "
                f"environment runs at {control_hz} Hz"
            )

    # ---- inference ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Start a new episode (clears the broker's queued actions)."""
        self.broker.reset()

    def _batch(self, observations: Sequence[dict]) -> dict:
        keys = [*self.meta.camera_keys, OBS_STATE, TASK]
        for obs in observations:
            missing = [k for k in keys if k not in obs]
            if missing:
                raise KeyError(
                    f"observation lacks {missing}; the checkpoint expects {keys}, the "
                    f"observation has {sorted(obs)}"
                )
        batch: dict = {
            k: torch.as_tensor(np.stack([np.asarray(o[k]) for o in observations]))
            for k in self.meta.camera_keys
        }
        for k in self.meta.camera_keys:
            if batch[k].dtype != torch.uint8:
                raise TypeError(f"{k} must be uint8 (H, W, 3), got {batch[k].dtype}")
        state = np.stack([np.asarray(o[OBS_STATE], dtype=np.float32) for o in observations])
        if state.shape[1] != len(self.meta.state_names):
            raise ValueError(
                f"state has {state.shape[1]} values, the checkpoint expects "
                f"{len(self.meta.state_names)} ({self.meta.state_names})"
            )
        batch[OBS_STATE] = torch.from_numpy(state)
        batch[TASK] = [o[TASK] for o in observations]
        batch = {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in batch.items()}
        return apply_transforms(self.chain, batch)

    @torch.inference_mode()
    def predict_ids(self, observations: Sequence[dict]) -> torch.Tensor:
        """Action ids (B, T) on the device: the checkpoint's readout of the parallel logits
        (greedy per step when autoregressive); what ``predict_batch`` decodes."""
        if not observations:
            raise ValueError("predict_batch needs at least one observation")
        b = self._batch(observations)
        args = (b["images"], b[OBS_STATE], b["text"], b["text_mask"])
        if self.decode == "parallel":
            return self.readout(self.model(*args)["logits"])  # (B, T)
        return self.model.predict_tokens(
            *args, decode=self.decode, allow_eos=not is_fixed_length(self.tokenizer)
        )

    def predict_batch(self, observations: Sequence[dict]) -> np.ndarray:
        """Action chunks (B, H, D) float32 in robot units for a list of observations."""
        ids = self.predict_ids(observations)
        return decode_tokens(
            self.tokenizer, ids.cpu().numpy(), self.meta.chunk_size, self.model.config.eos_id
        )

    def act(self, observation: dict) -> np.ndarray:
        """One action chunk (H, D) float32 in robot units."""
        return self.predict_batch([observation])[0]

    def select_action(self, observation: dict) -> np.ndarray:
        """One action (D,) for this control step, via the chunk broker."""
        return self.broker.select_action(observation)
