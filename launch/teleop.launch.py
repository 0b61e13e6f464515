"""Teleoperation for data collection: sim_node + teleop_node + safety_monitor_node + recorder
(+ robot_state_publisher for /tf).

The nodes and parameters come from config/stack.yaml (stack "teleop"), the same description
`humanoid-manip up teleop` reads. A device driver (keyboard_driver, replay_driver, or any
publisher of the /teleop topics) is started beside it. Example:
    ros2 launch humanoid_manip teleop.launch.py task:=pick_place out:=/data/episodes operator:=ana
    ros2 run humanoid_manip replay_driver --ros-args -p file:=capture.jsonl -p arm_safety:=true
"""
from launch import LaunchDescription  # noqa: I001 - ruff mistakes launch/ for first party

from humanoid_manip.nodes.stack_launch import stack_actions

STACK = "teleop"


def generate_launch_description():
    return LaunchDescription(stack_actions(STACK))
