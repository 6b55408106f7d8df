"""Messages of the policy server and the validation of every observation field.

Imports only numpy (plus the standard library) so the robot-side client can use it too.

Wire protocol (each WebSocket binary frame is one msgpack message, see ``codec.py``)::

    client -> server                                    server -> client
    {"op": "metadata"}                                  {"ok": true, "metadata": {...}}
    {"op": "reset"}                                     {"ok": true}
    {"op": "act",  "obs": OBS}                          {"ok": true, "actions": f32[H, A]}
    {"op": "step", "obs": OBS}                          {"ok": true, "action": f32[A]}
    {"op": "stats"}                                     {"ok": true, "stats": {"forwards": n,
                                                          "requests": n, "mean_batch": x,
                                                          "forward_s": x, "mean_forward_ms": x,
                                                          "connections": n}}
    anything malformed                                  {"ok": false, "error": "...", "code": C}

    OBS = {"observation.images.<camera>": u8[H, W, 3] for every camera of the policy,
           "observation.state": f32[S] (finite),
           "task": str (1..max_instruction_chars; may be left out after the first
                        request on a connection: the server keeps the last one)}

Our client offers the WebSocket subprotocol ``VLA_SUBPROTOCOL``; a connection without it that
sends a request at once speaks this protocol too. One that stays silent is an openpi client
(``openpi.py``): it gets the metadata on connect and speaks openpi's request/response shape.

``act`` returns the whole action chunk; ``step`` returns one action from the connection's own
chunk broker (open-loop for a few steps, then re-plan), like ``Policy.select_action``.
``code`` is ``"bad_request"`` (the client's fault, e.g. an instruction over the model's token
limit; the connection stays open), ``"internal"`` (the policy failed) or ``"unauthorized"``.
A connection silent for ``idle_timeout_s`` is closed (code 1001), as is the longest-idle one
when the server is full and a new robot connects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

OBS_IMAGES_PREFIX = "observation.images."  # == vla.constants (copied: the client avoids vla)
OBS_STATE = "observation.state"
TASK = "task"
OPS: tuple[str, ...] = ("metadata", "reset", "act", "step", "stats")
DEFAULT_MAX_INSTRUCTION_CHARS = 512
# two 224x224 cameras are 301 KB: 1 MiB leaves room and bounds the server's buffers (server.py)
DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
VLA_SUBPROTOCOL = "vla-policy.v1"


class RequestError(ValueError):
    """A request that breaks the protocol; the message says which field and what is expected."""


@dataclass(frozen=True)
class ObservationSpec:
    """What one observation must look like for a given policy (from its metadata)."""

    camera_names: tuple[str, ...]
    image_size: tuple[int, int]  # (height, width)
    state_dim: int
    max_instruction_chars: int = DEFAULT_MAX_INSTRUCTION_CHARS

    def __post_init__(self) -> None:
        if not self.camera_names:
            raise ValueError("ObservationSpec needs at least one camera name")
        if len(self.image_size) != 2 or min(self.image_size) <= 0:
            raise ValueError(f"image_size must be (height, width) > 0, got {self.image_size}")
        if self.state_dim <= 0:
            raise ValueError(f"state_dim must be positive, got {self.state_dim}")

    @property
    def image_keys(self) -> tuple[str, ...]:
        return tuple(OBS_IMAGES_PREFIX + c for c in self.camera_names)

    @property
    def request_bytes(self) -> int:
        """Size of the largest valid request: images, state, the longest instruction in UTF-8
        (4 bytes a character at most) and 1 KiB of keys and framing."""
        h, w = self.image_size
        images = len(self.camera_names) * h * w * 3
        return images + 4 * self.state_dim + 4 * self.max_instruction_chars + 1024

    def to_dict(self) -> dict[str, Any]:
        return {
            "camera_names": list(self.camera_names),
            "image_size": list(self.image_size),
            "state_dim": self.state_dim,
            "max_instruction_chars": self.max_instruction_chars,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ObservationSpec:
        return cls(
            camera_names=tuple(d["camera_names"]),
            image_size=(int(d["image_size"][0]), int(d["image_size"][1])),
            state_dim=int(d["state_dim"]),
            max_instruction_chars=int(
                d.get("max_instruction_chars", DEFAULT_MAX_INSTRUCTION_CHARS)
            ),
        )


def validate_instruction(task: Any, max_chars: int) -> str:
    """Return ``task`` if it is a non-empty, not-too-long string; raise RequestError otherwise."""
    if not isinstance(task, str):
        raise RequestError(f"'{TASK}' must be a string, got {type(task).__name__}")
    if not task.strip():
        raise RequestError(f"'{TASK}' (the instruction) is empty; send e.g. 'pick up the red cube'")
    if len(task) > max_chars:
        raise RequestError(f"'{TASK}' has {len(task)} characters; at most {max_chars} are allowed")
    return task


def validate_observation(obs: Any, spec: ObservationSpec, cached_task: str | None) -> dict:
    """Check every field of an observation against ``spec``; return a clean copy.

    The returned dict has exactly the policy's image keys, the state and the task (the cached
    one when the request leaves it out). Raises :class:`RequestError` naming the field.
    """
    if not isinstance(obs, dict):
        raise RequestError(f"'obs' must be a map, got {type(obs).__name__}")
    allowed = set(spec.image_keys) | {OBS_STATE, TASK}
    unknown = sorted(str(k) for k in obs if k not in allowed)
    if unknown:
        raise RequestError(f"unknown observation keys {unknown}; expected {sorted(allowed)}")
    missing = sorted(k for k in (*spec.image_keys, OBS_STATE) if k not in obs)
    if missing:
        raise RequestError(f"missing observation keys {missing}")
    h, w = spec.image_size
    clean: dict[str, Any] = {}
    for key in spec.image_keys:
        img = obs[key]
        if not isinstance(img, np.ndarray):
            raise RequestError(f"'{key}' must be a uint8 array, got {type(img).__name__}")
        if img.dtype != np.uint8:
            raise RequestError(f"'{key}' must have dtype uint8, got {img.dtype}")
        if img.shape != (h, w, 3):
            raise RequestError(f"'{key}' must have shape {(h, w, 3)} (H, W, RGB), got {img.shape}")
        clean[key] = img
    state = obs[OBS_STATE]
    if not isinstance(state, np.ndarray):
        raise RequestError(f"'{OBS_STATE}' must be a float32 array, got {type(state).__name__}")
    if state.dtype != np.float32:
        raise RequestError(f"'{OBS_STATE}' must have dtype float32, got {state.dtype}")
    if state.shape != (spec.state_dim,):
        raise RequestError(f"'{OBS_STATE}' must have shape ({spec.state_dim},), got {state.shape}")
    if not np.all(np.isfinite(state)):
        raise RequestError(f"'{OBS_STATE}' contains NaN or infinite values")
    clean[OBS_STATE] = state
    if TASK in obs:
        clean[TASK] = validate_instruction(obs[TASK], spec.max_instruction_chars)
    elif cached_task is not None:
        clean[TASK] = cached_task
    else:
        raise RequestError(f"missing '{TASK}': send the instruction with the first observation")
    return clean


def parse_request(msg: Any) -> tuple[str, Any]:
    """Return ``(op, obs)`` of a decoded request, or raise RequestError."""
    if not isinstance(msg, dict):
        raise RequestError(f"a request must be a map with an 'op' field, got {type(msg).__name__}")
    op = msg.get("op")
    if op not in OPS:
        raise RequestError(f"unknown op {op!r}; expected one of {list(OPS)}")
    extra = sorted(str(k) for k in msg if k not in ("op", "obs"))
    if extra:
        raise RequestError(f"unknown request fields {extra}")
    if op in ("act", "step"):
        if "obs" not in msg:
            raise RequestError(f"op {op!r} needs an 'obs' map")
        return op, msg["obs"]
    if "obs" in msg:
        raise RequestError(f"op {op!r} takes no 'obs'")
    return op, None


def error_reply(message: str, code: str = "bad_request") -> dict[str, Any]:
    return {"ok": False, "error": message, "code": code}
