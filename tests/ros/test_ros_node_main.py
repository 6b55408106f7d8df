"""vla_ros.node_main.run, the nodes' shared main(), driven through the rclpy fake."""

from __future__ import annotations

import sys
from pathlib import Path

import fake_rclpy
import pytest

SRC = Path(__file__).resolve().parents[2] / "ros_ws" / "src"


@pytest.fixture
def node_main(monkeypatch):
    fake_rclpy.install(monkeypatch, SRC)
    import vla_ros.node_main as module

    yield module
    for name in [n for n in sys.modules if n == "vla_ros" or n.startswith("vla_ros.")]:
        del sys.modules[name]


class _Node:
    def __init__(self, calls):
        self.calls = calls
        calls.append("build")

    def destroy_node(self):
        self.calls.append("destroy")


def _record(monkeypatch, module, calls, spin_error=None):
    def spin(node):
        calls.append("spin")
        if spin_error is not None:
            raise spin_error

    monkeypatch.setattr(module.rclpy, "init", lambda args=None: calls.append(("init", args)))
    monkeypatch.setattr(module.rclpy, "spin", spin)
    monkeypatch.setattr(module.rclpy, "try_shutdown", lambda: calls.append("shutdown"))


@pytest.mark.parametrize("error", [None, KeyboardInterrupt(), RuntimeError("external")])
def test_run_spins_then_always_destroys_and_shuts_down(node_main, monkeypatch, error):
    # the fake's ExternalShutdownException is RuntimeError: both end the spin quietly
    calls = []
    _record(monkeypatch, node_main, calls, error)
    node_main.run(lambda: _Node(calls), ["--ros-args"])
    assert calls == [("init", ["--ros-args"]), "build", "spin", "destroy", "shutdown"]


def test_run_cleans_up_and_reraises_other_errors(node_main, monkeypatch):
    calls = []
    _record(monkeypatch, node_main, calls, ValueError("bug"))
    with pytest.raises(ValueError, match="bug"):
        node_main.run(lambda: _Node(calls))
    assert calls[-2:] == ["destroy", "shutdown"]


def test_run_uses_the_given_executor(node_main, monkeypatch):
    calls = []
    _record(monkeypatch, node_main, calls)

    class Executor:
        def add_node(self, node):
            calls.append("add_node")

        def spin(self):
            calls.append("executor.spin")

    node_main.run(lambda: _Node(calls), executor_factory=Executor)
    assert calls == [("init", None), "build", "add_node", "executor.spin", "destroy",
                     "shutdown"]  # fmt: skip
