"""The main() of the nodes: spin until SIGINT/SIGTERM, then close cleanly, no traceback.

run_node (teleop and recording nodes): rclpy's own signal handler shuts the context down under
a callback that may be taking a message (a traceback at exit) or, for the recorder, writing a
chunk; here the handler only sets a flag, the loop wakes at least every 0.1 s to see it, and the
node's close() runs on a live context before shutdown. spin_node (sim and policy nodes) keeps
rclpy's handler and swallows the failure a shutdown causes inside a running callback.
"""
from __future__ import annotations

import signal
import sys
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


def spin_node(factory, name: str, args=None) -> int:
    """rclpy's own signal handling, for nodes whose callbacks may run long (a render).

    Returns the exit status: 1 when the node refuses to start (a HumanoidManipError), else 0.
    """
    rclpy.init(args=args)
    node = None
    try:
        node = factory()
        rclpy.spin(node)
    except HumanoidManipError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr, flush=True)
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        # SIGINT shuts the context down under a running callback (a 100 ms render, say), whose
        # next publish then fails: a consequence of the shutdown, not an error to report
        if rclpy.ok():
            raise
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
