"""Pieces of ``vla.train.trainer``: the action tokenizer and text side a run starts with, and
the per-step state regularisation and its diagnostic."""

from __future__ import annotations

import numpy as np
import torch

from vla.constants import ACTION, OBS_STATE
from vla.model import InstructionEmbeddings, WordVocab
from vla.policy.transforms import EmbedInstruction
from vla.tokenizers import BinningActionTokenizer, BinningConfig, FastActionTokenizer, FastConfig
from vla.train.config import TrainConfig


def build_tokenizer(cfg: TrainConfig, stats: dict, chunks: np.ndarray | None):
    """Binning from the dataset's action statistics; FAST is fitted on the dataset's chunks."""
    if ACTION not in stats:
        raise KeyError(
            f"{cfg.dataset}/meta/stats.json has no {ACTION!r} statistics: recompute the dataset "
            "statistics before training"
        )
    if cfg.tokenizer == "binning":
        return BinningActionTokenizer(
            stats[ACTION], BinningConfig(n_bins=cfg.n_bins, gripper_binary=cfg.gripper_binary)
        )
    if chunks is None:
        raise ValueError("the FAST tokenizer is fitted on in-memory chunks: use data_mode=memory")
    tok = FastActionTokenizer(stats[ACTION], FastConfig(vocab_size=cfg.fast_vocab_size))
    return tok.fit(chunks)


def build_text(cfg: TrainConfig, mf: dict, instructions: list[str], vocab_dir=None):
    """The text side: frozen MiniLM states (cache/precomputed file) or a word vocabulary
    (built from the instructions, or the one saved in ``vocab_dir`` when warm-starting)."""
    max_tokens = int(mf.get("max_text_tokens", 32))
    if mf.get("text_encoder", "minilm") == "trainable":
        vocab = WordVocab.load(vocab_dir) if vocab_dir else WordVocab.build(instructions)
        mf["text_vocab_size"] = len(vocab)
        return vocab, EmbedInstruction(vocab, max_tokens)
    entries = InstructionEmbeddings.read_file(cfg.text_cache) if cfg.text_cache else {}
    cache = InstructionEmbeddings(max_tokens, entries, lazy_encoder=True)
    cache.ensure(instructions)  # fail now, not after minutes of data loading on the GPU box
    return cache, EmbedInstruction(cache, max_tokens)


def regularise_state(batch: dict, cfg: TrainConfig, use_state: bool, g: torch.Generator):
    """Training-time state regularisation, in place on ``batch[OBS_STATE]`` (normalised):
    adds N(0, state_noise_std) noise; returns the (B,) state-dropout mask (or None)."""
    if not use_state:
        return None
    state = batch[OBS_STATE]
    if cfg.state_noise_std > 0:
        noise = torch.randn(state.shape, generator=g) * cfg.state_noise_std
        batch[OBS_STATE] = state + noise.to(state.device, state.dtype)
    if cfg.state_dropout <= 0:
        return None
    return (torch.rand(state.shape[0], generator=g) < cfg.state_dropout).to(state.device)


@torch.no_grad()
def shuffled_state_accuracy(model, batch, raw, use_state: bool, autocast, accuracy) -> float:
    """Diagnostic: token accuracy on the logged batch with the states rolled by one sample
    (each sample gets another sample's state). Close to ``accuracy``: the actions come from the
    images and instruction; far below it: the model reads the episode and time off the state
    (memorisation). Without a state token it equals ``accuracy``."""
    if not use_state:
        return float(accuracy.item())
    with autocast:
        res = model(
            batch["images"], torch.roll(batch[OBS_STATE], 1, dims=0), batch["text"],
            batch["text_mask"], raw["targets"], raw["target_mask"],
        )  # fmt: skip
    return float(res["accuracy"].item())
