"""Hardware: policy_node + safety_monitor_node against a real robot's ros2_control.

Start the robot's controller_manager with config/ros2_controllers.yaml first (a
joint_state_broadcaster and the effort forward_command_controller "effort_controller"). The
nodes and arguments come from config/stack.yaml (stack "hardware"), as for
`humanoid-manip up hardware`. With no joint state on /joint_states within joint_state_wait
(15 s) the safety monitor gives up and exits 1. bringup.launch.py starts ros2_control (mock
hardware by default) and then this stack. Example:
    ros2 launch humanoid_manip hardware.launch.py policy:=/path/policy.onnx task:=pick_place
"""
from launch import LaunchDescription  # noqa: I001 - ruff mistakes launch/ for first party

from humanoid_manip.nodes.stack_launch import stack_actions

STACK = "hardware"


def generate_launch_description():
    return LaunchDescription(stack_actions(STACK))
