"""A ROS node started after an AV1 encode in the same process runs no real-time thread.

SVT-AV1 sets its calling thread to SCHED_FIFO 99 through ``pthread_setschedparam`` when it may
(as root). glibc copies that setting into every thread the thread creates later; Fast DDS reads
its threads' policy back and applies it, so a node's DDS threads ran SCHED_FIFO 99 and, spinning,
starved a 2-core machine. ``vla.data.video`` restores glibc's view along with the kernel's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import rosgraph

from vla.data.video import encoder_available

PROBE = """
import json, os, time
import numpy as np
import rclpy
from vla.data.video import encode_video_bytes
encode_video_bytes(np.zeros((4, 64, 64, 3), np.uint8), 10, "av1")
rclpy.init()
node = rclpy.create_node("av1_probe")
time.sleep(0.5)  # Fast DDS starts its threads
rt = {}
for tid in os.listdir("/proc/self/task"):
    try:
        policy = os.sched_getscheduler(int(tid))
        with open(f"/proc/self/task/{tid}/comm") as f:
            name = f.read().strip()
    except OSError:
        continue
    if policy in (os.SCHED_FIFO, os.SCHED_RR):
        rt[name] = policy
node.destroy_node()
rclpy.try_shutdown()
print(json.dumps(rt))
"""


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="SVT-AV1 switches to real time only as root; elsewhere there is nothing to undo",
)
def test_dds_threads_after_an_av1_encode_are_not_real_time():
    rosgraph.require_ros()
    if not encoder_available("av1"):
        pytest.skip("no AV1 encoder in this PyAV build")
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         timeout=120, check=True).stdout  # fmt: skip
    assert json.loads(out.strip().splitlines()[-1]) == {}
