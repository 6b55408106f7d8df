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
    assert im.resize_rgb(rgb, (3, 5)).shape == (3, 5, 3)  # same aspect: a plain resize
    np.testing.assert_array_equal(im.resize_rgb(rgb, (6, 6)), rgb[:, 2:8])  # crop only


def test_resize_crops_the_centre_instead_of_squashing():
    # a 480x640 camera frame: grey, a white disc in the middle, red bands at the far left/right
    frame = np.full((480, 640, 3), 128, np.uint8)
    cv2.circle(frame, (320, 240), 100, (255, 255, 255), -1)
    frame[:, :60] = frame[:, -60:] = (255, 0, 0)
    out = im.resize_rgb(frame, (128, 128))
    assert out.shape == (128, 128, 3)
    assert not np.any(np.all(out == (255, 0, 0), axis=-1))  # the side bands are cropped away
    white = np.all(out > 200, axis=-1)
    rows, cols = np.nonzero(white)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert abs(height - width) <= 1  # still a disc (a squash makes it 1.33x taller than wide)
    assert abs(height - 200 * 128 / 480) <= 2  # scaled by 128/480 in both directions
    assert abs(rows.mean() - 63.5) < 1 and abs(cols.mean() - 63.5) < 1  # centred
    # a portrait frame loses rows, top and bottom alike
    portrait = np.zeros((100, 50, 3), np.uint8)
    portrait[:25] = portrait[75:] = 255
    np.testing.assert_array_equal(im.resize_rgb(portrait, (20, 20)), np.zeros((20, 20, 3)))


def test_center_crop_box_and_bad_size():
    assert im.center_crop_box((480, 640), (128, 128)) == (0, 80, 480, 480)
    assert im.center_crop_box((480, 640), (90, 160)) == (60, 0, 360, 640)
    assert im.center_crop_box((100, 50), (20, 20)) == (25, 0, 50, 50)
    with pytest.raises(ValueError, match="positive"):
        im.resize_rgb(np.zeros((4, 4, 3), np.uint8), (0, 4))


def test_memoryview_and_array_data_work_like_rclpy(types, rgb):
    # rclpy gives uint8[] fields as array.array('B'); the decoder must take it as is
    import array

    msg = im.rgb_to_image(types, rgb, 0)
    msg.data = array.array("B", bytes(msg.data))
    np.testing.assert_array_equal(im.image_to_rgb(msg), rgb)
