"""The main() of every node: spin until SIGINT/SIGTERM, then close cleanly, no traceback.

rclpy's own SIGINT handler shuts the context down under whatever callback is running (its next
publish fails) and chains to Python's handler, whose KeyboardInterrupt can land anywhere, even in
a Future's __del__ ("Exception ignored ... Traceback"). Here the handler only sets a flag, the loop
wakes at least every 0.1 s to see it, and the node's close() runs on a live context.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

import rclpy
from rclpy.exceptions import NameValidationException, ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.nodes import LAUNCHER_PID_ENV


def launcher_pid() -> int | None:
    """The `up` that started this node, if one did: should it die (killed, not stopped), its
    nodes, in sessions of their own, would be ended by nothing else."""
    pid = os.environ.get(LAUNCHER_PID_ENV)
    return None if pid is None else int(pid)


def run_node(factory, name: str, args=None) -> int:
    """Build the node with factory(), spin it until a signal or node.finished, then close().

    Returns the exit status: 1 when the node refuses to start (a HumanoidManipError), else 0.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    node = None
    try:
        node = factory()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        launcher = launcher_pid()
        while not stop.is_set() and not getattr(node, "finished", False) and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
            if launcher is not None and os.getppid() != launcher:
                print(f"{name}: the launcher is gone; stopping", file=sys.stderr, flush=True)
                break
    except (HumanoidManipError, ParameterException, NameValidationException) as exc:
        # a refused configuration, or a parameter of the wrong type (`-p seed:=abc`)
        print(f"{name}: error: {exc}", file=sys.stderr, flush=True)
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def take_waiting(sub, callback) -> None:
    """Run `callback` on the messages already waiting for `sub`, oldest first, now.

    rclpy's executor runs ready timers before ready subscriptions, and one message per
    subscription per wait: a tick that must use the newest input takes it itself.
    """
    with sub.handle:
        while (taken := sub.handle.take_message(sub.msg_type, sub.raw)) is not None:
            callback(taken[0])
