"""What the server needs to know about a policy, read from ``policy.metadata``.

The server accepts any object with ``predict_batch(list_of_obs) -> (B, H, A)`` and the
``metadata`` mapping of ``vla.policy.Policy`` (``PolicyMeta`` fields: ``camera_keys``,
``image_size``, ``state_names``, ``action_names``, ``action_space``, ``control_hz``,
``chunk_size``, ``execution_horizon``). A missing entry is an error that names it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vla.serving.protocol import OBS_IMAGES_PREFIX, ObservationSpec

log = logging.getLogger("vla.serving")

REQUIRED_METADATA: tuple[str, ...] = (
    "camera_keys", "image_size", "state_names", "action_names", "action_space", "control_hz",
    "chunk_size", "execution_horizon",
)  # fmt: skip


def _metadata(policy: Any) -> Mapping[str, Any]:
    meta = getattr(policy, "metadata", None)
    if not isinstance(meta, Mapping):
        raise TypeError(f"{type(policy).__name__} has no `metadata` mapping; cannot serve it")
    missing = [k for k in REQUIRED_METADATA if k not in meta]
    if missing:
        raise ValueError(
            f"policy metadata lacks {missing} (has {sorted(meta)}); the server needs "
            f"{list(REQUIRED_METADATA)} to validate requests"
        )
    if not callable(getattr(policy, "predict_batch", None)):
        raise TypeError(f"{type(policy).__name__} has no predict_batch(observations) method")
    return meta


def spec_from_policy(policy: Any) -> ObservationSpec:
    """The observation every request must carry for ``policy``."""
    meta = _metadata(policy)
    bad = [k for k in meta["camera_keys"] if not str(k).startswith(OBS_IMAGES_PREFIX)]
    if bad:
        raise ValueError(f"camera keys {bad} do not start with {OBS_IMAGES_PREFIX!r}")
    size = meta["image_size"]
    return ObservationSpec(
        camera_names=tuple(str(k)[len(OBS_IMAGES_PREFIX) :] for k in meta["camera_keys"]),
        image_size=(int(size[0]), int(size[1])),
        state_dim=len(meta["state_names"]),
    )


def server_metadata(policy: Any, spec: ObservationSpec) -> dict[str, Any]:
    """What clients get: the policy's own metadata (same keys as ``Policy.metadata``, so code
    written against a local Policy works with ``PolicyClient``) plus the request spec."""
    meta = _metadata(policy)
    plain = json.loads(json.dumps(dict(meta), default=str))  # msgpack-safe, no numpy/tuples
    return {
        **plain,
        **spec.to_dict(),
        "action_dim": len(meta["action_names"]),
    }


def instruction_meter(policy: Any) -> Callable[[str], int] | None:
    """``measure(text) -> tokens`` for the policy's text encoder (raises ValueError over its
    ``max_text_tokens``), or None for a policy without one (it then checks inside its forward).

    The encoder is the ``EmbedInstruction`` transform: ``FastPolicy.text_encoder`` or the one in
    ``Policy.chain``; measuring only tokenizes, so an over-long instruction is refused before it
    reaches any model or cache.
    """
    embed = getattr(policy, "text_encoder", None)
    if embed is None:
        chain = getattr(policy, "chain", None) or ()
        embed = next((t for t in chain if hasattr(t, "encoder") and hasattr(t, "max_tokens")), None)
    measure = getattr(getattr(embed, "encoder", None), "measure", None)
    if measure is None:
        return None
    limit = int(embed.max_tokens)
    return lambda text: measure(text, limit)


def fast_buckets(max_batch: int) -> tuple[int, ...]:
    """FastPolicy batch buckets for a server batching up to ``max_batch``: the powers of two
    below it and ``max_batch`` itself, so no batch the server forms is split in pieces."""
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    sizes = {max_batch}
    b = 1
    while b < max_batch:
        sizes.add(b)
        b *= 2
    return tuple(sorted(sizes))


def load_policy(
    checkpoint: str | Path,
    device: str,
    fast: bool | None = None,
    max_batch: int = 16,
    text_cache: str | Path | None = None,
    compile: bool = False,
    threads: int | None = None,
) -> Any:
    """The policy ``vla serve`` (each of its workers) serves: ``OnnxPolicy`` for a ``vla export``
    folder (ONNX Runtime on the CPU, its int8 model if it has one), else ``FastPolicy`` or the
    plain ``Policy``. ``threads``: torch's (or ONNX Runtime's) CPU threads.

    ``fast=None`` (default) picks FastPolicy on CUDA (fp16, a CUDA graph per batch bucket,
    buckets covering ``max_batch``; graphs are captured here, before serving) and the plain
    Policy on CPU. On CPU FastPolicy runs eager fp32 with the text padded to
    ``max_text_tokens`` and batches padded to a bucket, so it is slower there (shipped
    checkpoint, 1 torch thread, interleaved medians: batch 1 198 vs 187 ms, batch 3 707 vs
    474 ms). ``fast=True`` forces FastPolicy (an autoregressive checkpoint is then an error);
    ``fast=False`` forces the plain Policy. ``text_cache``: as in ``Policy.from_pretrained``.
    ``compile``: FastConfig(compile=True), torch.compile inside each bucket's graph (CUDA).
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    if (Path(checkpoint) / "export_meta.json").is_file():  # a `vla export` folder
        from vla.inference.onnx_policy import OnnxPolicy

        return OnnxPolicy.from_export(checkpoint, threads=threads or 0, text_cache=text_cache)
    from vla.policy import Policy

    policy = Policy.from_pretrained(checkpoint, device=device, text_cache=text_cache)
    use_fast = policy.device.type == "cuda" if fast is None else fast
    if use_fast and policy.decode != "parallel":
        if fast:
            raise ValueError(
                f"--fast needs a parallel-decoding checkpoint; {checkpoint} decodes "
                f"{policy.decode!r}: serve it with --no-fast"
            )
        log.warning("checkpoint decodes %r: serving the plain Policy", policy.decode)
        use_fast = False
    if compile and not use_fast:
        raise ValueError("--compile applies to the fast path: serve on cuda without --no-fast")
    if not use_fast:
        return policy
    from vla.inference import FastConfig, FastPolicy

    config = FastConfig(buckets=fast_buckets(max_batch), compile=compile)
    fast_policy = FastPolicy(policy, config)
    fast_policy.warmup()  # build every bucket (capture its CUDA graph) before serving
    return fast_policy


def served_device(policy: Any) -> str:
    """Where ``policy`` runs (``OnnxPolicy``: the CPU), for the log."""
    return str(getattr(policy, "device", "cpu"))


def describe_inference(policy: Any) -> str:
    """One line for the log: which inference path serves (fast / plain) and how."""
    meta = getattr(policy, "metadata", {})
    if "fast_dtype" not in meta:
        return f"plain ({type(policy).__name__})"
    graphs = meta.get("cuda_graphs", {})
    modes = sorted(set(graphs.values()))
    return (
        f"fast (FastPolicy {meta['fast_dtype']}, buckets {sorted(graphs)}, "
        f"{'/'.join(modes) or 'no buckets built'})"
    )
