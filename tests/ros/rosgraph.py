"""A real ROS 2 graph for tests: rclpy in this process, the nodes in this process or as
subprocesses (``ros2 run`` / ``ros2 launch``), all on a private DDS domain.

Every test process picks a random ROS_DOMAIN_ID and keeps discovery on this host, whatever the
caller's environment says: a test must never reach a real robot's topics.

Without rclpy the tests skip, naming the fix; with VLA_REQUIRE_ROS=1 (what `make test` and CI
set) they fail instead, so a broken ROS set-up cannot pass as "skipped".
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VLA_ROS_SRC = REPO / "ros_ws" / "src" / "vla_ros"
REQUIRE = os.environ.get("VLA_REQUIRE_ROS") == "1"
FIX = "run `make ros` and `source ros_ws/jazzy_env.bash` (or source your ROS 2 install)"

# Private graph: chosen once per test process, before rclpy is initialised anywhere.
os.environ["ROS_DOMAIN_ID"] = str(random.Random(os.getpid() ^ time.time_ns()).randint(1, 100))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.pop("ROS_LOCALHOST_ONLY", None)  # deprecated in Jazzy; the range above replaces it


def require_ros(*modules: str) -> None:
    """Skip (or fail under VLA_REQUIRE_ROS=1) unless rclpy and ``modules`` import."""
    for name in ("rclpy", *modules):
        try:
            __import__(name)
        except ImportError as exc:
            msg = f"{name} does not import ({exc}): {FIX}"
            if REQUIRE:
                pytest.fail(msg)
            pytest.skip(msg)


def wait_for(predicate: Callable[[], object], timeout: float, what: str, poll: float = 0.02):
    """Poll ``predicate`` until it is truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    what = what() if callable(what) else what  # a callable says what it saw at the end
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


class Graph:
    """rclpy initialised (default context: node classes under test create their nodes there),
    with a multi-threaded executor spinning in a background thread. Add nodes with :meth:`add`;
    everything is torn down by :meth:`close`."""

    def __init__(self):
        import rclpy
        from rclpy.executors import MultiThreadedExecutor

        rclpy.init()
        self.context = rclpy.get_default_context()
        # two threads: enough for a service call while a callback blocks (e-stop during
        # inference); more only add rclpy executor overhead that competes for the GIL
        self.executor = MultiThreadedExecutor(num_threads=2)
        self.nodes = []
        self.procs: list[Process] = []
        self.node = self.make_node("test_driver")
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self):
        from rclpy.executors import ExternalShutdownException

        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def make_node(self, name: str):
        import rclpy

        return self.add(rclpy.create_node(name))

    def add(self, node):
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def spawn(self, cmd: list[str], log: Path) -> Process:
        proc = Process(cmd, log)
        self.procs.append(proc)
        return proc

    def close(self):
        for proc in self.procs:
            proc.stop()
        # the spin thread must be out of its wait set before any node is destroyed: destroying
        # one under it raised InvalidHandle ("destruction was requested") in that thread (CI)
        self.executor.shutdown(timeout_sec=10.0)
        self._thread.join(timeout=10.0)
        for node in self.nodes:
            node.destroy_node()
        import rclpy

        rclpy.try_shutdown()  # (not context.try_shutdown: this also renews the default context)


class Process:
    """A ROS process (``ros2 run`` / ``ros2 launch``) with its output in a log file."""

    def __init__(self, cmd: list[str], log: Path):
        self.log = Path(log)
        self._file = open(self.log, "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=self._file, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGINT the process group (what Ctrl-C does), then SIGKILL what is left."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # children that outlived their parent
        except ProcessLookupError:
            pass
        self._file.close()
        return self.proc.returncode


class Lifecycle:
    """get_state / change_state through the node's lifecycle services over DDS."""

    def __init__(self, node, target):
        from lifecycle_msgs.srv import ChangeState, GetState

        self.get = node.create_client(GetState, f"/{target}/get_state")
        self.change = node.create_client(ChangeState, f"/{target}/change_state")

    def _call(self, client, request, timeout=20.0):
        assert client.wait_for_service(timeout_sec=timeout), f"{client.srv_name} not available"
        future = client.call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        assert done.wait(timeout), f"{client.srv_name}: no answer in {timeout} s"
        return future.result()

    def state(self, timeout: float = 20.0) -> str:
        from lifecycle_msgs.srv import GetState

        return self._call(self.get, GetState.Request(), timeout).current_state.label

    def set(self, transition: str) -> bool:
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        req = ChangeState.Request()
        req.transition.id = getattr(Transition, f"TRANSITION_{transition.upper()}")
        return self._call(self.change, req).success


def ros2_run(executable: str, params: dict | None = None, params_file: str | None = None):
    """The command line of ``ros2 run vla_ros <executable>`` with parameter overrides."""
    cmd = ["ros2", "run", "vla_ros", executable, "--ros-args"]
    if params_file:
        cmd += ["--params-file", str(params_file)]
    for key, value in (params or {}).items():
        cmd += ["-p", f"{key}:={_param_text(value)}"]
    return cmd


def _param_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_param_text(v) for v in value) + "]"
    return str(value)
