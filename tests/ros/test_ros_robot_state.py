"""The robot description and TF: the URDF tree against the numpy Panda kinematics, and
robot_state_node on a live graph (/robot_description, transforms, the TCP pose)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from vla.robot.kinematics import (
    PANDA_HOME_Q,
    PANDA_JOINT_LIMITS,
    TCP_OFFSET,
    forward_kinematics,
    joint_frames,
    quat_to_matrix,
)
from vla.ros_core.robot_description import RobotModel, load_urdf, resolve_mesh_paths

ARM = [f"panda_joint{i}" for i in range(1, 8)]
FINGERS = ["panda_finger_joint1", "panda_finger_joint2"]


@pytest.fixture(scope="module")
def urdf():
    return load_urdf()


def panda(urdf) -> RobotModel:
    model = RobotModel(urdf)
    tcp = np.eye(4)
    tcp[2, 3] = TCP_OFFSET
    model.add_fixed_frame("panda_hand", "panda_tcp", tcp)
    return model


def test_urdf_meshes_resolve_to_files(urdf):
    meshes = re.findall(r'<mesh\s+filename="([^"]+)"', urdf)
    assert len(meshes) >= 20 and "package://" not in urdf
    for uri in meshes:
        assert uri.startswith("file:///") and Path(uri[len("file://") :]).is_file(), uri


def test_tf_tree_matches_the_numpy_kinematics(urdf):
    model = panda(urdf)
    assert model.root == "panda_link0" and model.moving_joints == ARM + FINGERS
    rng = np.random.default_rng(0)
    for q in [
        PANDA_HOME_Q,
        *rng.uniform(PANDA_JOINT_LIMITS[:, 0], PANDA_JOINT_LIMITS[:, 1], (8, 7)),
    ]:
        positions = dict(zip(ARM, q, strict=True))
        tcp = model.link_pose("panda_tcp", positions)
        pos, quat = forward_kinematics(q)
        np.testing.assert_allclose(tcp[:3, 3], pos, atol=1e-9)
        np.testing.assert_allclose(tcp[:3, :3], quat_to_matrix(quat), atol=1e-9)
        frames, _ = joint_frames(q)
        for i in range(1, 7):  # link i+1 sits at joint i+1's frame, turned by q[i]
            link = model.link_pose(f"panda_link{i + 1}", positions)
            np.testing.assert_allclose(link[:3, 3], frames[i][:3, 3], atol=1e-9)
            np.testing.assert_allclose(link[:3, 2], frames[i][:3, 2], atol=1e-9)  # the axis


def test_fingers_and_static_frames(urdf):
    model = panda(urdf)
    positions = {**dict(zip(ARM, PANDA_HOME_Q, strict=True)), FINGERS[0]: 0.03, FINGERS[1]: 0.03}
    moving = {child: t for _parent, child, t in model.moving_transforms(positions)}
    assert sorted(moving) == sorted([f"panda_link{i}" for i in range(1, 8)]
                                    + ["panda_leftfinger", "panda_rightfinger"])  # fmt: skip
    np.testing.assert_allclose(moving["panda_leftfinger"][:3, 3], [0, 0.03, 0.0584])
    np.testing.assert_allclose(moving["panda_rightfinger"][:3, 3], [0, -0.03, 0.0584])
    left = model.link_pose("panda_leftfinger", positions)
    right = model.link_pose("panda_rightfinger", positions)
    assert np.linalg.norm(left[:3, 3] - right[:3, 3]) == pytest.approx(0.06)
    statics = {(p, c) for p, c, _ in model.static_transforms()}
    assert {("panda_link7", "panda_link8"), ("panda_hand", "panda_tcp")} <= statics
    assert model.moving_transforms({"panda_joint1": 0.1})[0][:2] == ("panda_link0", "panda_link1")
    with pytest.raises(KeyError, match="'panda_joint7' above 'panda_link7' has no position"):
        model.link_pose("panda_tcp", {"panda_joint1": 0.0})


def test_bad_urdfs_name_the_problem(tmp_path):
    joint = '<joint name="j" type="{}"><parent link="a"/><child link="b"/></joint>'
    with pytest.raises(ValueError, match="'floating'; supported"):
        RobotModel(f'<robot name="r">{joint.format("floating")}</robot>')
    two_roots = joint.format("fixed") + joint.format("fixed").replace('"a"', '"c"').replace(
        '"b"', '"d"'
    )
    with pytest.raises(ValueError, match="one root link"):
        RobotModel(f'<robot name="r">{two_roots}</robot>')
    with pytest.raises(FileNotFoundError, match="meshes/x.obj"):
        resolve_mesh_paths('<mesh filename="package://meshes/x.obj"/>', tmp_path)
    with pytest.raises(ValueError, match="no link 'nowhere'"):
        RobotModel(f'<robot name="r">{joint.format("fixed")}</robot>').add_fixed_frame(
            "nowhere", "tcp", np.eye(4)
        )


def test_robot_state_node_publishes_description_tf_and_tcp_pose(graph, tmp_path):
    from rosgraph import require_ros, ros2_run, wait_for

    require_ros("geometry_msgs", "sensor_msgs")
    from geometry_msgs.msg import PoseStamped, TransformStamped
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String

    try:
        import tf2_msgs  # noqa: F401

        pytest.skip("tf2_msgs is installed: the node publishes /tf (TFMessage) instead")
    except ImportError:
        pass
    node = graph.node
    got = {"tf": {}, "static": {}, "pose": None, "urdf": None}
    latched = QoSProfile(depth=50, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    node.create_subscription(
        String, "/robot_description", lambda m: got.update(urdf=m.data), latched
    )
    node.create_subscription(
        TransformStamped, "/vla/tf_static", lambda m: got["static"].update({m.child_frame_id: m}),
        latched,
    )  # fmt: skip
    node.create_subscription(
        TransformStamped, "/vla/tf", lambda m: got["tf"].update({m.child_frame_id: m}), 100
    )
    node.create_subscription(PoseStamped, "/vla/tcp_pose", lambda m: got.update(pose=m), 10)
    js = node.create_publisher(JointState, "/joint_states", 10)
    proc = graph.spawn(ros2_run("robot_state_node"), tmp_path / "robot_state.log")
    q = PANDA_HOME_Q + 0.1

    def published():
        assert proc.alive(), proc.output()
        msg = JointState(name=ARM + FINGERS, position=[*q, 0.02, 0.02])
        msg.header.stamp.sec = 42
        js.publish(msg)
        return got["pose"] is not None and len(got["tf"]) == 9 and got["urdf"]

    wait_for(published, 60, "robot_state_node's TCP pose and transforms", poll=0.1)
    assert '<robot name="panda"' in got["urdf"] and "file:///" in got["urdf"]
    assert "tf2_msgs is not installed" in proc.output()
    pose = got["pose"]
    assert pose.header.frame_id == "panda_link0" and pose.header.stamp.sec == 42
    pos, quat = forward_kinematics(q)
    p, o = pose.pose.position, pose.pose.orientation
    np.testing.assert_allclose([p.x, p.y, p.z], pos, atol=1e-9)
    np.testing.assert_allclose([o.w, o.x, o.y, o.z], quat, atol=1e-9)
    left = got["tf"]["panda_leftfinger"]
    assert left.header.frame_id == "panda_hand" and left.transform.translation.y == 0.02
    wait_for(lambda: "panda_tcp" in got["static"], 10, "the latched static transforms")
    tcp = got["static"]["panda_tcp"]
    assert tcp.header.frame_id == "panda_hand" and tcp.transform.translation.z == TCP_OFFSET
    bad = JointState(name=ARM, position=[float("nan")] * 7)
    js.publish(bad)
    wait_for(lambda: "non-finite joint position" in proc.output(), 10, "the NaN to be logged")
    assert proc.alive()
