"""Simulation: MuJoCo sim_node + policy_node + safety_monitor_node, all on simulated time.

robot_state_publisher turns the sim's /joint_states into /tf, as on the robot
(robot_state_publisher:=false leaves it out). The nodes, their parameters and the arguments
come from config/stack.yaml (stack "sim"), the same description `humanoid-manip up sim` reads.
Example:
    ros2 launch humanoid_manip sim.launch.py policy:=/path/policy.onnx task:=pick_place
    rviz2 -d $(ros2 pkg prefix humanoid_manip)/share/humanoid_manip/config/rviz/humanoid.rviz
"""
from launch import LaunchDescription  # noqa: I001 - ruff mistakes launch/ for first party

from humanoid_manip.nodes.stack_launch import stack_actions

STACK = "sim"


def generate_launch_description():
    return LaunchDescription(stack_actions(STACK))
