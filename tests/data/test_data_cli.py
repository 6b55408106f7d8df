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
