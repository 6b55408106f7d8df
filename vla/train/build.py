"""What a run of ``vla.train.trainer`` trains, built from its ``TrainConfig``: the action
tokenizer, the model and its config (fresh, on a pretrained ``backbone_path``, or warm-started
from ``init_from``), the text side, and the ``PolicyMeta`` its checkpoints record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vla.constants import ACTION, OBS_STATE
from vla.data.episode_arrays import EpisodeArrays
from vla.data.reader import LeRobotDatasetReader
from vla.model import VLAConfig, VLAModel
from vla.policy.action_tokens import max_action_tokens
from vla.policy.checkpoint import TOKENIZER_DIRNAME, PolicyMeta
from vla.policy.transforms import EmbedInstruction
from vla.tokenizers import ActionTokenizer, BinningActionTokenizer, load_tokenizer
from vla.train.components import build_text, build_tokenizer
from vla.train.config import TrainConfig


@dataclass
class Built:
    """The pieces :func:`build_model` returns; the model is on the run's device."""

    tokenizer: ActionTokenizer
    model: VLAModel
    vcfg: VLAConfig
    text_src: Any  # the instruction embeddings cache or the word vocabulary
    text_tf: EmbedInstruction
    meta: PolicyMeta
    n_params: int


def _names(feature: dict, n: int, prefix: str) -> list[str]:
    names = feature.get("names")
    if isinstance(names, dict):  # LeRobot sometimes nests: {"motors": [...]}
        names = next(iter(names.values()), None)
    if isinstance(names, list) and len(names) == n:
        return [str(x) for x in names]
    return [f"{prefix}_{i}" for i in range(n)]


def _same_architecture(model: VLAModel, overrides: dict) -> VLAModel:
    """``model`` warm-started with the run's ``model:`` overrides: the trained weights fix the
    architecture, so an override may only repeat the checkpoint's value."""
    cfg = model.config
    changed = {k: v for k, v in overrides.items() if getattr(cfg, k, object()) != v}
    if changed:
        was = {k: getattr(cfg, k, "<unset>") for k in changed}
        raise ValueError(
            f"init_from keeps the checkpoint's architecture: it has {was}, the run asks for "
            f"{changed}. Drop these model overrides, or train from scratch (no --init_from)"
        )
    return model


def _warm_start(init_dir: Path, overrides: dict) -> VLAModel:
    """The model of a Policy folder to start from (weights only; the optimiser starts fresh)."""
    model = _same_architecture(VLAModel.from_pretrained(str(init_dir), dtype=torch.float32),
                               overrides)  # fmt: skip
    # from_pretrained leaves every weight trainable: freeze the decoder's unused token table
    # again, or the run's optimiser would not match its own resumed checkpoints
    model.backbone.embed_tokens.weight.requires_grad_(False)
    return model


def build_model(
    cfg: TrainConfig,
    reader: LeRobotDatasetReader,
    cams: list[str],
    stats: dict,
    arrays: EpisodeArrays | None,
    instructions: list[str],
    resume_dir: Path | None,
    device: torch.device,
) -> Built:
    """The tokenizer (loaded from ``resume_dir``/``init_from``, else built from ``stats`` and the
    in-memory chunks), the model and its config, the text side and the checkpoint metadata."""
    # --resume=auto beside init_from: a run that already started from init_from goes on from its
    # own latest checkpoint
    init_dir = Path(cfg.init_from) if cfg.init_from and resume_dir is None else None
    if resume_dir is not None or init_dir is not None:
        tokenizer = load_tokenizer((resume_dir or init_dir) / TOKENIZER_DIRNAME)
    else:
        tokenizer = build_tokenizer(cfg, stats, None if arrays is None else arrays.chunks)
    longest = 0
    if not isinstance(tokenizer, BinningActionTokenizer):
        longest = max(len(s) for s in tokenizer.encode(arrays.chunks))
    state_dim = len(stats[OBS_STATE]["mean"])
    mf = {
        "image_size": list(reader.features[cams[0]]["shape"][:2]),
        "num_cameras": len(cams),
        "state_dim": state_dim,
        "action_dim": tokenizer.action_dim,
        "chunk_size": cfg.chunk_size,
        "action_vocab_size": tokenizer.vocab_size,
        "max_action_tokens": max_action_tokens(
            tokenizer, cfg.chunk_size, tokenizer.action_dim, longest
        ),
        **cfg.model_fields(),
    }
    if init_dir is not None:  # warm start from a Policy folder (weights only, fresh optimiser)
        model = _warm_start(init_dir, cfg.model)
        mf = model.config.to_dict()
        text_src, text_tf = build_text(cfg, mf, instructions, vocab_dir=init_dir)
        vcfg = model.config
        if vcfg.chunk_size != cfg.chunk_size or tokenizer.action_dim != vcfg.action_dim:
            raise ValueError(
                f"init_from {init_dir}: the model predicts chunks of {vcfg.chunk_size}x"
                f"{vcfg.action_dim}, this run asks for {cfg.chunk_size}x{tokenizer.action_dim}"
                " (set --chunk_size to match)"
            )
    else:
        text_src, text_tf = build_text(cfg, mf, instructions)
        backbone_path = mf.pop("backbone_path", None)
        if not mf.get("use_state", True) and (cfg.state_dropout or cfg.state_noise_std):
            raise ValueError(
                f"model preset {cfg.model_preset!r} sets use_state: false; leave state_dropout "
                "and state_noise_std at 0 or set --model.use_state=true"
            )
        vcfg = VLAConfig(**mf)
        model = VLAModel.from_backbone(vcfg, backbone_path) if backbone_path else VLAModel(vcfg)
    if vcfg.use_state and not cfg.state_dropout:
        # the "no state" embedding only learns from dropped samples: without state dropout it
        # gets no gradient, which DDP rejects as an unused parameter
        model.no_state.weight.requires_grad_(False)
    if cfg.compile:
        model.forward = torch.compile(model.forward)  # opt-in: pays compile time up front
    model.to(device)
    n_params = model.num_trainable_parameters()

    meta = PolicyMeta(
        camera_keys=cams,
        image_size=list(vcfg.image_size),
        state_names=_names(reader.features[OBS_STATE], state_dim, "state"),
        action_space=cfg.action_space,
        action_names=_names(reader.features[ACTION], tokenizer.action_dim, "action"),
        control_hz=reader.fps,
        chunk_size=cfg.chunk_size,
        execution_horizon=cfg.execution_horizon,
        state_norm_mode=cfg.state_norm_mode,
        # argmax for every checkpoint: "smoothed" (vla.policy.readout) agrees better with fp32 in
        # fp16, but on v7 it lost the stack family through the ROS 2 loop (21 vs 13 of 25,
        # p = 0.008; benchmarks/RESULTS.md, "ROS 2"); a checkpoint may still choose it
        readout="argmax",
    )
    return Built(tokenizer, model, vcfg, text_src, text_tf, meta, n_params)
