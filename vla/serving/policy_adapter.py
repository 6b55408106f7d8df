"""What the server needs to know about a policy, read from ``policy.metadata``.

The server accepts any object with ``predict_batch(list_of_obs) -> (B, H, A)`` and a
``metadata`` mapping that names the cameras, image size, state size, action space and chunk
layout. A missing entry is an error that names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vla.serving.protocol import ObservationSpec

REQUIRED_METADATA: tuple[str, ...] = ("camera_names", "image_size", "state_dim", "chunk_size")


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
    size = meta["image_size"]
    return ObservationSpec(
        camera_names=tuple(str(c) for c in meta["camera_names"]),
        image_size=(int(size[0]), int(size[1])),
        state_dim=int(meta["state_dim"]),
    )


def server_metadata(policy: Any, spec: ObservationSpec) -> dict[str, Any]:
    """Plain (msgpack-safe) metadata the server sends to clients on request."""
    meta = _metadata(policy)
    chunk = int(meta["chunk_size"])
    return {
        **spec.to_dict(),
        "chunk_size": chunk,
        "n_action_steps": int(meta.get("n_action_steps", chunk)),
        "action_dim": int(meta.get("action_dim", 7)),
        "action_space": str(meta.get("action_space", "eef_delta")),
        "control_hz": float(meta.get("control_hz", 10.0)),
    }
