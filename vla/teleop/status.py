"""What the operator sees while recording: scene | wrist views and a status line.

An OpenCV window when a display exists (``DISPLAY``/``WAYLAND_DISPLAY`` set and OpenCV built
with GUI support); otherwise a one-line status rewritten in place on stderr (only when stderr is
a terminal). Optionally a preview file: ``.png`` is rewritten atomically every tick (watch it
with any image viewer that reloads), ``.mp4`` receives each finished or dropped episode.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from vla.constants import CAMERAS, OBS_IMAGES_PREFIX

WINDOW_NAME = "vla record"


def side_by_side(obs: dict, scale: int = 2) -> np.ndarray:
    """Scene and wrist images next to each other, upscaled ``scale`` times (RGB uint8)."""
    image = np.concatenate([obs[OBS_IMAGES_PREFIX + c] for c in CAMERAS], axis=1)
    return image.repeat(scale, axis=0).repeat(scale, axis=1) if scale > 1 else image


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


#: how to get an OpenCV that opens windows: both builds install the same ``cv2`` module, so the
#: GUI one is reinstalled last to win
GUI_FIX = ("pip install 'vla-stack[gui]' && pip install --force-reinstall --no-deps "
           "opencv-python")  # fmt: skip


def window_problem() -> str | None:
    """Why no OpenCV window can open here (one line naming the fix), or None when one can."""
    if not has_display():
        return "no display (DISPLAY / WAYLAND_DISPLAY unset)"
    import cv2

    gui = [ln for ln in cv2.getBuildInformation().splitlines() if ln.strip().startswith("GUI:")]
    if gui and gui[0].split(":", 1)[1].strip().upper() == "NONE":
        return f"this OpenCV is the headless build (no GUI): {GUI_FIX}"
    return None


class StatusDisplay:
    """Window / terminal line / preview file. ``window=None`` opens a window iff a display
    exists and OpenCV can show one."""

    def __init__(self, preview: Path | None = None, window: bool | None = None, fps: float = 10):
        self.preview = Path(preview) if preview is not None else None
        self.fps = fps
        self.frames: list[np.ndarray] = []
        self.window = has_display() if window is None else window
        self.tty = sys.stderr.isatty()
        self._width = 0
        if self.window:
            problem = window_problem()
            try:
                if problem is not None:
                    raise RuntimeError(problem)
                import cv2

                cv2.namedWindow(WINDOW_NAME, cv2.WINDOW_AUTOSIZE)
            except Exception as err:  # e.g. headless OpenCV: say so once, use the terminal
                print(f"[record] no preview window: {err}; terminal status only",
                      file=sys.stderr)  # fmt: skip
                self.window = False
        if self.preview is not None:
            self.preview.parent.mkdir(parents=True, exist_ok=True)

    def update(self, obs: dict, line: str, recording: bool = True) -> None:
        """Show ``obs`` and ``line``; the MP4 preview keeps only ``recording`` ticks."""
        image = side_by_side(obs)
        if self.window:
            import cv2

            bgr = np.ascontiguousarray(image[:, :, ::-1])
            cv2.putText(bgr, line[:70], (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 0), 1)
            cv2.imshow(WINDOW_NAME, bgr)
            cv2.waitKey(1)
        if self.tty:
            pad = max(self._width - len(line), 0)
            sys.stderr.write("\r" + line + " " * pad)
            sys.stderr.flush()
            self._width = len(line)
        if self.preview is not None:
            if self.preview.suffix.lower() == ".png":
                import cv2

                tmp = self.preview.with_name(self.preview.stem + ".tmp.png")
                cv2.imwrite(str(tmp), image[:, :, ::-1])
                os.replace(tmp, self.preview)
            elif recording:
                self.frames.append(image)

    def end_episode(self) -> None:
        """Flush the episode's frames to the MP4 preview (if any)."""
        if self.preview is not None and self.preview.suffix.lower() == ".mp4" and self.frames:
            from vla.rollout.video import write_video

            write_video(self.preview, self.frames, fps=self.fps, scale=1)
        self.frames = []

    def close(self) -> None:
        self.end_episode()
        if self.tty:
            sys.stderr.write("\r\n")
        if self.window:
            import cv2

            cv2.destroyWindow(WINDOW_NAME)
