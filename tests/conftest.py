"""Suite-wide guard: no test may leave the test process on a real-time scheduling policy.

A thread switched to SCHED_FIFO/SCHED_RR (as some codec libraries do when run as root) passes the
policy on to every thread it creates later, also through glibc's copy of it (kernel and glibc views
are both checked): the DDS threads of the ROS tests then busy-wait at real-time priority and starve
the machine. The guard names the test that did it and restores the policy, so the rest of the run
is unaffected.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _scheduling_unchanged():
    if not hasattr(os, "sched_getscheduler"):
        yield
        return
    from vla.data.video import _thread_scheduling

    pthread = _thread_scheduling()
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    glibc = pthread.get() if pthread else None
    yield
    now, now_param = os.sched_getscheduler(0), os.sched_getparam(0)
    now_glibc = pthread.get() if pthread else None
    if (now, now_param, now_glibc) != (policy, param, glibc):
        if pthread:
            pthread.set(*glibc)
        os.sched_setscheduler(0, policy, param)
        pytest.fail(
            f"the test left the process's main thread on scheduling policy {now} priority "
            f"{now_param.sched_priority}, glibc's copy {now_glibc} (was {policy}, {glibc}); "
            "restore it where the code changes it (see vla.data.video._scheduling_kept)"
        )
