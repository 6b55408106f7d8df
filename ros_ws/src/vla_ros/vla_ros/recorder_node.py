"""
Recorder node: synchronised teleoperation episodes into a LeRobot v3 dataset.

    cameras (Image | CompressedImage) --+
    /joint_states ----------------------+--> EpisodeRecorder.sample() at `fps` --> DatasetWriter
    command (trajectory | forward | twist) + gripper + /vla/instruction --^
    controls: /vla/recorder/control (String: start | stop | discard) or the services
              ~/start, ~/stop, ~/discard (std_srvs/Trigger); status on ~/status (latched)
    optional: every subscribed message into a rosbag2 MCAP log (mcap_path)
"""

import signal
import threading

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import serialize_message
from std_msgs.msg import Float64, String
from std_srvs.srv import Trigger

from vla.ros_core import messages
from vla.ros_core.node_configs import RecorderConfig
from vla.ros_core.recording import EpisodeRecorder
from vla_ros.node_main import run
from vla_ros.ros_glue import COMMAND_QOS, declare_config, LATCHED_QOS, message_types, now_ns
from vla_ros.ros_glue import decode_image, read_joint_state, to_json


def open_writer(cfg):
    """Create the dataset folder, or append to it when it already holds a dataset."""
    from pathlib import Path

    from vla.data import DatasetWriter, default_features
    from vla.constants import OBS_IMAGES_PREFIX

    root = Path(cfg.dataset_root)
    if root.exists() and any(root.iterdir()):
        return DatasetWriter.resume(root)
    features = default_features(
        image_size=(cfg.image_height, cfg.image_width),
        fps=cfg.fps,
        image_keys=tuple(OBS_IMAGES_PREFIX + c for c in cfg.camera_names),
    )
    return DatasetWriter(root, fps=cfg.fps, features=features, robot_type=cfg.robot_type)


class RecorderNode(Node):
    """Thin adapter over vla.ros_core.recording.EpisodeRecorder."""

    def __init__(self):
        super().__init__('vla_recorder')
        self.cfg = cfg = declare_config(self, RecorderConfig)
        self.types = types = message_types()
        self.recorder = EpisodeRecorder(cfg, lambda: open_writer(cfg))
        self.mcap = None
        if cfg.mcap_path:
            from vla.ros_core.mcap_log import McapLog

            self.mcap = McapLog(cfg.mcap_path)
        for name, topic in zip(cfg.camera_names, cfg.camera_topics, strict=True):
            if cfg.compressed_images:
                self._sub(
                    types.CompressedImage,
                    topic + '/compressed',
                    lambda m, n=name: self._on_image(n, m, True),
                    qos_profile_sensor_data,
                )
            else:
                self._sub(
                    types.Image,
                    topic,
                    lambda m, n=name: self._on_image(n, m, False),
                    qos_profile_sensor_data,
                )
        self._sub(
            types.JointState, cfg.joint_states_topic, self._on_joints, qos_profile_sensor_data
        )
        command = {
            'joint_trajectory': (types.JointTrajectory, cfg.trajectory_topic, self._on_traj),
            'forward_position': (
                types.Float64MultiArray,
                cfg.forward_command_topic,
                self._on_forward,
            ),
            'twist': (types.TwistStamped, cfg.twist_topic, self._on_twist),
        }[cfg.command_interface]
        self._sub(command[0], command[1], command[2], COMMAND_QOS)
        self._sub(
            Float64,
            cfg.gripper_topic,
            lambda m: self._feed(self.recorder.set_gripper_command, m.data),
            COMMAND_QOS,
        )
        self._sub(
            String,
            cfg.instruction_topic,
            lambda m: self.recorder.set_instruction(m.data),
            COMMAND_QOS,
        )
        self.create_subscription(String, cfg.control_topic, self._on_control, COMMAND_QOS)
        for word in ('start', 'stop', 'discard'):
            self.create_service(Trigger, f'~/{word}', lambda req, res, w=word: self._srv(w, res))
        self.status_pub = self.create_publisher(String, '~/status', LATCHED_QOS)
        self.create_timer(1.0 / cfg.fps, self._on_sample)
        self.create_timer(1.0, self._publish_status)
        self.get_logger().info(
            f'recording {cfg.camera_topics} + {cfg.joint_states_topic} + {command[1]} at '
            f'{cfg.fps:g} Hz into {cfg.dataset_root}; start/stop with ~/start, ~/stop, '
            f'~/discard or {cfg.control_topic}'
        )

    def _sub(self, msg_type, topic, callback, qos):
        """Subscribe; with an MCAP log, also log each message as received."""
        if self.mcap is None:
            return self.create_subscription(msg_type, topic, callback, qos)
        ros_type = msg_type.__module__.split('.')[0] + '/msg/' + msg_type.__name__

        def logged(msg):
            self.mcap.write(topic, ros_type, now_ns(self), serialize_message(msg))
            callback(msg)

        return self.create_subscription(msg_type, topic, logged, qos)

    def _on_image(self, camera, msg, compressed):
        frame = decode_image(self, camera, msg, compressed)
        if frame is not None:
            self.recorder.set_image(camera, *frame)

    def _on_joints(self, msg):
        state = read_joint_state(self, msg, self.cfg.joint_names, self.cfg.finger_joint_names)
        if state is not None:
            self._feed(self.recorder.set_joint_state, *state)

    def _on_traj(self, msg):
        names, positions, _ = messages.trajectory_targets(msg)
        if len(positions):
            try:
                order = [names.index(n) for n in self.cfg.joint_names]
            except ValueError:
                self.get_logger().error(
                    f'trajectory joints {names} lack some of {self.cfg.joint_names}; dropped',
                    throttle_duration_sec=5.0,
                )
                return
            self._feed(self.recorder.set_joint_command, positions[0][order], now_ns(self))

    def _on_forward(self, msg):
        self._feed(self.recorder.set_joint_command, list(msg.data), now_ns(self))

    def _on_twist(self, msg):
        self._feed(self.recorder.set_twist_command, messages.twist_to_array(msg), now_ns(self))

    def _feed(self, setter, *args):
        """Hand a stream's value to the recorder; a bad one is logged (throttled) and dropped."""
        try:
            setter(*args)
        except ValueError as exc:
            self.get_logger().error(str(exc), throttle_duration_sec=5.0)

    def _on_control(self, msg):
        ok, text = self.recorder.control(msg.data)
        (self.get_logger().info if ok else self.get_logger().warn)(text)
        self._publish_status()

    def _srv(self, word, response):
        response.success, response.message = self.recorder.control(word)
        self._publish_status()
        return response

    def _on_sample(self):
        self.recorder.sample(now_ns(self))

    def _publish_status(self):
        self.status_pub.publish(String(data=to_json(self.recorder.status(now_ns(self)))))

    def destroy_node(self):
        """Finalize the dataset (merge its files), then destroy the node."""
        # Ctrl-C under `ros2 launch` reaches this process twice (the terminal signals the whole
        # process group, launch forwards it): a second SIGINT must not cut the merge short.
        # (A kill mid-merge would still lose no saved episode: see vla.data.writer.)
        previous = {}
        if threading.current_thread() is threading.main_thread():  # signals: main thread only
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, signal.SIG_IGN)
        try:
            self.get_logger().info(self.recorder.finalize())
            if self.mcap is not None:
                self.mcap.close()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        super().destroy_node()


def main(args=None):
    """Run the RecorderNode until Ctrl-C or shutdown."""
    run(RecorderNode, args)


if __name__ == '__main__':
    main()
