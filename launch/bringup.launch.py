"""Bringup: ros2_control with the robot (or mock hardware), /tf, RViz, then policy + monitor.

Starts robot_state_publisher with the URDF (its <ros2_control> block's plugin swapped for
mock_components/GenericSystem while use_mock_hardware:=true, the default, so everything runs
without a robot), ros2_control_node with config/ros2_controllers.yaml (it reads the URDF from
/robot_description), the joint_state_broadcaster spawner and, once that controller is up, the
effort_controller spawner together with the policy and the safety monitor of config/stack.yaml
(stack "hardware"). The monitor starts before the effort controller takes commands, so the
first command the motors get is the monitor's gravity-compensated hold, never a gap. A spawner
that fails stops the launch, saying which. Examples:
    ros2 launch humanoid_manip bringup.launch.py                      # mock hardware + RViz
    ros2 launch humanoid_manip bringup.launch.py use_mock_hardware:=false \\
        description:=/path/my_robot.urdf policy:=/path/policy.onnx rviz:=false
(a robot's URDF: python tools/make_humanoid_urdf.py --hardware-plugin <its plugin> --out ...)
"""
from launch import LaunchDescription  # noqa: I001 - ruff mistakes launch/ for first party
from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction, RegisterEventHandler
from launch.actions import Shutdown
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from humanoid_manip.nodes.stack_launch import argument_actions, bringup_paths, node_actions
from humanoid_manip.ros_description import robot_description
from humanoid_manip.stack import load_stack

STACK = "hardware"
CONTROLLER_MANAGER = "/controller_manager"


def _description_nodes(context):
    """robot_state_publisher with the URDF as the arguments make it (mock or the robot's)."""
    urdf = robot_description(LaunchConfiguration("description").perform(context),
                             IfCondition(LaunchConfiguration("use_mock_hardware")).evaluate(
                                 context))
    return [Node(package="robot_state_publisher", executable="robot_state_publisher",
                 name="robot_state_publisher", output="screen",
                 parameters=[{"robot_description": urdf}])]


def _spawner(controller: str) -> Node:
    return Node(package="controller_manager", executable="spawner", name=f"spawner_{controller}",
                arguments=[controller, "--controller-manager", CONTROLLER_MANAGER],
                output="screen")


def generate_launch_description():
    stack = load_stack(STACK)
    files = bringup_paths()
    broadcaster = _spawner("joint_state_broadcaster")
    then = [*node_actions(stack), _spawner("effort_controller")]

    def after_broadcaster(event, _context):
        if event.returncode != 0:
            return [LogInfo(msg=f"joint_state_broadcaster spawner exited with code "
                                f"{event.returncode}: not starting the policy, the safety "
                                "monitor and the effort controller"),
                    Shutdown(reason="joint_state_broadcaster did not start")]
        return then

    return LaunchDescription([
        DeclareLaunchArgument("use_mock_hardware", default_value="true",
                              description="mock_components/GenericSystem instead of the "
                                          "URDF's hardware plugin: no robot needed"),
        DeclareLaunchArgument("description", default_value=str(files["urdf"]),
                              description="URDF with the robot's <ros2_control> block "
                                          "(tools/make_humanoid_urdf.py --hardware-plugin)"),
        DeclareLaunchArgument("controllers", default_value=str(files["controllers"]),
                              description="ros2_control controllers (joint_state_broadcaster, "
                                          "effort_controller)"),
        DeclareLaunchArgument("rviz", default_value="true", description="open RViz"),
        *argument_actions(stack),
        OpaqueFunction(function=_description_nodes),
        Node(package="controller_manager", executable="ros2_control_node",
             parameters=[LaunchConfiguration("controllers")], output="screen"),
        broadcaster,
        RegisterEventHandler(OnProcessExit(target_action=broadcaster,
                                           on_exit=after_broadcaster)),
        Node(package="rviz2", executable="rviz2", name="rviz2", output="screen",
             arguments=["-d", str(files["rviz"])], condition=IfCondition(
                 LaunchConfiguration("rviz"))),
    ])
