"""MoveIt: move_group with the configuration in config/moveit/ (tools/make_moveit_config.py).

Plans for the groups left_arm, right_arm, both_arms, left_hand, right_hand and head of the SRDF
against the robot's /joint_states (start bringup.launch.py or sim.launch.py first); it never
executes: a plan reaches the motors only through the safety monitor (`humanoid-manip reset`
tracks one with PD + gravity compensation), so trajectory execution is off. Example:
    ros2 launch humanoid_manip bringup.launch.py &
    ros2 launch humanoid_manip moveit.launch.py
"""
from launch import LaunchDescription  # noqa: I001 - ruff mistakes launch/ for first party
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from humanoid_manip.moveit_config.files import moveit_parameters


def generate_launch_description():
    parameters = moveit_parameters()
    parameters["allow_trajectory_execution"] = False
    return LaunchDescription([
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="follow /clock (true with the sim stack)"),
        Node(package="moveit_ros_move_group", executable="move_group", name="move_group",
             output="screen",
             parameters=[parameters, {"use_sim_time": ParameterValue(
                 LaunchConfiguration("use_sim_time"), value_type=bool)}]),
    ])
