"""``FastPolicy``: the shipped ``Policy`` with its launch overhead removed (same API).

    obs dicts --stage into pinned host buffers (uint8 images as-is, raw float32 state)-->
      bucket = smallest of ``buckets`` >= B (larger batches run in bucket-sized pieces)
      --one H2D copy per buffer--> StaticForward[bucket]: uint8 -> float, state normalise,
         VLAModel.forward (bf16/fp16 weights), the Policy's Readout  == one CUDA graph replay
      --ids (B, T) to host--> (V, D) table of every bin's action (binning) -> (B, H, D) robot units
    instruction -> padded (L, 384) states on device, cached per instruction; each batch slot
    re-copies its text rows only when its instruction changes.

Parallel decoding only: the fast path runs the parallel (OFT) head, one pass for the whole
chunk. Autoregressive checkpoints are refused with a clear error (their plain ``Policy`` path,
with a dynamic KV cache, still works; a static-KV-cache graph per decode step is not built).

Fidelity (``benchmarks/precision_fidelity.py`` / ``edge_gpu.py``, 256 recorded observations):
float32 gives the plain Policy's ids exactly (CUDA: TF32 convolutions off, see
``static_forward.forward_logits``). Half precision cannot give exactly the same ids on v7: it
was trained against HL-Gauss soft labels (sigma 8 bins), so its distributions are wide with a
ragged, flat top (the runner-up within 0.01 logits of the argmax for 36 % of tokens), and the
fp32 argmax is itself decided by differences below fp16's rounding (mean |logit error| 0.003).
Two remedies, both kept: the action head computes in fp32 (``Float32Head``; fp16/bf16 logits
quantised the top into exact ties: fp16 95.9 -> 98.6 % on an H100) and the checkpoint's
readout (``vla.policy.readout``, in the same graph): v7 ships ``smoothed`` (argmax of the
probabilities smoothed over 4 bins), which turns the ragged top's one-bin spikes into one
centre. On the CPU machine (torch fp16 kernels) fp16 vs fp32: argmax 98.4 % identical, 99.35 %
within one bin, 46 tokens more than 2 bins off (up to 209); smoothed 98.5 %, 99.96 %, 5 tokens
(the rest are two modes tied within rounding: a different mode, not noise, no readout that
picks a mode avoids it; ``mean`` does, <= 2 bins everywhere, but it averages the modes and
lost closed-loop success: 87 vs 93 of 100). Exact agreement stays ~98.5 % under any readout:
a rounding of a continuous quantity that half precision moves by ~0.01 bins. bfloat16: 91 %
identical, 45 tokens > 2 bins under ``smoothed``; serve fp16 or fp32, not bf16.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vla.constants import OBS_STATE, TASK
from vla.inference.static_forward import Preprocess, StaticForward, forward_logits
from vla.policy import Policy
from vla.policy.action_tokens import decode_tokens, is_fixed_length
from vla.policy.transforms import CLIP, EmbedInstruction, Normalize
from vla.robot.chunks import ChunkBroker

PARITY_MIN_AGREEMENT: dict[str, float] = {"float32": 1.0, "float16": 0.97, "bfloat16": 0.90}
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


class Float32Head(torch.nn.Module):
    """The action head in float32 inside a half-precision model: (B, T, d) half -> fp32 logits.

    A 384 x 258 matmul: free next to the rest, and it keeps the logits' resolution (fp16 steps
    0.0078 at |logit| 8..16, bfloat16 0.0625), which decides the argmax of a flat distribution.
    """

    def __init__(self, head: torch.nn.Linear):
        super().__init__()
        self.head = head.float()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(h.float())


def action_table(tokenizer) -> np.ndarray | None:
    """(V, D) float32: the action value of every bin of every dimension (binning tokenizers
    decode each token on its own: bin centre, un-normalise, gripper threshold), or None."""
    if not is_fixed_length(tokenizer):
        return None
    v, d = tokenizer.vocab_size, tokenizer.action_dim
    bins = np.repeat(np.arange(v)[:, None, None], d, axis=2)  # (V, 1, D)
    return tokenizer.decode(bins + tokenizer.offset)[:, 0].astype(np.float32)


@dataclass(frozen=True)
class FastConfig:
    """Knobs of the fast path.

    Args:
        dtype: weight/activation dtype; ``None`` = float16 on CUDA (the checkpoint stores fp16
            weights, so fp16 runs exactly the stored weights; see 'Fidelity' above: 98.6 %
            identical ids on recorded episodes vs 86 % for bfloat16, below its 90 %
            tolerance: do not serve v7 in bfloat16; float32 reproduces the plain Policy),
            float32 on CPU.
        buckets: batch sizes with their own static buffers (and CUDA graph).
        cuda_graphs: capture each bucket's forward as a CUDA graph (CUDA only).
        max_cached_instructions: instructions whose device-side states are kept.
        compile: ``torch.compile`` the model (inductor, default mode: fused element-wise and
            normalisation kernels) before each bucket's graph capture; CUDA only. Measured on
            an H100, batch 1, fp16: captured forward 1.01 -> 0.41 ms p50, end to end 1.23 ->
            0.60 ms; costs ~14 s of compilation per bucket and needs Triton.
    """

    dtype: str | None = None
    buckets: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    cuda_graphs: bool = True
    max_cached_instructions: int = 256
    compile: bool = False

    def __post_init__(self) -> None:
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ValueError(f"dtype={self.dtype!r}: choose one of {sorted(DTYPES)} or None")
        if not self.buckets or any(b < 1 for b in self.buckets):
            raise ValueError(f"buckets must be positive batch sizes, got {self.buckets}")
        if self.max_cached_instructions < 1:
            raise ValueError("max_cached_instructions must be >= 1")


class FastPolicy:
    """Low-latency inference over a ``Policy``'s checkpoint; ``act``/``predict_batch``/``reset``/
    ``select_action``/``metadata`` behave like ``Policy``'s (see module docstring)."""

    def __init__(self, policy: Policy, config: FastConfig | None = None):
        self.config = config or FastConfig()
        if policy.decode != "parallel":
            raise ValueError(
                f"FastPolicy runs the parallel action head only; this checkpoint decodes "
                f"{policy.decode!r}: use the plain Policy for autoregressive checkpoints"
            )
        self.policy = policy
        self.device = policy.device
        cuda = self.device.type == "cuda"
        name = self.config.dtype or ("float16" if cuda else "float32")
        self.dtype = DTYPES[name]
        # a private copy: the wrapped Policy keeps its float32 model (the plain path)
        cfg = policy.model.config
        if self.config.compile and not cuda:
            raise ValueError("FastConfig(compile=True) needs a CUDA device (inductor + Triton)")
        self.model = copy.deepcopy(policy.model).to(self.dtype).eval()
        if self.dtype != torch.float32:
            # fp16/bf16 logits quantise the top of the flat, soft-label-trained distributions
            # into exact ties (see 'Fidelity' above): the head computes and returns float32
            self.model.action_head = Float32Head(self.model.action_head)
        self.meta = policy.meta
        norm = next(t for t in policy.chain if isinstance(t, Normalize) and t.key == OBS_STATE)
        self.text_encoder: EmbedInstruction = next(
            t for t in policy.chain if isinstance(t, EmbedInstruction)
        )
        self.pre = Preprocess(norm.centre.to(self.device), norm.scale.to(self.device), CLIP)
        h, w = self.meta.image_size
        self.image_shape = (len(self.meta.camera_keys), int(h), int(w), 3)
        self.text_len = cfg.max_text_tokens
        if cfg.text_encoder == "minilm":
            self.text_shape, self.text_dtype = (self.text_len, cfg.text_dim), self.dtype
        else:
            self.text_shape, self.text_dtype = (self.text_len,), torch.long
        self.buckets = tuple(sorted(set(self.config.buckets)))
        self._static: dict[int, StaticForward] = {}
        self._text_cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if self.config.compile:  # compiled on the first bucket's warm-up, then captured
            # one compilation per bucket (static shapes): past dynamo's recompile limit (8 by
            # default) a bucket would run uncompiled without a word
            dyn = torch._dynamo.config
            for knob in ("cache_size_limit", "recompile_limit"):
                if hasattr(dyn, knob):
                    setattr(dyn, knob, max(getattr(dyn, knob), 4 * len(self.buckets)))
            self.model.forward = torch.compile(self.model.forward, dynamic=False)
        self._table = action_table(policy.tokenizer)
        b = policy.broker
        self.broker = ChunkBroker(self.act, b.execution_horizon, b.temporal_ensemble,
                                  b.ensemble_decay)  # fmt: skip

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        device: str = "cuda",
        text_cache: str | Path | None = None,
        config: FastConfig | None = None,
    ) -> FastPolicy:
        """Load a checkpoint folder (as ``Policy.from_pretrained``) and wrap it."""
        return cls(Policy.from_pretrained(path, device=device, text_cache=text_cache), config)

    # ---- Policy API -----------------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, Any]:
        """The wrapped Policy's metadata plus the fast path's dtype and graph state."""
        return {**self.policy.metadata, "fast_dtype": str(self.dtype).removeprefix("torch."),
                "cuda_graphs": self.graph_status()}  # fmt: skip

    def reset(self) -> None:
        """Start a new episode (clears the broker's queued actions)."""
        self.broker.reset()

    def check_compatible(self, **interface: Any) -> None:
        """As ``Policy.check_compatible`` (the checkpoint vs the environment)."""
        self.policy.check_compatible(**interface)

    def act(self, observation: dict) -> np.ndarray:
        """One action chunk (H, D) float32 in robot units."""
        return self.predict_batch([observation])[0]

    def select_action(self, observation: dict) -> np.ndarray:
        """One action (D,) for this control step, via the chunk broker."""
        return self.broker.select_action(observation)

    def predict_batch(self, observations: Sequence[dict]) -> np.ndarray:
        """Action chunks (B, H, D) float32 in robot units."""
        if not observations:
            raise ValueError("predict_batch needs at least one observation")
        top = self.buckets[-1]
        parts = []
        for i in range(0, len(observations), top):
            part = observations[i : i + top]
            # ids straight from the bucket's output buffer to the host (no device-side clone)
            parts.append(self._fill(part).run()[: len(part)].cpu().numpy())
        ids = parts[0] if len(parts) == 1 else np.concatenate(parts)
        if self._table is not None:  # binning: one gather (~60 us less per call than decode)
            b, d = ids.shape[0], self._table.shape[1]
            grid = ids[:, : self.meta.chunk_size * d].reshape(b, self.meta.chunk_size, d)
            return self._table[grid, np.arange(d)]  # (B, H, D) float32
        return decode_tokens(
            self.policy.tokenizer, ids, self.meta.chunk_size, self.model.config.eos_id
        )

    # ---- fast path ------------------------------------------------------------------------
    def predict_tokens(self, observations: Sequence[dict]) -> torch.Tensor:
        """Action ids (B, T) on the device (what ``Policy`` feeds its tokenizer)."""
        if not observations:
            raise ValueError("predict_batch needs at least one observation")
        top = self.buckets[-1]
        parts = [self._run_bucket(observations[i : i + top]) for i in range(0, len(observations),
                                                                             top)]  # fmt: skip
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def bucket_for(self, n: int) -> StaticForward:
        """The static forward of the smallest bucket holding ``n`` (built on first use)."""
        size = next(b for b in self.buckets if b >= n)
        if size not in self._static:
            self._static[size] = StaticForward(
                self.model, self.pre, size, self.image_shape, len(self.meta.state_names),
                self.text_shape, self.text_dtype, self.dtype, self.config.cuda_graphs,
                self.policy.readout,
            )  # fmt: skip
        return self._static[size]

    def warmup(self, batch_sizes: Sequence[int] | None = None) -> None:
        """Build (and capture) the buckets up front so the first ``act`` is not slow."""
        for b in batch_sizes or self.buckets:
            self.bucket_for(b)

    def graph_status(self) -> dict[int, str]:
        """Per built bucket: ``"graph"``, ``"eager"`` (CPU / disabled) or the capture error."""
        return {b: ("graph" if s.graph is not None else s.graph_error or "eager")
                for b, s in self._static.items()}  # fmt: skip

    @torch.no_grad()
    def predict_logits(self, observations: Sequence[dict]) -> torch.Tensor:
        """Action logits (B, T, V) float32 of the fast model (eager, no graph; for fidelity
        checks against the fp32 Policy, ``vla.inference.fidelity``)."""
        top = self.buckets[-1]
        parts = []
        for i in range(0, len(observations), top):
            part = observations[i : i + top]
            st = self._fill(part)
            logits = forward_logits(self.model, self.pre, st.images, st.state, st.text,
                                    st.text_mask, self.dtype)  # fmt: skip
            parts.append(logits[: len(part)].float().clone())
        return torch.cat(parts)

    def _run_bucket(self, observations: Sequence[dict]) -> torch.Tensor:
        return self._fill(observations).run()[: len(observations)].clone()

    def _fill(self, observations: Sequence[dict]) -> StaticForward:
        """Stage and upload ``observations`` into their bucket's static buffers."""
        n = len(observations)
        st = self.bucket_for(n)
        st.wait_upload()  # the previous call's H2D copy must be done before restaging
        self._stage(st, observations)
        st.upload(n)
        for i, obs in enumerate(observations):
            task = obs[TASK]
            if st.slot_task[i] != task:  # the instruction changed in this slot: re-copy it
                text, mask = self._embed(task)
                st.text[i].copy_(text)
                st.text_mask[i].copy_(mask)
                st.slot_task[i] = task
        return st

    def _stage(self, st: StaticForward, observations: Sequence[dict]) -> None:
        """Validate and copy images/state into the pinned host buffers (no float conversion)."""
        keys = [*self.meta.camera_keys, OBS_STATE, TASK]
        img_np, state_np = st.host_images.numpy(), st.host_state.numpy()
        hw = tuple(self.image_shape[1:])
        for i, obs in enumerate(observations):
            missing = [k for k in keys if k not in obs]
            if missing:
                raise KeyError(
                    f"observation lacks {missing}; the checkpoint expects {keys}, the "
                    f"observation has {sorted(obs)}"
                )
            for c, key in enumerate(self.meta.camera_keys):
                img = np.asarray(obs[key])
                if img.dtype != np.uint8:
                    raise TypeError(f"{key} must be uint8 (H, W, 3), got {img.dtype}")
                if img.shape != hw:
                    raise ValueError(
                        f"camera {key!r} images are {img.shape} but the checkpoint expects "
                        f"{hw} (H, W, 3): render the environment at that size"
                    )
                img_np[i, c] = img
            state = np.asarray(obs[OBS_STATE], dtype=np.float32).reshape(-1)
            if state.shape[0] != state_np.shape[1]:
                raise ValueError(
                    f"state has {state.shape[0]} values, the checkpoint expects "
                    f"{state_np.shape[1]} ({self.meta.state_names})"
                )
            state_np[i] = state

    def _embed(self, task: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Device-side (L, ...) text and (L,) mask of one instruction, padded to L (cached)."""
        hit = self._text_cache.get(task)
        if hit is not None:
            return hit
        text, mask = self.text_encoder.embed([task])  # (1, l, ...), (1, l)
        n = text.shape[1]
        if n > self.text_len:
            raise ValueError(
                f"instruction {task[:60]!r} has {n} tokens, over max_text_tokens={self.text_len}"
            )
        padded = torch.zeros(self.text_shape, dtype=self.text_dtype)
        padded[:n] = text[0].to(self.text_dtype)
        pmask = torch.zeros(self.text_len, dtype=torch.bool)
        pmask[:n] = mask[0]
        if len(self._text_cache) >= self.config.max_cached_instructions:
            self._text_cache.pop(next(iter(self._text_cache)))  # oldest first
        entry = (padded.to(self.device), pmask.to(self.device))
        self._text_cache[task] = entry
        return entry
