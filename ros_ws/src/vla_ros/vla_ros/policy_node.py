"""
Lifecycle policy node: cameras + joint states + instruction -> safe arm commands.

    /camera/<name>/image_raw (Image | CompressedImage, sensor-data QoS) --+
    /joint_states (JointState, re-indexed by name) ----------------------+--> PolicyLoop.tick()
    /vla/instruction (String)  /vla/heartbeat (Empty)  /vla/estop (Bool) -+   (control timer)
                                                                              |
    JointTrajectory | Float64MultiArray | TwistStamped  (+ gripper: Float64 topic or
    control_msgs/GripperCommand action); dry_run: the same under /vla/dry_run/...;
    /vla/status (String JSON, latched); /diagnostics (diagnostic_msgs, 1 Hz: lifecycle, safety,
    camera -> command latency); services ~/estop and ~/reset_estop (std_srvs/Trigger);
    action ~/follow_instruction (vla_interfaces/FollowInstruction: feedback, cancel)

Every callback is guarded: bad input (a NaN joint, an undecodable image, an empty instruction)
is one log line and a hold, never an exception into the executor.

Lifecycle: configure = load + warm up the policy (in-process or policy server); activate = start
the control timer; deactivate = hold position and stop; cleanup = release the policy.
"""

from control_msgs.action import GripperCommand
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.action import ActionClient
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.lifecycle import Node, State, TransitionCallbackReturn
from rclpy.qos import qos_profile_sensor_data
from std_msgs.msg import Bool, Empty, Float64, String
from std_srvs.srv import Trigger

from vla.ros_core import messages
from vla.ros_core.node_configs import PolicyNodeConfig
from vla.ros_core.policy_loop import PolicyLoop, warmup_observation
from vla.ros_core.scheduling import LatencyStats
from vla_ros.instruction_action import InstructionActionServer
from vla_ros.node_main import run
from vla_ros.ros_glue import COMMAND_QOS, declare_config, LATCHED_QOS, message_types, now_ns
from vla_ros.ros_glue import decode_image, read_config, read_joint_state, to_json


def load_policy(cfg):
    """Load the in-process Policy, or connect to the policy server when policy_host is set."""
    if cfg.policy_host:
        from vla.serving.client import PolicyClient

        return PolicyClient(cfg.policy_host, cfg.policy_port, token=cfg.policy_token or None)
    import torch

    from vla.policy import Policy

    device = cfg.device
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    return Policy.from_pretrained(cfg.policy_path, device=device)


class PolicyNode(Node):
    """Thin lifecycle adapter over vla.ros_core.policy_loop.PolicyLoop."""

    def __init__(self):
        super().__init__('vla_policy_node')
        self.cfg = declare_config(self, PolicyNodeConfig)
        self.types = message_types()
        self.policy = None
        self.loop = None
        self.timer = None
        self._subs, self._srvs, self._pubs = [], [], []
        self.gripper_action = None
        self.instruction_server = None
        self.commands_sent = 0
        self._last_gripper = None
        self._last_status = None
        self.latency = None
        self.config_error = ''  # why the last configure failed (diagnostics, status)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.diag_timer = self.create_timer(1.0, self._publish_diagnostics)

    # ---- lifecycle ------------------------------------------------------------------------
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            # re-read: `ros2 param set` between cleanup and configure takes effect
            self.cfg = cfg = read_config(self, PolicyNodeConfig)
            self.policy = load_policy(cfg)
            meta = dict(self.policy.metadata)
            self.loop = PolicyLoop(cfg, self.policy.act, meta)
            for _ in range(cfg.warmup_steps):
                self.policy.act(warmup_observation(meta))
            self.policy.reset()
        except Exception as exc:  # noqa: BLE001 (report any load failure as a failed transition)
            self.config_error = f'configure failed: {exc}'
            self.get_logger().error(f'{self.config_error} (fix the parameters, then configure)')
            self.policy = self.loop = None
            self._publish_diagnostics()
            return TransitionCallbackReturn.FAILURE
        self.config_error = ''
        self.latency = LatencyStats(late_after_ns=int(cfg.period_s * 1e9))
        self.loop.enabled = False
        self._make_interfaces()
        self.get_logger().info(f'policy ready: {meta.get("camera_keys")} @ {cfg.control_rate} Hz')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self.loop.enabled = True
        self.timer = self.create_timer(
            self.cfg.period_s, self._on_tick, callback_group=MutuallyExclusiveCallbackGroup()
        )
        return super().on_activate(state)  # activates the lifecycle publishers

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._stop_timer()
        self.loop.enabled = False
        self._on_tick()  # the loop sees "not active" and publishes one hold
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        if self.loop is not None and self.loop.enabled:
            self._stop_timer()
            self.loop.enabled = False
            self._on_tick()  # hold before going away
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _stop_timer(self):
        if self.timer is not None:
            self.destroy_timer(self.timer)
            self.timer = None

    def _release(self):
        self._stop_timer()
        for sub in self._subs:
            self.destroy_subscription(sub)
        for srv in self._srvs:
            self.destroy_service(srv)
        for pub in self._pubs:
            self.destroy_lifecycle_publisher(pub)
        self._subs, self._srvs, self._pubs = [], [], []
        if self.gripper_action is not None:
            self.gripper_action.destroy()
            self.gripper_action = None
        if self.instruction_server is not None:
            self.instruction_server.destroy()
            self.instruction_server = None
        if hasattr(self.policy, 'close'):
            self.policy.close()
        self.policy = None
        self.loop = None

    # ---- interfaces -----------------------------------------------------------------------
    def _make_interfaces(self):
        cfg = self.cfg
        prefix = cfg.dry_run_namespace if cfg.safety.dry_run else ''
        topic, msg_type = {
            'joint_trajectory': (cfg.trajectory_topic, self.types.JointTrajectory),
            'forward_position': (cfg.forward_command_topic, self.types.Float64MultiArray),
            'twist': (cfg.twist_topic, self.types.TwistStamped),
        }[cfg.command_interface]
        self.cmd_pub = self.create_lifecycle_publisher(msg_type, prefix + topic, COMMAND_QOS)
        self.gripper_pub = None
        if cfg.gripper_interface == 'topic' or cfg.safety.dry_run:
            self.gripper_pub = self.create_lifecycle_publisher(
                Float64, prefix + cfg.gripper_topic, COMMAND_QOS
            )
        else:
            self.gripper_action = ActionClient(self, GripperCommand, cfg.gripper_action)
        self.status_pub = self.create_lifecycle_publisher(String, cfg.status_topic, LATCHED_QOS)
        self._pubs = [p for p in (self.cmd_pub, self.gripper_pub, self.status_pub) if p]
        subs = self._subs
        # Three callback groups, one executor thread each at most: sensor data (images, joints),
        # the operator (heartbeat, e-stop, instruction, e-stop services) and the control timer.
        # A backlog of frames must never delay a heartbeat or an e-stop, nor the reverse.
        sensors, operator = MutuallyExclusiveCallbackGroup(), MutuallyExclusiveCallbackGroup()
        for name, topic in zip(cfg.camera_names, cfg.camera_topics, strict=True):
            if cfg.compressed_images:
                subs.append(
                    self.create_subscription(
                        self.types.CompressedImage,
                        topic + '/compressed',
                        lambda m, n=name: self._on_image(n, m, True),
                        qos_profile_sensor_data,
                        callback_group=sensors,
                    )
                )
            else:
                subs.append(
                    self.create_subscription(
                        self.types.Image,
                        topic,
                        lambda m, n=name: self._on_image(n, m, False),
                        qos_profile_sensor_data,
                        callback_group=sensors,
                    )
                )
        subs.append(
            self.create_subscription(
                self.types.JointState,
                cfg.joint_states_topic,
                self._on_joints,
                qos_profile_sensor_data,
                callback_group=sensors,
            )
        )
        subs.append(
            self.create_subscription(
                String,
                cfg.instruction_topic,
                self._on_instruction,
                COMMAND_QOS,
                callback_group=operator,
            )
        )
        subs.append(
            self.create_subscription(
                Empty,
                cfg.heartbeat_topic,
                lambda _: self.loop.heartbeat(now_ns(self)),
                COMMAND_QOS,
                callback_group=operator,
            )
        )
        subs.append(
            self.create_subscription(
                Bool, cfg.estop_topic, self._on_estop, COMMAND_QOS, callback_group=operator
            )
        )
        self._srvs = [
            self.create_service(Trigger, '~/estop', self._srv_estop, callback_group=operator),
            self.create_service(
                Trigger, '~/reset_estop', self._srv_reset, callback_group=operator
            ),
        ]
        self.instruction_server = InstructionActionServer(self)

    # ---- callbacks ------------------------------------------------------------------------
    def _on_image(self, camera, msg, compressed):
        frame = decode_image(self, camera, msg, compressed)
        if frame is not None:
            self.loop.set_image(camera, *frame)

    def _on_joints(self, msg):
        state = read_joint_state(self, msg, self.cfg.joint_names, self.cfg.finger_joint_names)
        if state is not None:
            try:
                self.loop.set_joint_state(*state)
            except ValueError as exc:  # non-finite: the loop holds until a good one arrives
                self.get_logger().error(str(exc), throttle_duration_sec=5.0)

    def _on_instruction(self, msg):
        if not msg.data.strip():
            self.loop.clear_instruction()
            self.get_logger().warn(
                f'empty instruction on {self.cfg.instruction_topic}: holding until a '
                'non-empty one arrives'
            )
            return
        self.loop.set_instruction(msg.data)

    def _on_estop(self, msg):
        if msg.data:
            self.loop.e_stop('e-stop topic')

    def _srv_estop(self, request, response):
        self.loop.e_stop('e-stop service')
        response.success, response.message = True, 'e-stop latched'
        return response

    def _srv_reset(self, request, response):
        response.success, response.message = self.loop.reset_estop(now_ns(self))
        return response

    def _on_tick(self):
        loop = self.loop
        try:
            if loop.new_episode:
                self.policy.reset()
                loop.new_episode = False
                self._last_gripper = None  # the robot may have been reset: re-send the gripper
            out = loop.tick(now_ns(self))
        except Exception as exc:  # noqa: BLE001 (a failing policy latches the e-stop)
            self.get_logger().error(f'control tick failed, e-stop latched: {exc}')
            loop.e_stop(f'policy error: {exc}')
            out = loop.hold(loop.safety.check(now_ns(self), {}, None))
        try:
            if out.kind != 'none':
                self._publish(out)
            status = to_json(loop.status())
            if status != self._last_status:
                self.status_pub.publish(String(data=status))
                self._last_status = status
        except Exception as exc:  # noqa: BLE001 (never raise into the executor)
            self.get_logger().error(f'publishing failed: {exc}', throttle_duration_sec=1.0)

    def _publish_diagnostics(self):
        loop, name = self.loop, self.get_name()
        state = self._state_machine.current_state[1]
        if loop is None:
            level = 'error' if self.config_error else 'ok'
            statuses = [(f'{name}: lifecycle', name, level, self.config_error or state,
                         {'state': state})]  # fmt: skip
        else:
            st = loop.status()
            level = {'ok': 'ok', 'hold': 'warn', 'estop': 'error'}[st['state']]
            if state != 'active':
                level = 'ok'  # holding is what an inactive node is meant to do
            statuses = [
                (f'{name}: lifecycle', name, 'ok', state, {'state': state}),
                (f'{name}: safety', name, level, st['reason'], st),
                (f'{name}: latency', name, 'ok', 'camera stamp -> command publish',
                 {**self.latency.summary(), 'missed_periods': st['missed_periods']}),
            ]  # fmt: skip
        try:
            msg = messages.diagnostic_array_msg(self.types, now_ns(self), statuses)
            self.diag_pub.publish(msg)
        except Exception as exc:  # noqa: BLE001 (diagnostics must not take the node down)
            self.get_logger().error(f'diagnostics failed: {exc}', throttle_duration_sec=5.0)

    def _publish(self, out):
        cfg, types, stamp = self.cfg, self.types, now_ns(self)
        if out.kind == 'hold':
            self._last_gripper = None  # after a stop, the next command states the gripper again
        self._publish_gripper(out.gripper_closed)  # first: the arm command closes the period
        if cfg.command_interface == 'joint_trajectory':
            msg = messages.joint_trajectory_msg(
                types, stamp, cfg.joint_names, out.trajectory, cfg.period_s
            )
        elif cfg.command_interface == 'forward_position':
            msg = messages.float64_multiarray_msg(types, out.q)
        else:
            msg = messages.twist_stamped_msg(types, stamp, out.twist, cfg.twist_frame)
        self.cmd_pub.publish(msg)
        self.commands_sent += out.kind == 'command'
        if out.obs_stamp_ns is not None:
            self.latency.add(now_ns(self) - out.obs_stamp_ns)

    def _publish_gripper(self, closed):
        if closed is None or closed == self._last_gripper:
            return
        self._last_gripper = closed
        cfg = self.cfg
        pos = cfg.gripper_closed_position if closed else cfg.gripper_open_position
        if self.gripper_pub is not None:
            self.gripper_pub.publish(Float64(data=pos))
        elif self.gripper_action.server_is_ready():
            goal = GripperCommand.Goal()
            goal.command.position = pos
            goal.command.max_effort = cfg.gripper_max_effort
            self.gripper_action.send_goal_async(goal)


def main(args=None):
    """
    Run the PolicyNode until Ctrl-C or shutdown.

    A single-threaded executor: rclpy's multi-threaded one spent a whole core of Python overhead
    on 100 Hz joint states and took the GIL from the inference (camera -> command latency p50
    ~1.2 s instead of ~0.13 s on 2 cores). Frames and joint states that arrive during inference
    wait in their queues; the tick uses the newest.
    """
    run(PolicyNode, args)


if __name__ == '__main__':
    main()
