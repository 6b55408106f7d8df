"""The shared entry point of the nodes: init rclpy, spin one node, always clean up."""

import signal
import threading

import rclpy
from rclpy.executors import ExternalShutdownException


def run(node_factory, args=None, executor_factory=None):
    """
    Spin the node that node_factory builds until Ctrl-C or an external shutdown.

    rclpy is initialized with args (the command line) before the node is built. The node is
    spun by rclpy.spin, or by the executor that executor_factory returns (e.g. a
    MultiThreadedExecutor). Whatever ends the spin, the node is destroyed and rclpy shut down
    (try_shutdown: a no-op when the context is already shut down).
    """
    rclpy.init(args=args)
    node = node_factory()
    executor = None
    if executor_factory is not None:
        executor = executor_factory()
        executor.add_node(node)
    try:
        if executor is None:
            rclpy.spin(node)
        else:
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError:
        # after Ctrl-C, rclpy may fail to take a message whose handle is going away
        if rclpy.ok():
            raise
    finally:
        # Ctrl-C under ros2 launch arrives twice (terminal and launch): keep cleanup whole
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        node.destroy_node()
        rclpy.try_shutdown()
