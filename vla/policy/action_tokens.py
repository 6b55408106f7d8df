"""Action chunks <-> the model's target ids (tokenizer ids minus its offset; EOS after FAST).

binning: (B, H, D) --encode--> (B, H*D) ids, step-major; loss mask from action_is_pad
fast:    (B, H, D) --encode--> variable-length ids + EOS, padded with EOS (masked out)
"""

from __future__ import annotations

import numpy as np

from vla.tokenizers import BinningActionTokenizer, FastActionTokenizer


def is_fixed_length(tokenizer) -> bool:
    """Binning tokenizers emit exactly H*D tokens; FAST is variable length (needs EOS)."""
    return isinstance(tokenizer, BinningActionTokenizer)


def max_action_tokens(tokenizer, chunk_size: int, action_dim: int, longest: int = 0) -> int:
    """Action positions the model needs: H*D (binning) or the longest FAST sequence + EOS."""
    if is_fixed_length(tokenizer):
        return chunk_size * action_dim
    return longest + 1


def encode_targets(
    tokenizer, actions: np.ndarray, is_pad: np.ndarray, max_tokens: int, eos_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Targets (B, T) int64 and loss mask (B, T) bool for chunks (B, H, D)."""
    b, h, d = actions.shape
    if is_fixed_length(tokenizer):
        ids = tokenizer.encode(actions) - tokenizer.offset  # (B, H, D)
        mask = np.repeat(~np.asarray(is_pad, bool), d, axis=1)  # (B, H*D)
        return ids.reshape(b, h * d), mask
    if not isinstance(tokenizer, FastActionTokenizer):
        raise TypeError(f"unsupported action tokenizer {type(tokenizer).__name__}")
    seqs = tokenizer.encode(actions)
    ids = np.full((b, max_tokens), eos_id, dtype=np.int64)
    mask = np.zeros((b, max_tokens), dtype=bool)
    for i, s in enumerate(seqs):
        n = len(s)
        if n + 1 > max_tokens:
            raise ValueError(
                f"a FAST sequence has {n} tokens but the model holds {max_tokens - 1} + EOS: "
                "rebuild the model with a larger max_action_tokens"
            )
        ids[i, :n] = s - tokenizer.offset
        mask[i, : n + 1] = True  # the EOS is a target too
    return ids, mask


def decode_tokens(tokenizer, ids: np.ndarray, chunk_size: int, eos_id: int) -> np.ndarray:
    """Model ids (B, T) -> actions (B, H, D) float32 in robot units."""
    b = ids.shape[0]
    if is_fixed_length(tokenizer):
        d = tokenizer.action_dim
        grid = ids[:, : chunk_size * d].reshape(b, chunk_size, d) + tokenizer.offset
        return tokenizer.decode(grid).astype(np.float32)
    seqs = []
    for row in ids:
        stop = np.flatnonzero(row == eos_id)
        seqs.append(row[: stop[0] if len(stop) else len(row)] + tokenizer.offset)
    return np.asarray(tokenizer.decode(seqs), dtype=np.float32)
