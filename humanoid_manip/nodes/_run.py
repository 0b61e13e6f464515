"""The main() of the teleop and recording nodes: spin until SIGINT/SIGTERM, then close cleanly.

rclpy's own signal handler shuts the context down under a callback that may be taking a
message (a traceback at exit) or, for the recorder, writing a chunk; here the handler only sets
a flag, the loop wakes at least every 0.1 s to see it, and the node's close() runs on a live
context before shutdown.
"""
from __future__ import annotations

import signal
import threading

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from humanoid_manip.errors import HumanoidManipError


def run_node(factory, name: str, args=None) -> None:
    """Build the node with factory(), spin it until a signal or node.finished, then close()."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    node = None
    try:
        node = factory()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while not stop.is_set() and not getattr(node, "finished", False) and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except HumanoidManipError as exc:
        print(f"{name}: error: {exc}", flush=True)
        raise SystemExit(2) from None
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        rclpy.try_shutdown()
