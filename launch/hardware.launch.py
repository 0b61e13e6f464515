"""Hardware: policy_node + safety_monitor_node against a real robot's ros2_control.

Start the robot's controller_manager with config/ros2_controllers.yaml first (a
joint_state_broadcaster and the effort forward_command_controller "effort_controller"). The
nodes and arguments come from config/stack.yaml (stack "hardware"), as for
`humanoid-manip up hardware`. Example:
    ros2 launch humanoid_manip hardware.launch.py policy:=/path/policy.onnx task:=pick_place
"""
from launch import LaunchDescription  # noqa: I001 - ruff mistakes launch/ for first party
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from humanoid_manip.stack import PACKAGE, ArgRef, load_stack

STACK = "hardware"


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
