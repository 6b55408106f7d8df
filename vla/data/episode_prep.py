"""Episode preparation: the heavy, order-independent half of saving an episode.

``prepare_episode`` validates an episode's stacked frames, encodes one MP4 per camera (bytes)
and computes the per-episode statistics of the cameras and of the recorded numeric features.
It needs no dataset state, so generation runs it in the worker processes; the writer's
``DatasetWriter.save_prepared`` then only assigns indices and writes files (the same files,
through the same durable path, as ``save_episode``, which itself is prepare + save_prepared).
``check_frame`` holds one frame to the same rules for ``DatasetWriter.add_frame``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vla.constants import TASK
from vla.data.layout import DEFAULT_CODEC, numeric_keys, visual_keys
from vla.data.stats import array_stats, image_stats
from vla.data.video import encode_video_bytes


@dataclass(frozen=True)
class EpisodeSpec:
    """What preparation needs from a dataset: its recorded (user) features, fps and codec.

    Get it from ``DatasetWriter.episode_spec()``; it is small and picklable (sent to workers).
    """

    features: dict[str, dict]
    fps: float
    codec: str = DEFAULT_CODEC

    @property
    def cameras(self) -> list[str]:
        return visual_keys(self.features)

    @property
    def columns(self) -> list[str]:
        """The per-frame data columns (every feature but the cameras)."""
        cameras = set(self.cameras)
        return [k for k in self.features if k not in cameras]


@dataclass
class PreparedEpisode:
    """An episode ready for ``DatasetWriter.save_prepared``.

    ``columns``: numeric feature -> (T, *shape) array in the feature's dtype; ``videos``:
    camera -> MP4 bytes; ``stats``: per-episode statistics of every camera and column;
    ``tasks``: the instruction of each frame; ``spec``: what it was prepared for.
    """

    spec: EpisodeSpec
    length: int
    tasks: list[str]
    columns: dict[str, np.ndarray]
    videos: dict[str, bytes]
    stats: dict[str, dict[str, np.ndarray]]


def prepare_episode(
    spec: EpisodeSpec, frames: dict[str, np.ndarray], tasks: str | list[str]
) -> PreparedEpisode:
    """Validate stacked frames (feature -> (T, ...)) and encode/summarise them.

    ``tasks`` is one instruction for the whole episode or one per frame. Raises the same
    errors as ``DatasetWriter.add_frame`` would for a bad frame.
    """
    features = spec.features
    missing = [k for k in features if k not in frames]
    if missing:
        raise KeyError(f"episode lacks feature(s) {missing}; declared: {list(features)}")
    extra = [k for k in frames if k not in features]
    if extra:
        raise KeyError(f"episode has unknown feature(s) {extra}; declare them in `features`")
    lengths = {len(np.asarray(frames[k])) for k in features}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(
            f"episode features must hold the same number (>= 1) of frames, got lengths "
            f"{ {k: len(np.asarray(frames[k])) for k in features} }"
        )
    length = lengths.pop()
    tasks = [tasks] * length if isinstance(tasks, str) else list(tasks)
    if len(tasks) != length or not all(isinstance(t, str) and t for t in tasks):
        raise TypeError(f"tasks must be {length} non-empty strings (one per frame) or one string")
    columns = {
        k: check_values(k, features[k], np.asarray(frames[k]), stacked=True) for k in spec.columns
    }
    videos: dict[str, bytes] = {}
    stats = {k: array_stats(columns[k].reshape(length, -1)) for k in numeric_keys(features)}
    for key in spec.cameras:
        video = check_values(key, features[key], np.asarray(frames[key]), stacked=True)
        videos[key] = encode_video_bytes(video, spec.fps, spec.codec)
        stats[key] = image_stats(video)
    return PreparedEpisode(spec, length, tasks, columns, videos, stats)


def check_frame(
    frame: dict[str, Any], keys: list[str], features: dict[str, dict]
) -> dict[str, np.ndarray]:
    """Validate one frame for ``DatasetWriter.add_frame``: every recorded feature (``keys``,
    declared in ``features``) plus ``task`` (the instruction string); returns the features'
    values in their declared dtypes."""
    missing = [k for k in [*keys, TASK] if k not in frame]
    if missing:
        raise KeyError(f"add_frame: frame lacks feature(s) {missing}; declared: {keys}")
    extra = [k for k in frame if k not in keys and k != TASK]
    if extra:
        raise KeyError(f"add_frame: unknown feature(s) {extra}; declare them in `features`")
    if not isinstance(frame[TASK], str) or not frame[TASK]:
        raise TypeError(f"add_frame: 'task' must be a non-empty string, got {frame[TASK]!r}")
    checked = {}
    for key in keys:
        try:
            checked[key] = check_values(key, features[key], np.asarray(frame[key]), False)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"add_frame: {exc}") from None
    return checked


def check_values(key: str, ft: dict, values: np.ndarray, stacked: bool) -> np.ndarray:
    """Validate one feature's values against its declaration; returns them in the declared dtype.

    ``stacked``: a whole episode (T, *shape) as ``prepare_episode`` gets it; otherwise one
    frame (*shape) as ``DatasetWriter.add_frame`` gets it. One rule set for both paths.
    """
    want = tuple(ft["shape"])
    got = values.shape[1:] if stacked else values.shape
    shape_txt = f"(T, {', '.join(map(str, want))})" if stacked else str(want)
    if ft["dtype"] == "video":
        if values.dtype != np.uint8 or got != want:
            raise ValueError(
                f"camera {key!r} must be uint8 {shape_txt} (H, W, 3), got {values.dtype} "
                f"{values.shape}"
            )
        return values
    scalar_ok = want == (1,) and got == ()  # a (1,) feature may be given as a scalar
    if got != want and not scalar_ok:
        raise ValueError(f"feature {key!r} must have shape {shape_txt}, got {values.shape}")
    if not np.can_cast(values.dtype, ft["dtype"], casting="same_kind"):
        raise TypeError(f"feature {key!r} must be {ft['dtype']}, got {values.dtype}")
    values = values.astype(ft["dtype"]).reshape((len(values), *want) if stacked else want)
    if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
        raise ValueError(f"feature {key!r} holds NaN or inf")
    return values
