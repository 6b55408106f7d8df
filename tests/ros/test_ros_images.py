"""Image / CompressedImage <-> RGB, with rosbags' sensor_msgs classes and a CDR round trip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vla.ros_core import images as im


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (6, 10, 3), dtype=np.uint8)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8"])
def test_color_encodings_roundtrip_exactly(types, roundtrip, rgb, encoding):
    msg = roundtrip(im.rgb_to_image(types, rgb, 123, "cam", encoding))
    assert msg.encoding == encoding and (msg.height, msg.width, msg.step) == (6, 10, 30)
    assert im.image_to_rgb(msg).tobytes() == rgb.tobytes()
    if encoding == "bgr8":  # the wire bytes really are BGR
        assert bytes(msg.data[:3]) == rgb[0, 0, ::-1].tobytes()


def test_mono8_is_grey_in_three_channels(types, roundtrip, rgb):
    msg = roundtrip(im.rgb_to_image(types, rgb, 0, encoding="mono8"))
    assert msg.step == 10
    out = im.image_to_rgb(msg)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    assert out.shape == (6, 10, 3)
    np.testing.assert_array_equal(out[..., 0], grey)
    np.testing.assert_array_equal(out[..., 2], grey)


@pytest.mark.parametrize("encoding,order", [("rgba8", [0, 1, 2]), ("bgra8", [2, 1, 0])])
def test_four_channel_encodings(types, rgb, encoding, order):
    rgba = np.concatenate([rgb[..., order], np.full((6, 10, 1), 255, np.uint8)], axis=-1)
    msg = types.Image(
        header=im.make_header(types, 0),
        height=6,
        width=10,
        encoding=encoding,
        is_bigendian=0,
        step=40,
        data=rgba.ravel(),
    )
    np.testing.assert_array_equal(im.image_to_rgb(msg), rgb)


def test_row_padding_is_skipped(types, rgb):
    padded = np.zeros((6, 32), np.uint8)  # step 32 > 10 * 3
    padded[:, :30] = rgb.reshape(6, 30)
    msg = types.Image(
        header=im.make_header(types, 0),
        height=6,
        width=10,
        encoding="rgb8",
        is_bigendian=0,
        step=32,
        data=padded.ravel(),
    )
    np.testing.assert_array_equal(im.image_to_rgb(msg), rgb)


def test_bad_encoding_and_short_data_raise(types, rgb):
    msg = im.rgb_to_image(types, rgb, 0)
    msg.encoding = "16UC1"
    with pytest.raises(ValueError, match="supported"):
        im.image_to_rgb(msg)
    msg = im.rgb_to_image(types, rgb, 0)
    msg.data = msg.data[:10]
    with pytest.raises(ValueError, match="too short"):
        im.image_to_rgb(msg)
    with pytest.raises(ValueError, match="uint8"):
        im.rgb_to_image(types, rgb.astype(np.float32), 0)


def test_png_compressed_is_lossless(types, roundtrip, rgb):
    msg = roundtrip(im.rgb_to_compressed(types, rgb, 5, "png"))
    assert msg.__msgtype__ == "sensor_msgs/msg/CompressedImage" and "png" in msg.format
    np.testing.assert_array_equal(im.compressed_to_rgb(msg), rgb)


def test_jpeg_compressed_keeps_colour_order(types, roundtrip):
    # a red left half and a blue right half survive JPEG with channels not swapped
    img = np.zeros((32, 32, 3), np.uint8)
    img[:, :16] = (255, 0, 0)
    img[:, 16:] = (0, 0, 255)
    msg = roundtrip(im.rgb_to_compressed(types, img, 5, "jpeg", jpeg_quality=95))
    assert bytes(msg.data[:2]) == b"\xff\xd8"  # JPEG magic
    out = im.compressed_to_rgb(msg).astype(int)
    assert np.abs(out[8, 4] - (255, 0, 0)).max() < 30
    assert np.abs(out[8, 28] - (0, 0, 255)).max() < 30


def test_compressed_from_a_bgr8_camera_format_string(types, rgb):
    # image_transport's compressed plugin writes e.g. "bgr8; jpeg compressed bgr8"
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    msg = types.CompressedImage(
        header=im.make_header(types, 0), format="bgr8; png compressed bgr8", data=buf.ravel()
    )
    np.testing.assert_array_equal(im.compressed_to_rgb(msg), rgb)


def test_undecodable_compressed_raises(types):
    msg = types.CompressedImage(
        header=im.make_header(types, 0), format="jpeg", data=np.zeros(20, np.uint8)
    )
    with pytest.raises(ValueError, match="could not decode"):
        im.compressed_to_rgb(msg)
    msg.format = "theora"
    with pytest.raises(ValueError, match="unsupported compressed"):
        im.compressed_to_rgb(msg)


def test_resize_to_policy_size(rgb):
    assert im.resize_rgb(rgb, (6, 10)) is rgb
    assert im.resize_rgb(rgb, (3, 5)).shape == (3, 5, 3)


def test_memoryview_and_array_data_work_like_rclpy(types, rgb):
    # rclpy gives uint8[] fields as array.array('B'); the decoder must take it as is
    import array

    msg = im.rgb_to_image(types, rgb, 0)
    msg.data = array.array("B", bytes(msg.data))
    np.testing.assert_array_equal(im.image_to_rgb(msg), rgb)
