"""MP4 encoding, concatenation and windowed decoding with PyAV.

We encode H.264 (libx264, ``preset=veryfast``, no B-frames, a keyframe every
``KEYFRAME_INTERVAL`` = 2 frames as LeRobot's encoder does) by default: about 1 ms per 128x128
frame on one core here, several times faster than the AV1 LeRobot uses by default, and
decodable everywhere. Training samples frames at random, and a seek decodes from the keyframe
before the frame: with a keyframe every 2 frames that is at most 2 frames, against up to 20
with one every 2 s at 10 Hz (``benchmarks/video_gop_bench.py`` measures the trade-off: ms per
random frame vs file size). Decoding handles any codec FFmpeg in PyAV supports; the
AV1 files LeRobot writes decode through libdav1d when PyAV has it (it does here), otherwise
:func:`decode_window` raises an error naming the codec.

Episodes are concatenated into one file by remuxing packets with a time offset (no
re-encoding), so an episode of a file spans ``[from_timestamp, to_timestamp)`` seconds.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from vla.data.layout import DEFAULT_CODEC, DatasetFormatError

KEYFRAME_INTERVAL = 2  # frames between keyframes (LeRobot: g=2): random access over file size
_ENCODERS = {"h264": "libx264", "av1": "libsvtav1"}


def encoder_available(codec: str) -> bool:
    return _ENCODERS.get(codec, codec) in av.codecs_available


def encode_video(
    path: Path, frames: np.ndarray, fps: float, codec: str = DEFAULT_CODEC,
    gop: int = KEYFRAME_INTERVAL,
) -> None:  # fmt: skip
    """Encode uint8 frames (T, H, W, 3) to an MP4 file whose frame i is at time i / fps, with a
    keyframe every ``gop`` frames."""
    _encode(str(path), frames, fps, codec, gop)


def encode_video_bytes(
    frames: np.ndarray, fps: float, codec: str = DEFAULT_CODEC, gop: int = KEYFRAME_INTERVAL
) -> bytes:
    """The MP4 :func:`encode_video` would write, as bytes (byte-identical: same muxer).

    Lets worker processes encode and the writer only store the result.
    """
    buffer = io.BytesIO()
    _encode(buffer, frames, fps, codec, gop)
    return buffer.getvalue()


def _encode(target, frames: np.ndarray, fps: float, codec: str, gop: int) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    encoder = _ENCODERS.get(codec, codec)
    if encoder not in av.codecs_available:
        raise RuntimeError(f"PyAV here has no {encoder!r} encoder; choose codec 'h264'")
    h, w = frames.shape[1:3]
    if h % 2 or w % 2:
        raise ValueError(f"yuv420p video needs even height and width, got {h}x{w}")
    with _scheduling_kept():
        _mux(target, frames, fps, encoder, gop, w, h)


class _ThreadScheduling:
    """This thread's scheduling as glibc sees it (``pthread_getschedparam``/``setschedparam``).

    glibc keeps a copy of a thread's policy in its thread descriptor once ``pthread_setschedparam``
    has set it, and copies it into every thread that thread creates. The kernel-side
    ``os.sched_setscheduler`` leaves that copy alone, so a restore through it alone left threads
    created later believing they were SCHED_FIFO 99; Fast DDS, which reads its threads' policy
    back and sets it again, then really ran its threads at that priority. None where the C library
    has no such calls (not glibc/Linux)."""

    def __init__(self) -> None:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        self._get, self._set = libc.pthread_getschedparam, libc.pthread_setschedparam
        libc.pthread_self.restype = ctypes.c_ulong
        self._self, self._ctypes = libc.pthread_self, ctypes

    def get(self) -> tuple[int, int]:
        c = self._ctypes
        policy, param = c.c_int(), c.c_int()  # struct sched_param is one int on Linux
        if self._get(c.c_ulong(self._self()), c.byref(policy), c.byref(param)):
            raise OSError("pthread_getschedparam failed")
        return policy.value, param.value

    def set(self, policy: int, priority: int) -> None:
        c = self._ctypes
        err = self._set(c.c_ulong(self._self()), policy, c.byref(c.c_int(priority)))
        if err:
            raise OSError(err, os.strerror(err))


@functools.cache
def _thread_scheduling() -> _ThreadScheduling | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return _ThreadScheduling()
    except (OSError, AttributeError):  # no glibc (musl) or no such symbols
        return None


@contextlib.contextmanager
def _scheduling_kept():
    """Restore this thread's scheduling after encoding: SVT-AV1 (libsvtav1) switches the calling
    thread to SCHED_FIFO priority 99 when it may (as root), which then starves every other
    process on the machine, robot nodes included, is inherited by child processes and, through
    glibc's copy of the policy (:class:`_ThreadScheduling`), by the DDS threads of a ROS node
    started later in the same process. Both the kernel's and glibc's view are put back."""
    if not hasattr(os, "sched_getscheduler"):
        yield
        return
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    pthread = _thread_scheduling()
    before = pthread.get() if pthread else None
    try:
        yield
    finally:
        if pthread and pthread.get() != before:
            pthread.set(*before)  # sets the kernel's policy too
        if os.sched_getscheduler(0) != policy or os.sched_getparam(0) != param:
            os.sched_setscheduler(0, policy, param)


def _mux(target, frames: np.ndarray, fps: float, encoder: str, gop: int, w: int, h: int) -> None:
    container = av.open(target, "w", format="mp4")
    try:
        stream = container.add_stream(encoder, rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if gop < 1:
            raise ValueError(f"keyframe interval must be >= 1 frame, got {gop}")
        if encoder == "libx264":
            stream.options = {"crf": "20", "preset": "veryfast", "bf": "0", "g": str(gop)}
        else:
            stream.options = {"g": str(gop)}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()


def _open(path: Path):
    path = Path(path)
    if not path.exists():
        raise DatasetFormatError(f"{path}: video file is missing")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise DatasetFormatError(f"{path}: corrupt or truncated video ({exc})") from exc
    if not container.streams.video:
        container.close()
        raise DatasetFormatError(f"{path}: holds no video stream")
    return container


def video_signature(path: Path) -> tuple:
    """What must match for two files to be concatenated by remuxing."""
    container = _open(path)
    try:
        s = container.streams.video[0]
        ctx = s.codec_context
        return (ctx.name, s.width, s.height, bytes(ctx.extradata or b""), s.time_base)
    finally:
        container.close()


def concat_videos(
    paths: list[Path], out: str | Path, max_seconds: list[float] | None = None
) -> list[float]:
    """Concatenate MP4 files of the same encoding into ``out`` by remuxing (no re-encode).

    Returns the start time (seconds) of each input in the output. ``max_seconds[i]`` keeps only
    the packets of input i shown before that time (trims leftovers of an interrupted merge;
    exact for streams without B-frames, as we encode them).
    """
    signatures = [video_signature(p) for p in paths]
    for p, sig in zip(paths, signatures, strict=True):
        if sig != signatures[0]:
            raise DatasetFormatError(
                f"{p}: encoding differs from {paths[0]}; cannot concatenate by remuxing"
            )
    inputs = [_open(p) for p in paths]
    try:
        first = inputs[0].streams.video[0]
        output = av.open(str(out), "w", format="mp4")
        try:
            # opaque: copy the codec parameters without opening an encoder (remux only)
            ostream = output.add_stream_from_template(first, opaque=True)
            offset = 0  # in the time base of the inputs
            starts: list[float] = []
            for i, c in enumerate(inputs):
                starts.append(float(offset * first.time_base))
                stream = c.streams.video[0]
                end = 0
                for packet in c.demux(stream):
                    if packet.dts is None:  # flush packet
                        continue
                    if max_seconds is not None and packet.pts * stream.time_base >= max_seconds[i]:
                        continue
                    end = max(end, packet.pts + (packet.duration or 0))
                    packet.pts += offset
                    packet.dts += offset
                    packet.stream = ostream
                    output.mux(packet)
                offset += end
        finally:
            output.close()
    finally:
        for c in inputs:
            c.close()
    return starts


def video_duration_frames(path: Path) -> int:
    """Number of frames, counted by demuxing (cheap: no decoding)."""
    container = _open(path)
    try:
        return sum(1 for p in container.demux(container.streams.video[0]) if p.dts is not None)
    finally:
        container.close()


def decode_window(
    path: Path, from_ts: float, to_ts: float, fps: float, expected: int | None = None
) -> np.ndarray:
    """Decode the frames with ``from_ts <= time < to_ts`` into uint8 (N, H, W, 3).

    Seeks to the keyframe before ``from_ts`` and decodes forward once. ``expected`` (the
    episode length) is checked so a truncated file raises instead of returning fewer frames.
    """
    container = _open(path)
    tol = 0.5 / fps  # frames sit at k / fps; half a period separates neighbours
    out: list[np.ndarray] = []
    # A reformatter (FFmpeg swscale context) of this call's own: PyAV's shared one keeps slice
    # threads that do not survive fork(), so a DataLoader worker forked after the parent decoded
    # once blocked forever in its first conversion.
    to_rgb = VideoReformatter()
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            if from_ts > tol:
                container.seek(int(max(0.0, from_ts - tol) / stream.time_base),
                               stream=stream, backward=True, any_frame=False)  # fmt: skip
            for frame in container.decode(stream):
                t = frame.time if frame.time is not None else frame.pts * stream.time_base
                if t < from_ts - tol:
                    continue
                if t >= to_ts - tol:
                    break
                out.append(to_rgb.reformat(frame, format="rgb24").to_ndarray())
        except av.error.DecoderNotFoundError as exc:  # pragma: no cover - depends on FFmpeg
            raise DatasetFormatError(
                f"{path}: no decoder for codec {stream.codec_context.name!r} in this PyAV build"
            ) from exc
        except av.error.FFmpegError as exc:
            raise DatasetFormatError(f"{path}: corrupt video data ({exc})") from exc
    finally:
        container.close()
    if expected is not None and len(out) != expected:
        raise DatasetFormatError(
            f"{path}: expected {expected} frames in [{from_ts:.3f}, {to_ts:.3f}) s, decoded "
            f"{len(out)} (truncated or corrupt video)"
        )
    if not out:
        raise DatasetFormatError(f"{path}: no frames in [{from_ts:.3f}, {to_ts:.3f}) s")
    return np.stack(out)
