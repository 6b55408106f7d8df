"""Where no window can open, the teleop preview and `vla data view --show` say why in one line
and name the `gui` extra (the default OpenCV is the headless build)."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import pytest

from vla.cli.main import main
from vla.teleop.status import GUI_FIX, StatusDisplay, window_problem

sys.path.insert(0, str(Path(__file__).parents[1] / "data"))
from synthetic_dataset import IMAGE_SIZE, write_episodes  # noqa: E402

HEADLESS = "GUI:                           NONE" in cv2.getBuildInformation()
needs_headless = pytest.mark.skipif(not HEADLESS, reason="this OpenCV has a GUI")


def test_no_display_is_named(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert "no display" in window_problem()


@needs_headless
def test_headless_opencv_names_the_gui_extra(monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", ":99")
    assert "vla-stack[gui]" in window_problem() and "vla-stack[gui]" in GUI_FIX
    status = StatusDisplay(window=None)
    err = capsys.readouterr().err
    assert status.window is False and "vla-stack[gui]" in err and err.count("\n") == 1


@needs_headless
def test_data_view_show_names_the_gui_extra(tmp_path, monkeypatch, capsys):
    from vla.data import DatasetWriter, default_features

    root = tmp_path / "ds"
    writer = DatasetWriter(root, 10, default_features(IMAGE_SIZE), "panda")
    write_episodes(writer, [4])
    writer.finalize()
    monkeypatch.setenv("DISPLAY", ":99")
    out = tmp_path / "ep.mp4"
    assert main(["data", "view", str(root), "--out", str(out), "--show"]) == 0
    err = capsys.readouterr().err
    assert out.is_file() and "cannot open a window" in err and "vla-stack[gui]" in err
