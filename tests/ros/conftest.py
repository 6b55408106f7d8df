"""Shared fixtures of the ROS tests: the rosbags ROS 2 type store and CDR round trips."""

from __future__ import annotations

import pytest
import rosgraph  # noqa: F401 (sets the private ROS_DOMAIN_ID before anything starts rclpy)
from rosbags.typesys import Stores, get_typestore

from vla.ros_core.messages import MessageTypes


@pytest.fixture(scope="session")
def typestore():
    return get_typestore(Stores.ROS2_HUMBLE)


@pytest.fixture(scope="session")
def types(typestore) -> MessageTypes:
    return MessageTypes.from_rosbags(typestore)


@pytest.fixture(scope="session")
def roundtrip(typestore):
    """Serialise a message to CDR bytes and back, as it would cross the wire."""

    def run(msg):
        cdr = typestore.serialize_cdr(msg, msg.__msgtype__)
        assert isinstance(bytes(cdr), bytes) and len(cdr) > 4
        return typestore.deserialize_cdr(cdr, msg.__msgtype__)

    return run


@pytest.fixture
def graph():
    """A live ROS 2 graph (rosgraph.Graph) on a private domain; skips without rclpy."""

    rosgraph.require_ros()
    g = rosgraph.Graph()
    yield g
    g.close()


def pytest_collection_modifyitems(config, items):
    """Tests on a live graph get a hard time limit that also breaks a deadlock in C code (the
    thread method dumps every thread's stack and ends the run): a hung DDS call must fail CI
    quickly and say where, not hold it for its whole budget."""
    for item in items:
        if "graph" in getattr(item, "fixturenames", ()) or "test_ros_launch" in item.nodeid:
            item.add_marker(pytest.mark.timeout(300, method="thread"))
            # Real DDS and real clocks on 2 shared cores: an executor backlog can delay a
            # message past a deadline the test checks. A failure must repeat to count; pytest
            # reports each rerun ("R"), so a flaky test stays visible.
            item.add_marker(pytest.mark.flaky(reruns=2))
