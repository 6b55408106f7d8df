"""Optional rosbag2 (MCAP) log of the recorder's topics, written with ``rosbags``.

The node hands over the CDR bytes it received (``rclpy.serialization.serialize_message``), so
the log holds exactly what was on the wire and opens in ``ros2 bag info``/Foxglove; tests write
it from ``rosbags``' own serialiser and read it back.
"""

from __future__ import annotations

from pathlib import Path


class McapLog:
    """A rosbag2 folder with one MCAP file; topics are added on first use."""

    def __init__(self, path: str | Path, typestore=None):
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore

        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} exists; rosbag2 needs a new folder (change mcap_path)")
        self._typestore = typestore or get_typestore(Stores.ROS2_HUMBLE)
        self._writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections: dict[str, object] = {}
        self.path = path
        self.messages = 0

    def write(self, topic: str, msgtype: str, stamp_ns: int, cdr: bytes) -> None:
        """Append one serialised message (``msgtype`` like ``sensor_msgs/msg/Image``)."""
        conn = self._connections.get(topic)
        if conn is None:
            if msgtype not in self._typestore.types:
                raise KeyError(f"cannot log {topic}: type {msgtype} unknown to the type store")
            conn = self._writer.add_connection(topic, msgtype, typestore=self._typestore)
            self._connections[topic] = conn
        self._writer.write(conn, int(stamp_ns), bytes(cdr))
        self.messages += 1

    def close(self) -> None:
        self._writer.close()
