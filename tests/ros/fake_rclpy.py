"""A minimal in-memory stand-in for the parts of the rclpy API the nodes use. NOT rclpy.

It lets tests drive the real node classes here (callbacks, timers, services, lifecycle
transitions) and catch wiring errors in the adapters; message classes are the real ROS 2
definitions from the rosbags type store. Behaviour of the real middleware (QoS matching,
executors, discovery) is checked on a live graph by test_ros_policy_node_graph.py and friends.
"""

from __future__ import annotations

import enum
import sys
import types as pytypes
from types import SimpleNamespace

from rosbags.typesys import Stores, get_typestore

STORE = get_typestore(Stores.ROS2_HUMBLE)
PARAM_OVERRIDES: dict[str, object] = {}  # what a params file / launch file would set


class Clock:
    def __init__(self):
        self.ns = 1_000_000_000

    def now(self):
        return SimpleNamespace(nanoseconds=self.ns)


class Logger:
    def __init__(self):
        self.lines: list[tuple[str, str]] = []

    def _log(self, level, msg, **_):
        self.lines.append((level, str(msg)))

    def info(self, msg, **kw):
        self._log("info", msg, **kw)

    def warn(self, msg, **kw):
        self._log("warn", msg, **kw)

    def error(self, msg, **kw):
        self._log("error", msg, **kw)


class Publisher:
    def __init__(self, msg_type, topic, lifecycle=False):
        self.msg_type, self.topic, self.lifecycle = msg_type, topic, lifecycle
        self.active = not lifecycle
        self.messages: list = []

    def publish(self, msg):
        if self.active:  # an inactive lifecycle publisher drops messages
            self.messages.append(msg)


class Timer:
    def __init__(self, period, callback):
        self.period, self.callback = period, callback


class Node:
    """The subset of rclpy.node.Node the nodes call, recording everything."""

    def __init__(self, name, **_):
        self.name = name
        self.params: dict[str, object] = {}
        self.pubs: dict[str, Publisher] = {}
        self.subs: dict[str, tuple] = {}
        self.services: dict[str, object] = {}
        self.timers: list[Timer] = []
        self.clock = Clock()
        self.logger = Logger()
        self.destroyed = False

    def declare_parameter(self, name, default, descriptor=None):
        if name in self.params:
            raise RuntimeError(f"parameter {name} declared twice")
        self.params[name] = PARAM_OVERRIDES.get(name, default)
        return SimpleNamespace(value=self.params[name])

    def get_parameter(self, name):
        return SimpleNamespace(value=self.params[name])

    def create_publisher(self, msg_type, topic, qos):
        self.pubs[topic] = Publisher(msg_type, topic)
        return self.pubs[topic]

    def create_subscription(self, msg_type, topic, callback, qos, **_):
        self.subs[topic] = (msg_type, callback)
        return topic

    def create_timer(self, period, callback, **_):
        timer = Timer(period, callback)
        self.timers.append(timer)
        return timer

    def create_service(self, srv_type, name, callback, **_):
        self.services[name] = callback
        return name

    def destroy_timer(self, timer):
        self.timers.remove(timer)

    def destroy_subscription(self, topic):
        self.subs.pop(topic)

    def destroy_service(self, name):
        self.services.pop(name)

    def destroy_node(self):
        self.destroyed = True

    def get_clock(self):
        return self.clock

    def get_logger(self):
        return self.logger


class TransitionCallbackReturn(enum.Enum):
    SUCCESS = 1
    FAILURE = 2
    ERROR = 3


class LifecycleNode(Node):
    def create_lifecycle_publisher(self, msg_type, topic, qos):
        self.pubs[topic] = Publisher(msg_type, topic, lifecycle=True)
        return self.pubs[topic]

    def destroy_lifecycle_publisher(self, pub):
        self.pubs.pop(pub.topic)

    def on_activate(self, state):
        for pub in self.pubs.values():
            pub.active = True
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state):
        for pub in self.pubs.values():
            if pub.lifecycle:
                pub.active = False
        return TransitionCallbackReturn.SUCCESS

    def trigger_configure(self):
        return self.on_configure(None)

    def trigger_activate(self):
        return self.on_activate(None)

    def trigger_deactivate(self):
        return self.on_deactivate(None)

    def trigger_cleanup(self):
        return self.on_cleanup(None)

    def trigger_shutdown(self):
        return self.on_shutdown(None)


class ActionClient:
    def __init__(self, node, action_type, name):
        self.name, self.goals = name, []

    def server_is_ready(self):
        return True

    def send_goal_async(self, goal):
        self.goals.append(goal)

    def destroy(self):
        pass


class ActionServer:
    def __init__(self, node, action_type, name, **callbacks):
        self.name, self.callbacks = name, callbacks

    def destroy(self):
        pass


def _msg_module(pkg: str, kind: str = "msg") -> pytypes.ModuleType:
    mod = pytypes.ModuleType(f"{pkg}.{kind}")
    prefix = f"{pkg}/{kind}/"
    for full, cls in STORE.types.items():
        if full.startswith(prefix):
            setattr(mod, full[len(prefix) :], cls)
    return mod


def _action(name: str, **parts) -> type:
    return type(name, (), {k: type(k, (), {"__init__": v}) for k, v in parts.items()})


def _gripper_goal(self):
    self.command = SimpleNamespace(position=0.0, max_effort=0.0)


def modules() -> dict[str, pytypes.ModuleType]:
    """Every module name the nodes import, mapped to its fake."""
    mods: dict[str, pytypes.ModuleType] = {}

    def mod(name, **attrs):
        m = pytypes.ModuleType(name)
        m.__dict__.update(attrs)
        mods[name] = m
        return m

    def _shutdown():
        return None

    def qos_profile(**kw):
        return SimpleNamespace(**kw)

    policies = {n: enum.Enum(n, "KEEP_LAST KEEP_ALL RELIABLE BEST_EFFORT VOLATILE TRANSIENT_LOCAL")
                for n in ("HistoryPolicy", "ReliabilityPolicy", "DurabilityPolicy")}  # fmt: skip
    mod("rclpy", init=lambda args=None: None, try_shutdown=_shutdown, ok=lambda: True,
        spin=lambda node: None)  # fmt: skip
    mod("rclpy.node", Node=Node)
    mod("rclpy.lifecycle", Node=LifecycleNode, State=object,
        TransitionCallbackReturn=TransitionCallbackReturn)  # fmt: skip
    mod("rclpy.qos", QoSProfile=qos_profile, qos_profile_sensor_data=qos_profile(depth=5),
        **policies)  # fmt: skip
    mod("rclpy.executors", ExternalShutdownException=RuntimeError, MultiThreadedExecutor=object)
    mod("rclpy.callback_groups", MutuallyExclusiveCallbackGroup=object,
        ReentrantCallbackGroup=object)  # fmt: skip
    mod("rclpy.action", ActionClient=ActionClient, ActionServer=ActionServer,
        CancelResponse=enum.Enum("CancelResponse", "ACCEPT REJECT"),
        GoalResponse=enum.Enum("GoalResponse", "ACCEPT REJECT"))  # fmt: skip
    mod("rclpy.serialization", serialize_message=lambda m: STORE.serialize_cdr(m, m.__msgtype__))
    for pkg in ("std_msgs", "sensor_msgs", "trajectory_msgs", "geometry_msgs",
                "builtin_interfaces"):  # fmt: skip
        mods[f"{pkg}.msg"] = _msg_module(pkg)
        mod(pkg)
    mod("std_srvs")
    mod("std_srvs.srv", Trigger=object)
    mod("control_msgs")
    mod("control_msgs.action", GripperCommand=_action("GripperCommand", Goal=_gripper_goal))
    mod("vla_interfaces")
    mod("vla_interfaces.action", FollowInstruction=_action(
        "FollowInstruction", Goal=lambda self, **kw: self.__dict__.update(kw),
        Result=lambda self, **kw: self.__dict__.update(kw),
        Feedback=lambda self, **kw: self.__dict__.update(kw)))  # fmt: skip
    return mods


def install(monkeypatch, ros_ws_src) -> None:
    """Put the fakes into sys.modules (restored after the test) and the vla_ros sources first
    on sys.path; drop any vla_ros modules imported against other rclpy modules."""
    for name, module in modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    for name in [n for n in sys.modules if n == "vla_ros" or n.startswith("vla_ros.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(ros_ws_src / "vla_ros"))
    PARAM_OVERRIDES.clear()
