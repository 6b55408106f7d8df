"""What the server needs to know about a policy, read from ``policy.metadata``.

The server accepts any object with ``predict_batch(list_of_obs) -> (B, H, A)`` and the
``metadata`` mapping of ``vla.policy.Policy`` (``PolicyMeta`` fields: ``camera_keys``,
``image_size``, ``state_names``, ``action_names``, ``action_space``, ``control_hz``,
``chunk_size``, ``execution_horizon``). A missing entry is an error that names it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vla.serving.protocol import OBS_IMAGES_PREFIX, ObservationSpec

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
