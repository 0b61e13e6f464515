"""`humanoid-manip reset`: both arms to the episode start pose, planned by moveit_py."""
from __future__ import annotations

import importlib.util

from humanoid_manip.commands._args import positive_float

HELP = ("before an episode on the robot: bring both arms to the start pose along a "
        "collision-free path planned with moveit_py, executed as torque requests through the "
        "safety monitor (needs moveit_py and a running robot or sim stack)")


def add_arguments(p) -> None:
    p.add_argument("--enable", action="store_true",
                   help="ask the safety monitor to arm (/safety_monitor/enable) before moving")
    p.add_argument("--tolerance", type=positive_float, default=0.02,
                   help="rad: done when every joint of the path is this close (default 0.02)")
    p.add_argument("--settle-timeout", type=positive_float, default=5.0,
                   help="s after the path's end to reach the tolerance, else exit 1")


def run(args) -> int:
    from humanoid_manip.errors import HumanoidManipError

    if importlib.util.find_spec("moveit") is None:
        raise HumanoidManipError(
            "reset needs moveit_py (MoveIt 2's Python API), which is not installed here: on a "
            "ROS 2 install, apt install ros-$ROS_DISTRO-moveit-py and source it")
    from humanoid_manip.nodes.reset_motion_node import main

    return main(["reset_motion_node", "--ros-args",
                 "-p", f"enable_monitor:={'true' if args.enable else 'false'}",
                 "-p", f"tolerance:={args.tolerance}",
                 "-p", f"settle_timeout_s:={args.settle_timeout}"])
