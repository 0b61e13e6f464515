"""A config/stack.yaml stack as ROS 2 launch actions, for launch/*.launch.py.

The one place the stack description becomes launch_ros Nodes, so that sim, hardware, teleop and
bringup launch files cannot drift from each other or from `humanoid-manip up` (which reads the
same description through humanoid_manip/stack.py). It imports ROS 2's `launch` and `launch_ros`
(not on PyPI; a ROS 2 install has them), so it sits with the other ROS code under nodes/ and only
launch files import it; like them it needs nothing beyond PyYAML (no numpy, no MuJoCo), since
`ros2 launch` runs in the ROS install's own Python.
"""
from __future__ import annotations

from pathlib import Path

from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from humanoid_manip import paths
from humanoid_manip.ros_description import urdf_path
from humanoid_manip.stack import ArgRef, DescriptionRef, Stack, load_stack


def argument_actions(stack: Stack, skip: tuple[str, ...] = ()) -> list:
    """DeclareLaunchArgument for every stack argument (with this stack's defaults)."""
    return [DeclareLaunchArgument(a.name, default_value=a.text(a.default),
                                  description=a.description)
            for a in stack.arguments if a.name not in skip]


def node_actions(stack: Stack) -> list:
    """A launch_ros Node per stack node, parameters typed as the stack declares them."""
    actions = []
    for node in stack.nodes:
        parameters = {}
        for key, value in node.parameters.items():
            if isinstance(value, ArgRef):
                value = ParameterValue(LaunchConfiguration(value.arg),
                                       value_type=stack.argument(value.arg).type)
            elif isinstance(value, DescriptionRef):
                value = value.read()
            parameters[key] = value
        condition = IfCondition(LaunchConfiguration(node.condition)) if node.condition else None
        actions.append(Node(package=node.package, executable=node.executable, name=node.name,
                            namespace=LaunchConfiguration("namespace"),
                            parameters=[parameters], condition=condition, output="screen",
                            emulate_tty=True))
    return actions


def stack_actions(name: str) -> list:
    """Everything a stack's launch file holds: its arguments, then its nodes."""
    stack = load_stack(name)
    return argument_actions(stack) + node_actions(stack)


def bringup_paths() -> dict[str, Path]:
    """The files bringup.launch.py starts from: URDF, controllers, RViz view."""
    return {"urdf": urdf_path(),
            "controllers": paths.config_path("ros2_controllers.yaml"),
            "rviz": paths.config_path("rviz/humanoid.rviz")}
