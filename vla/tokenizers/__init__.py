"""Action tokenizers: continuous robot actions <-> discrete token ids.

- ``BinningActionTokenizer``: RT-2/OpenVLA uniform bins, H x D tokens per chunk.
- ``FastActionTokenizer``: FAST (DCT + BPE), variable-length tokens per chunk.

``load_tokenizer(dir)`` loads either from a folder written by ``save_pretrained``.
"""

from vla.tokenizers.base import ActionTokenizer
from vla.tokenizers.binning import BinningActionTokenizer, BinningConfig
from vla.tokenizers.fast import FastActionTokenizer, FastConfig, FastDecodeError
from vla.tokenizers.normalization import ActionNormalizer, MissingStatisticError, action_stats_from
from vla.tokenizers.registry import TOKENIZERS, load_tokenizer

__all__ = [
    "TOKENIZERS",
    "ActionNormalizer",
    "ActionTokenizer",
    "BinningActionTokenizer",
    "BinningConfig",
    "FastActionTokenizer",
    "FastConfig",
    "FastDecodeError",
    "MissingStatisticError",
    "action_stats_from",
    "load_tokenizer",
]
