"""Pieces of a training run's build (``vla.train.build``): the action tokenizer and the text
side a run starts with."""

from __future__ import annotations

import numpy as np

from vla.constants import ACTION
from vla.model import InstructionEmbeddings, WordVocab
from vla.model.text import MissingInstructionError
from vla.policy.transforms import EmbedInstruction
from vla.tokenizers import BinningActionTokenizer, BinningConfig, FastActionTokenizer, FastConfig
from vla.train.config import TrainConfig
from vla.train.instruction_aug import with_variants


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
    instructions = with_variants(instructions, cfg.instruction_aug)  # rewrites' words/states
    if mf.get("text_encoder", "minilm") == "trainable":
        vocab = WordVocab.load(vocab_dir) if vocab_dir else WordVocab.build(instructions)
        mf["text_vocab_size"] = len(vocab)
        return vocab, EmbedInstruction(vocab, max_tokens)
    entries = InstructionEmbeddings.read_file(cfg.text_cache) if cfg.text_cache else {}
    cache = InstructionEmbeddings(max_tokens, entries, lazy_encoder=True)
    try:  # fail now, not after minutes of data loading on the GPU box
        cache.ensure(instructions)
    except MissingInstructionError as exc:
        if cfg.instruction_aug <= 0:
            raise
        raise MissingInstructionError(f"{exc} (with --instruction_aug, write it with "
                                      "`vla text-cache ... --with-rewrites`)") from None  # fmt: skip
    return cache, EmbedInstruction(cache, max_tokens)
