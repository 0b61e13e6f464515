"""Teleoperation for data collection: sim_node + teleop_node + safety_monitor_node + recorder.

The nodes and parameters come from config/stack.yaml (stack "teleop"), the same description
`humanoid-manip up teleop` reads. A device driver (keyboard_driver, replay_driver, or any
publisher of the /teleop topics) is started beside it. Example:
    ros2 launch humanoid_manip teleop.launch.py task:=pick_place out:=/data/episodes operator:=ana
    ros2 run humanoid_manip replay_driver --ros-args -p file:=capture.jsonl -p arm_safety:=true
"""
from launch import LaunchDescription  # noqa: I001 - ruff mistakes launch/ for first party
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from humanoid_manip.stack import PACKAGE, ArgRef, load_stack

STACK = "teleop"


def generate_launch_description():
    stack = load_stack(STACK)
    actions = [DeclareLaunchArgument(a.name, default_value=a.text(a.default),
                                     description=a.description) for a in stack.arguments]
    for node in stack.nodes:
        parameters = {}
        for key, value in node.parameters.items():
            if isinstance(value, ArgRef):
                value = ParameterValue(LaunchConfiguration(value.arg),
                                       value_type=stack.argument(value.arg).type)
            parameters[key] = value
        actions.append(Node(package=PACKAGE, executable=node.executable, name=node.name,
                            namespace=LaunchConfiguration("namespace"),
                            parameters=[parameters], output="screen", emulate_tty=True))
    return LaunchDescription(actions)
