"""A tiny randomly initialised policy checkpoint, written with the model engineer's API."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla.constants import (
    ACTION,
    ACTION_SPACE_EEF_DELTA,
    EEF_ACTION_HIGH,
    EEF_ACTION_LOW,
    EEF_ACTION_NAMES,
    IMAGE_KEYS,
    OBS_STATE,
    STATE_NAMES,
)

INSTRUCTIONS = ["put the red cube in the blue bowl", "pick up the green cube"]


def make_tiny_checkpoint(
    directory: str | Path,
    image_size: tuple[int, int] = (32, 32),
    chunk_size: int = 4,
    seed: int = 0,
    text_encoder: str = "trainable",
    use_state: bool = True,
    random_state_stats: bool = False,
    decode_mode: str = "parallel",
    max_text_tokens: int = 8,
    gripper_binary: bool = False,
) -> Path:
    """Write a ~30k-parameter random policy (CNN vision, 2 decoder layers).

    The CNN has as many stride-2 stages as bring the image down to an 8x8 grid (64 tokens per
    camera), like the real presets, so compute stays small at any ``image_size``.

    Args:
        text_encoder: ``trainable`` (a word vocabulary built from ``INSTRUCTIONS``, saved with
            the checkpoint) or ``minilm`` (the policy takes ``(L, 384)`` MiniLM token states,
            at most ``max_text_tokens`` tokens; 8 is what ``vla export`` supports, 32 covers
            the pick_place suite's instructions).
        use_state: feed the proprioceptive state as a prefix token.
        random_state_stats: random state mean/std (seeded) instead of 0/1, so that state
            normalisation is not the identity.
        decode_mode: the action head (``parallel`` or ``autoregressive``).
        gripper_binary: the action tokenizer encodes the gripper as open/close only, as the
            shipped checkpoints' does.
    """
    import torch

    from vla.model import VLAConfig, VLAModel
    from vla.model.text import WordVocab
    from vla.policy import PolicyMeta, save_policy
    from vla.tokenizers import BinningActionTokenizer
    from vla.tokenizers.binning import BinningConfig

    if text_encoder not in ("trainable", "minilm"):
        raise ValueError(f"text_encoder must be 'trainable' or 'minilm', got {text_encoder!r}")
    torch.manual_seed(seed)
    stages = max(1, int(np.log2(min(image_size) / 8)))
    channels = tuple(min(8 * 2**i, 32) for i in range(stages))
    vocab = WordVocab.build(INSTRUCTIONS) if text_encoder == "trainable" else None
    text_kwargs = (
        {"text_vocab_size": len(vocab)}
        if vocab is not None
        else {"max_text_tokens": max_text_tokens}
    )
    config = VLAConfig(
        image_size=image_size, chunk_size=chunk_size, action_vocab_size=32,
        cnn_channels=channels, text_encoder=text_encoder, hidden_size=32, num_layers=2,
        num_heads=2, intermediate_size=64, use_state=use_state, decode_mode=decode_mode,
        **text_kwargs,
    )  # fmt: skip
    model = VLAModel(config)
    n = len(STATE_NAMES)
    if random_state_stats:
        rng = np.random.default_rng(seed)
        mean, std = rng.standard_normal(n), rng.uniform(0.5, 2, n)
    else:
        mean, std = np.zeros(n), np.ones(n)
    stats = {
        OBS_STATE: {"mean": mean, "std": std, "q01": -np.ones(n), "q99": np.ones(n),
                    "min": -np.ones(n), "max": np.ones(n)},
        ACTION: {"mean": np.zeros(7), "std": EEF_ACTION_HIGH / 3, "q01": EEF_ACTION_LOW,
                 "q99": EEF_ACTION_HIGH, "min": EEF_ACTION_LOW, "max": EEF_ACTION_HIGH},
    }  # fmt: skip
    tokenizer = BinningActionTokenizer(
        stats, BinningConfig(n_bins=32, gripper_binary=gripper_binary)
    )
    meta = PolicyMeta(
        camera_keys=list(IMAGE_KEYS), image_size=list(image_size), state_names=list(STATE_NAMES),
        action_space=ACTION_SPACE_EEF_DELTA, action_names=list(EEF_ACTION_NAMES),
        chunk_size=chunk_size, execution_horizon=2,
    )  # fmt: skip
    return save_policy(directory, model, tokenizer, stats, meta, text_encoder=vocab,
                       save_dtype="float32")  # fmt: skip
