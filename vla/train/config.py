"""Typed training configuration, loaded from YAML (``configs/train/*.yaml``) plus overrides.

Overrides on the command line (``vla train --config FILE --lr=3e-4 --model.hidden_size=256``):

- ``--<field>=<value>`` or ``--train.<field>=<value>`` sets a field of ``TrainConfig``;
- ``--model.<field>=<value>`` sets a ``VLAConfig`` field (on top of ``model_preset``);
- values are parsed as YAML scalars (``3e-4``, ``true``, ``null``, ``[1, 2]``).

The model preset ``model_preset: small`` names ``configs/model/small.yaml``; ``model:`` in the
training YAML overrides single fields of it.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from vla.constants import ACTION_SPACE_EEF_DELTA, POLICY_ACTION_SPACES
from vla.resources import preset_dir

TOKENIZER_NAMES: tuple[str, ...] = ("binning", "fast")
DATA_MODES: tuple[str, ...] = ("memory", "loader")
PRECISIONS: tuple[str, ...] = ("bf16", "fp32")


@dataclass
class TrainConfig:
    """Everything a training run needs; validated on construction (errors name the fix).

    Data: ``dataset`` (LeRobot v3 folder), ``episodes`` (optional subset), ``chunk_size`` H.
    Fast path ``data_mode=memory`` decodes every frame once into (pinned / GPU) tensors and
    samples batches by index on the device; ``loader`` uses a DataLoader with workers.

    State regularisation (against memorising trajectories through the proprioceptive state):
    ``state_dropout`` is the per-sample probability of replacing the state token by the model's
    learned "no state" embedding; ``state_noise_std`` adds N(0, std) noise to the normalised
    state. Both act in training only; ``--model.use_state=false`` removes the state instead.
    """

    dataset: str = ""
    output_dir: str = "runs/train"
    model_preset: str = "small"
    model: dict[str, Any] = field(default_factory=dict)
    episodes: list[int] | None = None
    chunk_size: int = 8
    execution_horizon: int = 4
    action_space: str = ACTION_SPACE_EEF_DELTA
    tokenizer: str = "binning"
    n_bins: int = 256
    gripper_binary: bool = True
    fast_vocab_size: int = 512
    state_norm_mode: str = "meanstd"
    text_cache: str | None = None
    batch_size: int = 64
    steps: int = 2000
    max_minutes: float | None = None
    time_schedule: bool = True
    lr: float = 3e-4
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    # > 0: train against HL-Gauss soft labels this many bins wide (vla.model.vla_model.
    # hl_gauss_targets) instead of one-hot: a near miss costs less than a far one
    label_sigma: float = 0.0
    # > 0: keep an exponential moving average of the weights (torch.optim.swa_utils) with this
    # decay per step; checkpoints and final/ hold the averaged weights, validation scores them
    ema_decay: float = 0.0
    state_dropout: float = 0.0
    state_noise_std: float = 0.0
    # > 0: per sample, black out one camera (chosen uniformly) with this probability
    # (vla.train.augment.drop_cameras): the policy learns to act when a camera is lost
    camera_dropout: float = 0.0
    # > 0: per sample, replace the instruction by a rewrite of it with this probability
    # (vla.train.instruction_aug: wrappers, articles dropped, a full stop; never the
    # evaluation's paraphrases)
    instruction_aug: float = 0.0
    augment: bool = True
    max_shift: int = 6
    brightness: float = 0.2
    contrast: float = 0.2
    data_mode: str = "memory"
    memory_device: str = "auto"
    num_workers: int = 2
    decode_workers: int = 4
    # grow_s > 0: train while `vla data generate` writes the dataset; every grow_s seconds the
    # episodes committed since are decoded in the background and added (vla.train.growing)
    grow_s: float = 0.0
    grow_min_episodes: int = 1  # committed episodes to wait for before training starts
    grow_wait_s: float = 600.0  # ... for at most this long
    # under DDP with data_mode=memory, each rank decodes and samples only its share of the
    # episodes (episodes[rank::world]): 1/world of the load time and memory per rank. FAST
    # tokenizer runs load the whole set (its fit and token budget read every chunk).
    shard_data: bool = True
    # val_dataset: episodes never trained on (e.g. `vla data generate --seed` of another seed);
    # every val_every steps the model is scored on val_samples fixed samples of it
    # (vla.train.validation: val_loss, val_accuracy, val_bin_error in the log)
    val_dataset: str | None = None
    val_every: int = 500
    val_samples: int = 2048
    device: str = "auto"
    precision: str = "bf16"
    log_every: int = 10
    save_every: int = 500
    keep_checkpoints: int = 2
    save_dtype: str = "float16"
    seed: int = 0
    resume: str | None = None
    init_from: str | None = None
    compile: bool = False
    torch_threads: int | None = None  # CPU intra-op threads (1 is fastest on a busy box)
    progress: bool = True

    def __post_init__(self) -> None:
        _check_types(self)
        _check_model_keys(self.model, "model")
        if not self.dataset:
            raise ValueError(
                "dataset is empty: set `dataset: <LeRobot v3 folder>` or --dataset=DIR"
            )
        checks = {
            "tokenizer": (self.tokenizer, TOKENIZER_NAMES),
            "data_mode": (self.data_mode, DATA_MODES),
            "precision": (self.precision, PRECISIONS),
            "action_space": (self.action_space, POLICY_ACTION_SPACES),
            "memory_device": (self.memory_device, ("auto", "cpu", "cuda")),
            "state_norm_mode": (self.state_norm_mode, ("meanstd", "quantile")),
        }
        for name, (value, allowed) in checks.items():
            if value not in allowed:
                raise ValueError(f"{name}={value!r}: choose one of {allowed}")
        positive = ("chunk_size", "batch_size", "steps", "log_every", "save_every", "n_bins",
                    "val_every", "val_samples")  # fmt: skip
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 1 <= self.execution_horizon <= self.chunk_size:
            raise ValueError(
                f"execution_horizon={self.execution_horizon} must be in [1, chunk_size="
                f"{self.chunk_size}]"
            )
        if not self.lr > 0 or not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"need lr > 0 and 0 <= min_lr_ratio <= 1 (lr={self.lr})")
        if self.warmup_steps < 0 or self.warmup_steps >= self.steps:
            raise ValueError(f"warmup_steps={self.warmup_steps} must be in [0, steps={self.steps})")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(
                f"ema_decay must be in [0, 1) (0: off, e.g. 0.999), got {self.ema_decay}"
            )
        if not self.label_sigma >= 0.0:
            raise ValueError(f"label_sigma must be >= 0 (bins), got {self.label_sigma}")
        if self.label_sigma > 0 and self.tokenizer != "binning":
            raise ValueError(
                f"label_sigma={self.label_sigma} smooths over neighbouring bins, which only the "
                f"binning tokenizer's ids are; use tokenizer=binning or label_sigma=0"
            )
        if not 0.0 <= self.state_dropout <= 1.0:
            raise ValueError(f"state_dropout must be in [0, 1], got {self.state_dropout}")
        if not 0.0 <= self.camera_dropout <= 1.0:
            raise ValueError(f"camera_dropout must be in [0, 1], got {self.camera_dropout}")
        if not 0.0 <= self.instruction_aug <= 1.0:
            raise ValueError(f"instruction_aug must be in [0, 1], got {self.instruction_aug}")
        if not self.state_noise_std >= 0.0:
            raise ValueError(f"state_noise_std must be >= 0, got {self.state_noise_std}")
        if self.model.get("use_state", True) is False and (
            self.state_dropout > 0 or self.state_noise_std > 0
        ):
            raise ValueError(
                "model.use_state=false has no state token: leave state_dropout and "
                "state_noise_std at 0 (or set model.use_state=true)"
            )
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ValueError(f"max_minutes must be > 0 or null, got {self.max_minutes}")
        if self.tokenizer == "fast" and self.model.get("decode_mode", "parallel") == "parallel":
            raise ValueError(
                "tokenizer='fast' emits variable-length sequences: set --model.decode_mode="
                "autoregressive (parallel decoding needs the fixed-length binning tokenizer)"
            )
        if self.resume not in (None, "auto") and self.init_from is not None:
            raise ValueError(
                "set either resume (exact continuation, needs training_state.pt) or init_from "
                "(warm start from a Policy folder's weights), not both (--resume=auto with "
                "init_from: resume the output_dir's latest checkpoint if any, else warm start)"
            )
        self.betas = tuple(float(b) for b in self.betas)

    def model_fields(self) -> dict[str, Any]:
        """The VLAConfig fields: the preset file, then ``model`` overrides."""
        path = Path(self.model_preset)
        if not path.suffix:
            path = preset_dir("model") / f"{self.model_preset}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in preset_dir("model").glob("*.yaml"))
            raise FileNotFoundError(
                f"model preset {self.model_preset!r} not found ({path}); known presets: {known}"
                + _did_you_mean(self.model_preset, known)
            )
        preset = yaml.safe_load(path.read_text()) or {}
        _check_model_keys(preset, str(path))
        return {**preset, **self.model}

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["betas"] = list(self.betas)
        return out


def config_field_defaults() -> dict[str, Any]:
    """Every TrainConfig field (``model`` excluded: its keys are VLAConfig's) -> its default."""
    out = {}
    for f in fields(TrainConfig):
        if f.name != "model":
            out[f.name] = f.default_factory() if f.default is MISSING else f.default
    return out


def _did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_model_keys(values: dict, where: str) -> None:
    """Unknown model keys are typos (``use_stat``), never silently ignored: VLAConfig would
    keep them as stray attributes and train with the default instead."""
    from vla.model.config import VLAConfig

    params = inspect.signature(VLAConfig.__init__).parameters
    known = [n for n, p in params.items() if n != "self" and p.kind is not p.VAR_KEYWORD]
    for key in values:
        if key not in known:
            raise ValueError(
                f"{where}: unknown model option {key!r}{_did_you_mean(key, known)}; the model "
                f"options are VLAConfig's (vla/model/config.py): {sorted(known)}"
            )


def _check_types(cfg: TrainConfig) -> None:
    """Coerce and check every field against its annotation, so ``--batch_size=abc`` fails here
    with a message naming the field, not deep in training with a TypeError."""
    hints = typing.get_type_hints(TrainConfig)  # the annotations are strings (PEP 563)
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        ok, coerced = _coerce(value, hints[f.name])
        if not ok:
            raise ValueError(
                f"{f.name}={value!r}: expected {_type_name(hints[f.name])} "
                f"(e.g. --{f.name}={config_field_defaults().get(f.name, '...')})"
            )
        object.__setattr__(cfg, f.name, coerced)


def _coerce(value: Any, hint: Any) -> tuple[bool, Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return True, None
        for arg in args:
            if arg is not type(None):
                ok, out = _coerce(value, arg)
                if ok:
                    return True, out
        return False, value
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if hint is str:
        return isinstance(value, str), value
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            return False, value
        if origin is tuple and args and Ellipsis not in args and len(args) != len(value):
            return False, value
        item_hints = [args[0]] * len(value) if origin is list or Ellipsis in args else list(args)
        items = [_coerce(v, h) for v, h in zip(value, item_hints, strict=True)]
        return all(ok for ok, _ in items), origin(v for _, v in items)
    if origin is dict or hint is dict:
        return isinstance(value, dict), value
    return True, value  # Any and the rest: not checked


def _type_name(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def parse_scalar(raw: str) -> Any:
    """A YAML scalar, with ``3e-4`` read as a float (YAML 1.1 would keep it a string)."""
    value = yaml.safe_load(raw) if raw != "" else ""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_overrides(items: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``["--lr=3e-4", "--model.hidden_size=128"]`` -> (train overrides, model overrides)."""
    train: dict[str, Any] = {}
    model: dict[str, Any] = {}
    names = {f.name for f in fields(TrainConfig)}
    for item in items:
        if not item.startswith("--") or "=" not in item:
            raise ValueError(f"override {item!r} must look like --key=value (e.g. --lr=3e-4)")
        key, raw = item[2:].split("=", 1)
        key = key.replace("-", "_") if not key.startswith("model.") else key
        value = parse_scalar(raw)
        if key.startswith("model."):
            model[key[len("model.") :]] = value
            continue
        if key.startswith("train."):
            key = key[len("train.") :]
        if key not in names:
            raise ValueError(
                f"unknown training option {key!r}{_did_you_mean(key, names)}; known: "
                f"{sorted(names)}"
            )
        train[key] = value
    return train, model


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML preset (or none) and apply command-line overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.suffix and not path.is_file():  # a preset name: configs/train/<name>.yaml
            path = preset_dir("train") / f"{path}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in preset_dir("train").glob("*.yaml"))
            raise FileNotFoundError(
                f"training config {path} does not exist; presets: {known}"
                + _did_you_mean(Path(path).stem, known)
            )
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a training config is a YAML mapping of option: value")
        data = {k: parse_scalar(v) if isinstance(v, str) else v for k, v in data.items()}
    names = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(data) - names)
    if unknown:
        hints = "".join(_did_you_mean(k, names) for k in unknown)
        raise ValueError(f"{path}: unknown training option(s) {unknown}{hints}")
    train_over, model_over = parse_overrides(overrides or [])
    merged = {**data, **train_over}
    merged["model"] = {**(data.get("model") or {}), **model_over}
    return TrainConfig(**merged)
