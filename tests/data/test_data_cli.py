"""`vla data info` and `vla data view` on a written dataset and on LeRobot's fixture."""

from __future__ import annotations

from synthetic_dataset import write_episodes

from vla.cli.main import main
from vla.data import DatasetWriter
from vla.data.video import decode_window, video_duration_frames


def test_info_prints_counts_tasks_features_stats(tmp_path, features, capsys):
    w = DatasetWriter(tmp_path / "ds", 10, features, "panda")
    write_episodes(w, [5, 7, 4])
    w.finalize()
    assert main(["data", "info", str(tmp_path / "ds")]) == 0
    out = capsys.readouterr().out
    assert "episodes     3" in out and "frames       16" in out
    assert "2 episodes  pick up the red cube" in out
    assert "observation.images.scene     video" in out and "codec h264" in out
    assert "observation.state" in out and "q99" in out


def test_view_writes_side_by_side_mp4(tmp_path, fixture_root, capsys):
    out = tmp_path / "ep1.mp4"
    assert main(["data", "view", str(fixture_root), "--episode", "1", "--out", str(out)]) == 0
    assert video_duration_frames(out) == 22
    frames = decode_window(out, 0.0, 2.2, fps=10, expected=22)
    assert frames.shape == (22, 96, 256, 3)  # scene | wrist
    # frame 10 of episode 1: scene green channel ~ 255*10/22, wrist = 255 - scene
    assert abs(frames[10, :, :128, 1].mean() - 115) < 12
    assert abs(frames[10, :, 128:, 1].mean() - 140) < 12
    assert main(["data", "view", str(fixture_root), "--episode", "9"]) == 2


def test_recompute_stats_gives_exact_quantiles(tmp_path, fixture_root, capsys):
    import shutil

    import numpy as np

    from vla.data import LeRobotDatasetReader

    root = tmp_path / "fx"
    shutil.copytree(fixture_root, root)
    for p in root.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    before = LeRobotDatasetReader(root).stats["observation.state"]["q01"]
    assert main(["data", "info", str(root), "--recompute-stats"]) == 0
    assert "recomputed" in capsys.readouterr().out
    r = LeRobotDatasetReader(root)
    state = np.concatenate([r.episode_arrays(e)["observation.state"] for e in range(3)])
    got = r.stats["observation.state"]
    np.testing.assert_allclose(got["q01"], np.quantile(state.astype(float), 0.01, axis=0), 1e-9)
    assert not np.allclose(before, got["q01"])  # LeRobot's weighted-mean quantile differs
    assert got["mean"].shape == (8,) and r.stats["observation.images.scene"]["mean"].shape == (
        3,
        1,
        1,
    )
