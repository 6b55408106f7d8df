"""Encoding a video must leave the process's CPU scheduling as it found it.

SVT-AV1 switches the calling thread to SCHED_FIFO priority 99 when it is allowed to (as root):
the test process, and every ROS node it then started, ran real-time and starved the machine.
Both views are checked: the kernel's and glibc's copy, which threads created later inherit
(tests/ros/test_ros_av1_scheduling.py: a ROS node's DDS threads).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from vla.data.video import _thread_scheduling, encode_video_bytes, encoder_available


@pytest.mark.parametrize("codec", ["av1", "h264"])
def test_encoding_keeps_the_scheduling_policy(codec):
    if not encoder_available(codec):
        pytest.skip(f"no {codec} encoder in this PyAV build")
    pthread = _thread_scheduling()
    before = (os.sched_getscheduler(0), os.sched_getparam(0))
    before_glibc = pthread.get() if pthread else None
    data = encode_video_bytes(np.zeros((4, 64, 64, 3), np.uint8), 10, codec)
    assert len(data) > 0
    assert (os.sched_getscheduler(0), os.sched_getparam(0)) == before
    assert (pthread.get() if pthread else None) == before_glibc
