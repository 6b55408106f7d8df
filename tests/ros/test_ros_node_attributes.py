"""No node of ours may overwrite rclpy's own Node state.

rclpy keeps what the executor waits on in plain attributes of the node (``_services``,
``_subscriptions``, ``_timers``, ...). The policy node once assigned its own list to
``self._services``: the lifecycle services (get_state, change_state) vanished from the wait set,
so `ros2 lifecycle get` and launch's autostart never got an answer. This test reads every
``self.<name> = ...`` in the node classes and fails if ``name`` is something a live rclpy Node or
lifecycle Node already has.
"""

from __future__ import annotations

import ast

import pytest
from rosgraph import VLA_ROS_SRC, require_ros

NODE_FILES = sorted((VLA_ROS_SRC / "vla_ros").glob("*_node.py")) + [
    VLA_ROS_SRC / "vla_ros" / "instruction_action.py"
]


def assigned_self_attributes(path) -> dict[str, list[int]]:
    """{attribute: [line, ...]} for every ``self.attr = ...`` (plain, tuple or augmented)."""
    found: dict[str, list[int]] = {}

    def record(target):
        if isinstance(target, ast.Tuple | ast.List):
            for t in target.elts:
                record(t)
        elif (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
        ):
            found.setdefault(target.attr, []).append(target.lineno)

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                record(target)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            record(node.target)
    return found


@pytest.fixture(scope="module")
def rclpy_node_attributes() -> set[str]:
    require_ros()
    import rclpy
    from rclpy.context import Context
    from rclpy.lifecycle import Node as LifecycleNode
    from rclpy.node import Node

    ctx = Context()
    rclpy.init(context=ctx)
    try:
        plain, lifecycle = Node("probe_a", context=ctx), LifecycleNode("probe_b", context=ctx)
        names = set(vars(plain)) | set(vars(lifecycle)) | set(dir(LifecycleNode))
        plain.destroy_node()
        lifecycle.destroy_node()
    finally:
        ctx.try_shutdown()
    assert "_services" in names and "_timers" in names  # the probe sees rclpy's internals
    return names


@pytest.mark.parametrize("path", NODE_FILES, ids=lambda p: p.name)
def test_nodes_do_not_overwrite_rclpy_node_state(path, rclpy_node_attributes):
    clashes = {
        name: lines
        for name, lines in assigned_self_attributes(path).items()
        if name in rclpy_node_attributes
    }
    assert not clashes, (
        f"{path.name} assigns attributes that rclpy's Node owns (line numbers): {clashes}; "
        "rename them (e.g. a vla_ prefix)"
    )


def test_the_check_catches_the_original_defect(tmp_path, rclpy_node_attributes):
    bad = tmp_path / "bad_node.py"
    bad.write_text(
        "class N:\n    def __init__(self):\n        self._subs, self._services = [], []\n"
    )
    assert "_services" in assigned_self_attributes(bad)
    assert "_services" in rclpy_node_attributes
