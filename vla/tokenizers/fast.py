"""FAST action chunk tokenizer (Pertsch et al. 2025, "FAST: Efficient Action Tokenization").

    chunk (H, D) --normalise (quantile), clip [-1, 1]--> --DCT-II over time, per dim (ortho)-->
    --x scale, round--> ints (H, D) --flatten low frequency first, dims interleaved--> H*D ints
    --one character per int--> string --BPE (trained on the dataset's chunks)--> ids + offset

Decoding inverts every step; a sequence that does not decode to exactly H*D coefficients (or
holds an id outside the vocabulary) raises ``FastDecodeError`` -- or, with ``strict=False``,
comes back as NaN actions flagged False in an ``ok`` mask. Never silent zeros.

Error bound (why the tests hold it): the DCT is orthonormal and clipping the decoded chunk to
[-1, 1] cannot move it away from an in-range original, so per dimension the L2 error over the H
steps is at most the L2 norm of the rounding errors, ``sqrt(H) * 0.5 / scale``: the RMS error of
each dimension over a chunk is <= ``0.5 / scale`` normalised units (``half_range / (2 scale)``
in action units), for any in-range chunk. The typical RMS is ``1 / (scale sqrt(12))``.

Unlike the reference implementation, the character alphabet covers every integer a clipped chunk
can produce (an orthonormal coefficient of an H-vector in [-1, 1] has magnitude <= sqrt(H)), so
encoding never meets a character the BPE vocabulary lacks (which the library would drop).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.fft import dct, idct
from tokenizers import Tokenizer, models, trainers

from vla.tokenizers.base import NormalizedActionTokenizer
from vla.tokenizers.normalization import (
    NORM_MODES,
    check_finite,
    load_stats,
)

BPE_FILENAME = "fast_bpe.json"
# First character of the coefficient alphabet: CJK ideographs are one contiguous block of
# ~20k "letters" with no whitespace, combining marks or normalisation quirks.
_CHAR_BASE = 0x4E00


class FastDecodeError(ValueError):
    """A token sequence does not decode to a valid (H, D) coefficient block."""


@dataclass(frozen=True)
class FastConfig:
    """Config of ``FastActionTokenizer``.

    Attributes:
        scale: DCT coefficients are multiplied by this before rounding (10 in the paper).
        vocab_size: BPE vocabulary size requested at ``fit`` (the trained one may be smaller).
        offset: first token id in the language model vocabulary.
        norm_mode: normalisation (``quantile`` as in the paper; ``minmax``, ``meanstd``).
        std_k: for ``meanstd``: mean +- std_k * std maps to +-1.
        min_frequency: BPE merges need at least this many occurrences.
        horizon: chunk length H, set by ``fit`` (None until fitted).
    """

    scale: float = 10.0
    vocab_size: int = 1024
    offset: int = 0
    norm_mode: str = "quantile"
    std_k: float = 3.0
    min_frequency: int = 2
    horizon: int | None = None

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"scale must be > 0 (got {self.scale})")
        if self.offset < 0:
            raise ValueError(f"offset must be >= 0 (got {self.offset})")
        if self.norm_mode not in NORM_MODES:
            raise ValueError(f"norm_mode {self.norm_mode!r} unknown: choose one of {NORM_MODES}")
        if self.horizon is not None and self.horizon < 1:
            raise ValueError(f"horizon must be >= 1 (got {self.horizon})")

    def coefficient_bound(self, horizon: int) -> int:
        """Largest |rounded coefficient| a clipped chunk of this horizon can produce."""
        return math.ceil(self.scale * math.sqrt(horizon))


class FastActionTokenizer(NormalizedActionTokenizer):
    """DCT + BPE chunk tokenizer: ``(H, D)`` -> variable-length int64 ids; batches -> lists.

    Args:
        stats: LeRobot statistics (whole stats.json dict, its ``action`` entry, or a path).
        config: a ``FastConfig``.
        bpe: a trained BPE ``tokenizers.Tokenizer`` (from ``fit`` or ``from_pretrained``).
    """

    type_name = "fast"

    def __init__(
        self,
        stats: dict[str, Any] | str | Path,
        config: FastConfig | None = None,
        bpe: Tokenizer | None = None,
    ):
        self._init_normalizer(stats, config or FastConfig())
        self._bpe: Tokenizer | None = None
        if bpe is not None:
            if self.config.horizon is None:
                raise ValueError("a trained BPE needs config.horizon (the chunk length it saw)")
            self._set_bpe(bpe)

    # ---- interface properties ---------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """True once a BPE vocabulary is trained or loaded."""
        return self._bpe is not None

    def _require_fitted(self) -> Tokenizer:
        if self._bpe is None:
            raise RuntimeError(
                "FastActionTokenizer has no BPE vocabulary: call fit(chunks) on the dataset's "
                "action chunks or load one with from_pretrained(dir)"
            )
        return self._bpe

    @property
    def vocab_size(self) -> int:
        return len(self._id_to_token) if self._bpe is not None else self.config.vocab_size

    @property
    def horizon(self) -> int:
        """Chunk length H the vocabulary was trained for."""
        self._require_fitted()
        assert self.config.horizon is not None
        return self.config.horizon

    # ---- coefficient <-> string -----------------------------------------------------------------
    def _coefficients(self, chunks: np.ndarray) -> np.ndarray:
        """Chunks ``(B, H, D)`` -> rounded DCT ints ``(B, H*D)`` (frequency-major, dims inner)."""
        normed = np.clip(self.normalizer.normalize(chunks), -1.0, 1.0)
        coeff = dct(normed, type=2, axis=1, norm="ortho")
        ints = np.rint(coeff * self.config.scale).astype(np.int64)
        return ints.reshape(ints.shape[0], -1)

    def _to_strings(self, ints: np.ndarray, horizon: int) -> list[str]:
        codes = (ints + self.config.coefficient_bound(horizon) + _CHAR_BASE).astype("<u4")
        return [row.tobytes().decode("utf-32-le") for row in codes]

    def _alphabet(self, horizon: int) -> list[str]:
        m = self.config.coefficient_bound(horizon)
        return [chr(_CHAR_BASE + i) for i in range(2 * m + 1)]

    def _set_bpe(self, bpe: Tokenizer) -> None:
        vocab = bpe.get_vocab()
        id_to_token = [""] * len(vocab)
        for token, i in vocab.items():
            id_to_token[i] = token
        if "" in id_to_token:
            raise ValueError("BPE vocabulary ids are not contiguous: re-train with fit()")
        missing = set(self._alphabet(self.config.horizon or 1)) - vocab.keys()
        if missing:
            raise ValueError(
                f"BPE vocabulary lacks {len(missing)} coefficient characters: re-train with fit()"
            )
        self._bpe = bpe
        self._id_to_token = id_to_token

    # ---- training -------------------------------------------------------------------------------
    def fit(self, chunks: np.ndarray | Iterable[np.ndarray]) -> FastActionTokenizer:
        """Train the BPE vocabulary on action chunks ``(N, H, D)`` (dataset units); returns self."""
        chunks = np.asarray(chunks if isinstance(chunks, np.ndarray) else list(chunks))
        if chunks.ndim != 3 or chunks.shape[-1] != self.action_dim or len(chunks) == 0:
            raise ValueError(
                f"fit needs chunks of shape (N, H, D) with N >= 1 and D={self.action_dim}; "
                f"got {chunks.shape}"
            )
        check_finite(chunks)
        horizon = chunks.shape[1]
        alphabet = self._alphabet(horizon)
        if len(alphabet) >= self.config.vocab_size:
            raise ValueError(
                f"vocab_size {self.config.vocab_size} leaves no room for merges over the "
                f"{len(alphabet)} coefficient symbols of horizon {horizon} at scale "
                f"{self.config.scale}: raise vocab_size or lower scale"
            )
        self.config = FastConfig(**{**asdict(self.config), "horizon": horizon})
        strings = self._to_strings(self._coefficients(chunks), horizon)
        bpe = Tokenizer(models.BPE())  # no pre-tokenizer: each chunk is one "word"
        trainer = trainers.BpeTrainer(
            vocab_size=self.config.vocab_size,
            min_frequency=self.config.min_frequency,
            initial_alphabet=alphabet,
            special_tokens=[],
            show_progress=False,
        )
        bpe.train_from_iterator(strings, trainer=trainer, length=len(strings))
        self._set_bpe(bpe)
        return self

    # ---- encode / decode --------------------------------------------------------------------------
    def encode(self, actions: np.ndarray) -> np.ndarray | list[np.ndarray]:
        """A chunk ``(H, D)`` -> int64 ids ``(L,)``; a batch ``(B, H, D)`` -> list of B arrays."""
        bpe = self._require_fitted()
        actions = np.asarray(actions, dtype=np.float64)
        single = actions.ndim == 2
        batch = actions[None] if single else actions
        if batch.ndim != 3 or batch.shape[1:] != (self.horizon, self.action_dim):
            raise ValueError(
                f"FAST encodes chunks of shape (H, D) or (B, H, D) with H={self.horizon}, "
                f"D={self.action_dim} (the shape it was fitted on); got {actions.shape}"
            )
        check_finite(batch)
        strings = self._to_strings(self._coefficients(batch), self.horizon)
        encodings = bpe.encode_batch(strings)
        out = [np.asarray(e.ids, dtype=np.int64) + self.config.offset for e in encodings]
        return out[0] if single else out

    def _decode_one(self, ids: np.ndarray) -> np.ndarray:
        """One id sequence -> normalised chunk ``(H, D)``; raises FastDecodeError."""
        if ids.ndim != 1:
            raise FastDecodeError(f"a FAST token sequence must be 1-D, got shape {ids.shape}")
        local = ids.astype(np.int64) - self.config.offset
        bad = (local < 0) | (local >= len(self._id_to_token))
        if bad.any():
            i = int(np.argmax(bad))
            raise FastDecodeError(
                f"token id {int(ids[i])} at position {i} is not a FAST action token: ids are "
                f"[{self.offset}, {self.offset + self.vocab_size})"
            )
        text = "".join(self._id_to_token[i] for i in local.tolist())
        m = self.config.coefficient_bound(self.horizon)
        ints = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int64)
        ints -= _CHAR_BASE + m
        expected = self.horizon * self.action_dim
        if ints.size != expected:
            raise FastDecodeError(
                f"token sequence of length {ids.size} decodes to {ints.size} DCT coefficients, "
                f"expected H*D = {self.horizon}*{self.action_dim} = {expected} (truncated or "
                "malformed model output)"
            )
        coeff = ints.reshape(self.horizon, self.action_dim) / self.config.scale
        return np.clip(idct(coeff, type=2, axis=0, norm="ortho"), -1.0, 1.0)

    def decode(
        self, ids: np.ndarray | Sequence[np.ndarray], strict: bool = True
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Ids -> actions (float64, dataset units).

        One 1-D sequence -> ``(H, D)``; a list (or 2-D array) of sequences -> ``(B, H, D)``. With
        ``strict=True`` (default) a malformed sequence raises ``FastDecodeError``; with
        ``strict=False`` returns ``(actions, ok)`` where ``ok`` (bool, ``(B,)`` or scalar) flags
        valid chunks and invalid chunks are NaN (so a controller that forgets the mask fails
        loudly on non-finite actions rather than moving).
        """
        self._require_fitted()
        # A 1-D array-like (numpy, CPU torch tensor) is one sequence; a 2-D one or a list holds
        # one sequence per chunk.
        single = getattr(ids, "ndim", None) == 1
        seqs = [np.asarray(ids)] if single else [np.asarray(s) for s in ids]
        out = np.full((len(seqs), self.horizon, self.action_dim), np.nan)
        ok = np.zeros(len(seqs), dtype=bool)
        for b, seq in enumerate(seqs):
            if not np.issubdtype(seq.dtype, np.integer):
                err = FastDecodeError(f"sequence {b}: ids must be integers, got {seq.dtype}")
                if strict:
                    raise err
                continue
            try:
                out[b] = self._decode_one(seq)
                ok[b] = True
            except FastDecodeError as err:
                if strict:
                    raise FastDecodeError(f"sequence {b}: {err}") from None
        actions = self.normalizer.unnormalize(out)
        if single:
            actions, ok = actions[0], ok[0]
        return actions if strict else (actions, ok)

    # ---- persistence ------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> Path:
        bpe = self._require_fitted()
        directory = self._save_config_and_stats(directory)
        bpe.save(str(directory / BPE_FILENAME))
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> FastActionTokenizer:
        directory = Path(directory)
        payload = cls._read_own_config(directory)
        path = directory / BPE_FILENAME
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: re-save the fitted FAST tokenizer")
        config = FastConfig(**payload["config"])
        return cls(load_stats(directory), config, Tokenizer.from_file(str(path)))
