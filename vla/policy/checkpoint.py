"""Policy checkpoint folders (Hugging Face style) and their metadata.

<dir>/config.json            VLAConfig
<dir>/model.safetensors      weights (fp16 by default to stay small; loaded as fp32, refused when
                             damaged: unreadable, missing tensors, NaN/inf or absurd magnitudes)
<dir>/action_tokenizer/      ActionTokenizer.save_pretrained
<dir>/stats.json             normalisation statistics (LeRobot layout: state + action)
<dir>/policy_meta.json       PolicyMeta: cameras, image size, state names, action space, ...
<dir>/text_cache.safetensors MiniLM states of the training instructions (frozen text only)
<dir>/text_vocab.json        word vocabulary (trainable text only)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vla.constants import ACTION, CONTROL_HZ, OBS_STATE, POLICY_ACTION_SPACES
from vla.model import VLAModel
from vla.model.text import TEXT_CACHE_FILENAME, InstructionEmbeddings, WordVocab
from vla.policy.readout import READOUT_MODES

META_FILENAME = "policy_meta.json"
STATS_FILENAME = "stats.json"
TOKENIZER_DIRNAME = "action_tokenizer"
MODEL_FILENAME = "model.safetensors"
# a trained weight this large means a diverged run or a broken file (the shipped checkpoint's
# largest is ~2); fp16 saving tops out at 65504, so 1e4 leaves room for any sane model
MAX_ABS_WEIGHT = 1e4
SAVE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class PolicyMeta:
    """What a checkpoint expects from the environment, and how its chunks are executed."""

    camera_keys: list[str]
    image_size: list[int]
    state_names: list[str]
    action_space: str
    action_names: list[str]
    control_hz: float = CONTROL_HZ
    chunk_size: int = 8
    execution_horizon: int = 4
    state_norm_mode: str = "meanstd"
    extra: dict[str, Any] = field(default_factory=dict)
    # logits -> bin ids (vla.policy.readout); training writes "argmax" (see vla/train/build.py)
    readout: str = "argmax"

    def __post_init__(self) -> None:
        if self.readout not in READOUT_MODES:
            raise ValueError(
                f"readout {self.readout!r}: choose one of {READOUT_MODES} (policy_meta.json)"
            )
        if self.action_space not in POLICY_ACTION_SPACES:
            raise ValueError(
                f"action_space {self.action_space!r}: choose one of {POLICY_ACTION_SPACES}"
            )
        if not 1 <= self.execution_horizon <= self.chunk_size:
            raise ValueError(
                f"execution_horizon={self.execution_horizon} must be in [1, chunk_size="
                f"{self.chunk_size}]"
            )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def read(cls, directory: Path) -> PolicyMeta:
        path = directory / META_FILENAME
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: {directory} is not a policy checkpoint (write it with "
                "vla.policy.save_policy or `vla train`)"
            )
        return cls(**json.loads(path.read_text()))


def load_model(directory: Path) -> VLAModel:
    """The checkpoint's ``VLAModel`` in fp32, or a ValueError naming ``model.safetensors`` and
    what is wrong with it (unreadable, tensors missing or unexpected, non-finite or absurd
    values): a damaged file must stop ``vla serve`` / ``vla eval`` at load time, not drive a
    robot with constant extreme actions."""
    file = directory / MODEL_FILENAME
    if not file.is_file():
        raise FileNotFoundError(
            f"{file} is missing: copy the checkpoint's weights there or re-save it with save_policy"
        )
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        model, info = VLAModel.from_pretrained(
            str(directory), dtype=torch.float32, output_loading_info=True
        )
    except Exception as exc:  # safetensors, json and torch raise many unrelated types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ValueError(
            f"cannot load the weights {file}: {type(exc).__name__}: {first[:200]}; the file is "
            "damaged or not this checkpoint's: copy it again or re-save the checkpoint"
        ) from None
    for what in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        keys = sorted(str(k) for k in info.get(what) or ())
        if keys:
            raise ValueError(
                f"{file} does not match config.json: {len(keys)} {what.replace('_', ' ')} "
                f"({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''}); re-save the "
                "checkpoint with save_policy"
            )
    check_weights(model, file)
    return model


def check_weights_file(directory: Path | str) -> None:
    """``check_weights`` on ``model.safetensors`` itself, without building the model: cheap
    enough for a parent process to run before it spawns workers that would each load it."""
    from safetensors import safe_open

    file = Path(directory) / MODEL_FILENAME
    if not file.is_file():
        raise FileNotFoundError(
            f"{file} is missing: copy the checkpoint's weights there or re-save it with save_policy"
        )
    try:
        with safe_open(str(file), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error type for a damaged header
        raise ValueError(
            f"cannot load the weights {file}: {type(exc).__name__}: {str(exc)[:200]}; the file "
            "is damaged: copy it again or re-save the checkpoint"
        ) from None
    _check_tensors(tensors, file)


def check_weights(model: torch.nn.Module, file: Path | str) -> None:
    """Raise ValueError naming ``file`` when a weight is NaN/inf or above ``MAX_ABS_WEIGHT``."""
    _check_tensors(model.state_dict(), file)


def _check_tensors(tensors: dict[str, torch.Tensor], file: Path | str) -> None:
    nonfinite, huge = [], []
    for name, t in tensors.items():
        if not t.is_floating_point() or t.numel() == 0:
            continue
        if not torch.isfinite(t).all():
            nonfinite.append(name)
        elif t.abs().max().item() > MAX_ABS_WEIGHT:
            huge.append(name)
    for bad, what in ((nonfinite, "NaN or infinite values"), (huge, f"|w| > {MAX_ABS_WEIGHT:g}")):
        if bad:
            raise ValueError(
                f"{file}: {len(bad)} tensor(s) hold {what} ({', '.join(bad[:3])}"
                f"{', ...' if len(bad) > 3 else ''}): the weights are damaged (a diverged training "
                "run or a broken copy); use an earlier checkpoint"
            )


def stats_to_json(stats: dict[str, dict[str, Any]]) -> dict[str, dict[str, list]]:
    """Keep the state and action statistics as nested lists."""
    out = {}
    for key in (OBS_STATE, ACTION):
        if key in stats:
            out[key] = {n: np.asarray(v).tolist() for n, v in stats[key].items()}
    return out


def read_stats(directory: Path) -> dict[str, dict[str, np.ndarray]]:
    """The checkpoint's statistics; absence is an error that names the fix."""
    path = directory / STATS_FILENAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the checkpoint has no normalisation statistics; re-save it with "
            "save_policy(..., stats=dataset meta/stats.json) or copy the training dataset's "
            "meta/stats.json there"
        )
    raw = json.loads(path.read_text())
    return {k: {n: np.asarray(v) for n, v in st.items()} for k, st in raw.items()}


def save_policy(
    directory: str | Path,
    model,
    tokenizer,
    stats: dict,
    meta: PolicyMeta,
    text_encoder: InstructionEmbeddings | WordVocab | None = None,
    instructions: list[str] | None = None,
    save_dtype: str = "float16",
) -> Path:
    """Write a Policy-loadable checkpoint folder (see module docstring)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if save_dtype not in SAVE_DTYPES:
        raise ValueError(f"save_dtype {save_dtype!r}: choose one of {sorted(SAVE_DTYPES)}")
    model = getattr(model, "module", model)  # unwrap DDP
    dt = SAVE_DTYPES[save_dtype]
    state = {k: v.detach().to("cpu", dt) for k, v in model.state_dict().items()}
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Writing model shards" bars in training logs
    model.save_pretrained(directory, state_dict=state)
    tokenizer.save_pretrained(directory / TOKENIZER_DIRNAME)
    (directory / STATS_FILENAME).write_text(json.dumps(stats_to_json(stats), indent=1))
    (directory / META_FILENAME).write_text(json.dumps(meta.to_json(), indent=1))
    if isinstance(text_encoder, WordVocab):
        text_encoder.save(directory)
    elif isinstance(text_encoder, InstructionEmbeddings) and instructions:
        text_encoder.save(directory / TEXT_CACHE_FILENAME, instructions)
    return directory
