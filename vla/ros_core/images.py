"""sensor_msgs/Image and CompressedImage <-> numpy RGB arrays (what the policy consumes).

The policy wants uint8 (H, W, 3) RGB. Cameras publish ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8`` or
``mono8``; compressed streams carry JPEG or PNG (image_transport's ``format`` field, e.g.
``"bgr8; jpeg compressed bgr8"`` or plainly ``"jpeg"``). Row padding (``step`` > width *
channels) is honoured. Anything else raises with the encodings that are supported.
"""

from __future__ import annotations

import numpy as np

from vla.ros_core.messages import MessageTypes, make_header

# encoding -> (channels, conversion of the decoded array to RGB)
_ENCODINGS: dict[str, int] = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


def _to_rgb(arr: np.ndarray, encoding: str) -> np.ndarray:
    if encoding == "rgb8":
        return arr
    if encoding == "bgr8":
        return arr[..., ::-1]
    if encoding == "rgba8":
        return arr[..., :3]
    if encoding == "bgra8":
        return arr[..., 2::-1]
    return np.repeat(arr[..., None] if arr.ndim == 2 else arr, 3, axis=-1)  # mono8


def image_to_rgb(msg) -> np.ndarray:
    """sensor_msgs/Image -> contiguous uint8 (H, W, 3) RGB."""
    enc = str(msg.encoding).lower()
    if enc not in _ENCODINGS:
        raise ValueError(
            f"unsupported image encoding {msg.encoding!r}; supported: {sorted(_ENCODINGS)}. "
            "Configure the camera driver to publish one of them"
        )
    ch = _ENCODINGS[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    buf = np.frombuffer(memoryview(msg.data).cast("B"), dtype=np.uint8)
    if step < w * ch or len(buf) < h * step:
        raise ValueError(
            f"image data too short: {len(buf)} bytes for {h}x{w} {enc} with step {step}"
        )
    rows = buf[: h * step].reshape(h, step)[:, : w * ch]
    arr = rows.reshape(h, w, ch) if ch > 1 else rows.reshape(h, w)
    return np.ascontiguousarray(_to_rgb(arr, enc))


def rgb_to_image(
    types: MessageTypes, rgb: np.ndarray, stamp_ns: int, frame_id: str = "", encoding: str = "rgb8"
):
    """uint8 (H, W, 3) RGB -> sensor_msgs/Image in ``rgb8``, ``bgr8`` or ``mono8``."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"need uint8 (H, W, 3) RGB, got {rgb.dtype} {rgb.shape}")
    if encoding == "rgb8":
        out = rgb
    elif encoding == "bgr8":
        out = rgb[..., ::-1]
    elif encoding == "mono8":
        import cv2

        out = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    else:
        raise ValueError(f"cannot encode {encoding!r}; use rgb8, bgr8 or mono8")
    out = np.ascontiguousarray(out)
    h, w = out.shape[:2]
    return types.Image(
        header=make_header(types, stamp_ns, frame_id),
        height=h,
        width=w,
        encoding=encoding,
        is_bigendian=0,
        step=out.strides[0],
        data=types.uint8_array(out.tobytes()),
    )


def compressed_to_rgb(msg) -> np.ndarray:
    """sensor_msgs/CompressedImage (JPEG or PNG) -> uint8 (H, W, 3) RGB, decoded by OpenCV."""
    import cv2

    fmt = str(msg.format).lower()
    if "jpeg" not in fmt and "jpg" not in fmt and "png" not in fmt:
        raise ValueError(f"unsupported compressed format {msg.format!r}; use jpeg or png")
    buf = np.frombuffer(memoryview(msg.data).cast("B"), dtype=np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)  # OpenCV always decodes to BGR
    if bgr is None:
        raise ValueError(f"could not decode {len(buf)} bytes of {msg.format!r} image data")
    return np.ascontiguousarray(bgr[..., ::-1])


def rgb_to_compressed(
    types: MessageTypes,
    rgb: np.ndarray,
    stamp_ns: int,
    fmt: str = "jpeg",
    frame_id: str = "",
    jpeg_quality: int = 90,
):
    """uint8 (H, W, 3) RGB -> sensor_msgs/CompressedImage (``jpeg`` or ``png``)."""
    import cv2

    if fmt not in ("jpeg", "png"):
        raise ValueError(f"compressed format must be 'jpeg' or 'png', got {fmt!r}")
    bgr = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[..., ::-1])
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if fmt == "jpeg" else []
    ok, enc = cv2.imencode("." + ("jpg" if fmt == "jpeg" else "png"), bgr, params)
    if not ok:
        raise ValueError("OpenCV failed to encode the image")
    return types.CompressedImage(
        header=make_header(types, stamp_ns, frame_id),
        format=f"rgb8; {fmt} compressed bgr8",
        data=types.uint8_array(enc.tobytes()),
    )


def center_crop_box(shape: tuple[int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the largest centred crop of an image of ``shape`` (h, w)
    that has the aspect ratio of ``size`` (h, w)."""
    h, w = shape
    th, tw = size
    if h * tw > w * th:  # taller than the target: crop rows
        ch, cw = max(1, round(w * th / tw)), w
    else:  # wider (or equal): crop columns
        ch, cw = h, max(1, round(h * tw / th))
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Fit a camera frame to the policy's (height, width): centre crop to the target's aspect
    ratio, then resize with area interpolation (no-op if the size already matches).

    Objects keep their shape (a 640x480 frame into a 128x128 policy loses 80 columns on each
    side instead of being squashed), as the square frames the model was trained on show them.
    Point the camera so the workspace is in the centred crop.
    """
    h, w = size
    if h <= 0 or w <= 0:
        raise ValueError(f"target image size must be positive, got {size}")
    if rgb.shape[:2] == (h, w):
        return rgb
    top, left, ch, cw = center_crop_box(rgb.shape[:2], size)
    crop = rgb[top : top + ch, left : left + cw]
    if crop.shape[:2] == (h, w):
        return np.ascontiguousarray(crop)
    import cv2

    return cv2.resize(np.ascontiguousarray(crop), (w, h), interpolation=cv2.INTER_AREA)
