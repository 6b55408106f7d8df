"""Every launch file builds its description with the real launch / launch_ros packages."""

from __future__ import annotations

import importlib.util

import pytest
from rosgraph import REPO, require_ros

pytestmark = pytest.mark.ros


@pytest.mark.parametrize("name", ["robot.launch.py", "sim.launch.py", "teleop_record.launch.py"])
def test_launch_file_builds_its_description(name):
    require_ros("launch", "launch_ros")
    from launch import LaunchDescription

    spec = importlib.util.spec_from_file_location(name.replace(".", "_"), REPO / "launch" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ld = module.generate_launch_description()
    assert isinstance(ld, LaunchDescription)
    assert ld.get_launch_arguments()
