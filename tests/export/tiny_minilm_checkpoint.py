"""A tiny random policy checkpoint with MiniLM text states (written like tests/serving's)."""

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


def make_tiny_minilm_checkpoint(
    directory: str | Path, use_state: bool = True, image_size: tuple[int, int] = (32, 32),
    chunk_size: int = 4, seed: int = 0,
) -> Path:  # fmt: skip
    """Write a small random parallel-decoding policy taking (L, 384) MiniLM states."""
    import torch

    from vla.model import VLAConfig, VLAModel
    from vla.policy import PolicyMeta, save_policy
    from vla.tokenizers import BinningActionTokenizer
    from vla.tokenizers.binning import BinningConfig

    torch.manual_seed(seed)
    config = VLAConfig(
        image_size=image_size, chunk_size=chunk_size, action_vocab_size=32, cnn_channels=(8, 16),
        text_encoder="minilm", max_text_tokens=8, hidden_size=32, num_layers=2, num_heads=2,
        intermediate_size=64, use_state=use_state,
    )  # fmt: skip
    model = VLAModel(config)
    n = len(STATE_NAMES)
    rng = np.random.default_rng(seed)
    stats = {
        OBS_STATE: {"mean": rng.standard_normal(n), "std": rng.uniform(0.5, 2, n),
                    "q01": -np.ones(n), "q99": np.ones(n), "min": -np.ones(n), "max": np.ones(n)},
        ACTION: {"mean": np.zeros(7), "std": EEF_ACTION_HIGH / 3, "q01": EEF_ACTION_LOW,
                 "q99": EEF_ACTION_HIGH, "min": EEF_ACTION_LOW, "max": EEF_ACTION_HIGH},
    }  # fmt: skip
    tokenizer = BinningActionTokenizer(stats, BinningConfig(n_bins=32))
    meta = PolicyMeta(
        camera_keys=list(IMAGE_KEYS), image_size=list(image_size), state_names=list(STATE_NAMES),
        action_space=ACTION_SPACE_EEF_DELTA, action_names=list(EEF_ACTION_NAMES),
        chunk_size=chunk_size, execution_horizon=2,
    )  # fmt: skip
    return save_policy(directory, model, tokenizer, stats, meta, save_dtype="float32")
