"""Dataset files follow the umask (mkstemp's 0600 would lock out other users and containers),
and videos carry a keyframe every KEYFRAME_INTERVAL frames (random access, as LeRobot)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import av
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic_dataset import IMAGE_SIZE, write_episodes  # noqa: E402

from vla.data import DatasetWriter, default_features  # noqa: E402
from vla.data.layout import current_umask  # noqa: E402
from vla.data.video import KEYFRAME_INTERVAL, encode_video  # noqa: E402


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_dataset_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        assert current_umask() == umask
        root = tmp_path / "ds"
        w = DatasetWriter(root, 10, default_features(IMAGE_SIZE), "panda", consolidate_every=2)
        write_episodes(w, [5, 6, 4])
        w.finalize()
    finally:
        os.umask(old)
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".mp4" for p in files) and any(p.suffix == ".parquet" for p in files)
    modes = {p.relative_to(root).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in files}
    assert set(modes.values()) == {0o666 & ~umask}, modes


def test_keyframe_every_interval(tmp_path):
    # a gradient whose blue channel brightens slowly: no scene cut, so only the GOP setting
    # places keyframes
    yy, xx = np.mgrid[0:64, 0:64]
    frames = np.stack([np.stack([xx * 3, yy * 3, np.full_like(xx, 60 + t)], -1)
                       for t in range(11)]).astype(np.uint8)  # fmt: skip
    path = tmp_path / "v.mp4"
    encode_video(path, frames, fps=10)
    with av.open(str(path)) as container:
        keys = [p.is_keyframe for p in container.demux(container.streams.video[0]) if p.size]
    assert len(keys) == 11
    assert [i for i, k in enumerate(keys) if k] == list(range(0, 11, KEYFRAME_INTERVAL))
    assert KEYFRAME_INTERVAL == 2  # LeRobot's g=2 (benchmarks/video_gop_bench.py: the trade-off)
