"""Episode videos for people to watch (`vla eval --video-dir`, `vla sim run --video-dir`,
`vla replay --video`, the teleop preview), written by the dataset's MP4 encoder
(``vla.data.video.encode_video``: H.264 through PyAV), so the project has one MP4 writer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vla.data.video import encode_video

# Watched start to end, never seeked at random as training does: a keyframe every 2 s is enough
KEYFRAME_SECONDS = 2.0


def write_video(path: str | Path, frames: Sequence[np.ndarray], fps: float = 10.0,
                scale: int = 2) -> Path:  # fmt: skip
    """Encode uint8 (H, W, 3) frames to an H.264 MP4, each frame upscaled ``scale`` times
    (nearest) so 128 px images stay legible; odd sizes are padded by a pixel (H.264 needs even
    ones). Returns the path."""
    if len(frames) == 0:
        raise ValueError(f"no frames to write to {path}; record the episode with render=True")
    video = np.stack(frames)  # (T, H, W, 3)
    if scale > 1:
        video = video.repeat(scale, axis=1).repeat(scale, axis=2)
    if video.shape[1] % 2 or video.shape[2] % 2:
        video = np.pad(video, ((0, 0), (0, video.shape[1] % 2), (0, video.shape[2] % 2), (0, 0)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encode_video(path, np.ascontiguousarray(video, dtype=np.uint8), fps,
                 gop=max(1, round(KEYFRAME_SECONDS * fps)))  # fmt: skip
    return path
