"""The robot description (URDF) and the transforms robot_state_publisher would publish, in numpy.

    URDF text --parse_joints--> joints (parent, child, origin, axis, type)
    /joint_states positions --RobotModel.moving_transforms--> (parent, child, 4x4) per joint
                            --RobotModel.link_pose-----------> a link's pose in the root frame

Where ROS has ``robot_state_publisher`` (apt installs), use it; ``robot_state_node`` publishes the
same transforms from this module where it is missing. The Panda's URDF is the one both
simulators load (pybullet_data's ``franka_panda/panda.urdf``), its ``package://`` mesh paths
rewritten to ``file://`` URIs of the meshes beside it so RViz finds them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vla.robot.kinematics import rpy_matrix

SUPPORTED_JOINTS = ("revolute", "continuous", "prismatic", "fixed")


def panda_urdf_path() -> Path:
    """pybullet_data's Panda URDF (the one the simulators load)."""
    try:
        import pybullet_data
    except ImportError as exc:
        raise ImportError(
            "the default robot_description is pybullet_data's Panda URDF: `pip install pybullet`, "
            "or pass the URDF text as the robot_description parameter"
        ) from exc
    return Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"


def resolve_mesh_paths(urdf: str, base_dir: str | Path) -> str:
    """Rewrite ``package://<path>`` and relative mesh file names to ``file://`` URIs under
    ``base_dir``; a mesh that is not there raises naming it."""
    base = Path(base_dir).resolve()

    def absolute(match: re.Match) -> str:
        name = match.group(2)
        if "://" in name and not name.startswith("package://"):
            return match.group(0)  # file://, http://: left as they are
        path = base / name.removeprefix("package://")
        if not path.is_file():
            raise FileNotFoundError(f"URDF mesh {name!r} is not at {path}")
        return f'{match.group(1)}"file://{path}"'

    return re.sub(r'(<mesh\s+filename=)"([^"]+)"', absolute, urdf)


def load_urdf(path: str | Path | None = None) -> str:
    """URDF text of ``path`` (default: the Panda's), mesh paths resolved beside the file."""
    path = Path(path) if path else panda_urdf_path()
    return resolve_mesh_paths(path.read_text(), path.parent)


@dataclass(frozen=True)
class UrdfJoint:
    """One URDF joint: ``origin`` (4, 4) places the child at position 0 in the parent link."""

    name: str
    type: str
    parent: str
    child: str
    origin: np.ndarray
    axis: np.ndarray

    def transform(self, position: float = 0.0) -> np.ndarray:
        """(4, 4) parent -> child transform at joint ``position`` (rad or m)."""
        motion = np.eye(4)
        if self.type in ("revolute", "continuous"):
            motion[:3, :3] = _axis_angle(self.axis, position)
        elif self.type == "prismatic":
            motion[:3, 3] = self.axis * position
        return self.origin @ motion


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def _floats(text: str | None, default: str) -> np.ndarray:
    return np.array([float(v) for v in (text or default).split()])


def parse_joints(urdf: str) -> list[UrdfJoint]:
    """The joints of a URDF, in file order. Raises on a joint type robot_state_node cannot
    move (floating, planar) or a missing parent/child."""
    root = ET.fromstring(urdf)
    joints = []
    for j in root.iter("joint"):
        name, kind = j.get("name"), j.get("type")
        if kind not in SUPPORTED_JOINTS:
            raise ValueError(
                f"URDF joint {name!r} has type {kind!r}; supported: {SUPPORTED_JOINTS}"
            )
        parent, child = j.find("parent"), j.find("child")
        if parent is None or child is None:
            raise ValueError(f"URDF joint {name!r} lacks its <parent> or <child> link")
        origin = j.find("origin")
        t = np.eye(4)
        if origin is not None:
            t[:3, :3] = rpy_matrix(*_floats(origin.get("rpy"), "0 0 0"))
            t[:3, 3] = _floats(origin.get("xyz"), "0 0 0")
        axis_el = j.find("axis")
        axis = _floats(None if axis_el is None else axis_el.get("xyz"), "1 0 0")
        norm = np.linalg.norm(axis)
        axis = axis / norm if norm > 0 else axis
        joints.append(UrdfJoint(name, kind, parent.get("link"), child.get("link"), t, axis))
    return joints


class RobotModel:
    """A URDF's kinematic tree: static and moving transforms, and link poses."""

    def __init__(self, urdf: str):
        self.name = ET.fromstring(urdf).get("name", "")
        self.joints = parse_joints(urdf)
        self._by_child = {j.child: j for j in self.joints}
        parents = {j.parent for j in self.joints} - set(self._by_child)
        if len(parents) != 1:
            raise ValueError(f"URDF needs one root link, found {sorted(parents)}")
        self.root = parents.pop()

    @property
    def moving_joints(self) -> list[str]:
        return [j.name for j in self.joints if j.type != "fixed"]

    def add_fixed_frame(self, parent: str, child: str, transform: np.ndarray) -> None:
        """A frame the URDF lacks (e.g. the tool centre point) rigidly attached to ``parent``."""
        if parent != self.root and parent not in self._by_child:
            raise ValueError(f"no link {parent!r} in the URDF to attach {child!r} to")
        joint = UrdfJoint(f"{child}_joint", "fixed", parent, child, transform, np.zeros(3))
        self.joints.append(joint)
        self._by_child[child] = joint

    def static_transforms(self) -> list[tuple[str, str, np.ndarray]]:
        """(parent, child, 4x4) of every fixed joint: /tf_static."""
        return [(j.parent, j.child, j.origin) for j in self.joints if j.type == "fixed"]

    def moving_transforms(self, positions: dict[str, float]) -> list[tuple[str, str, np.ndarray]]:
        """(parent, child, 4x4) of every moving joint in ``positions``: /tf."""
        return [
            (j.parent, j.child, j.transform(positions[j.name]))
            for j in self.joints
            if j.type != "fixed" and j.name in positions
        ]

    def link_pose(self, link: str, positions: dict[str, float]) -> np.ndarray:
        """(4, 4) pose of ``link`` in the root frame; every moving joint above it must be in
        ``positions``."""
        t = np.eye(4)
        while link != self.root:
            if link not in self._by_child:
                raise KeyError(f"no link {link!r} in the URDF")
            joint = self._by_child[link]
            if joint.type != "fixed" and joint.name not in positions:
                raise KeyError(f"joint {joint.name!r} above {link!r} has no position")
            t = joint.transform(positions.get(joint.name, 0.0)) @ t
            link = joint.parent
        return t
