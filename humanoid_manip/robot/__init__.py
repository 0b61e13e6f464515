"""The robot description: URDF + config/robot.yaml → spec, MuJoCo model and dynamics."""
from humanoid_manip.robot.dynamics import RobotDynamics
from humanoid_manip.robot.mujoco_model import RobotIndex, build_model, robot_mjspec
from humanoid_manip.robot.spec import GROUPS, Camera, Joint, RobotSpec, load_robot

__all__ = ["GROUPS", "Camera", "Joint", "RobotDynamics", "RobotIndex", "RobotSpec",
           "build_model", "load_robot", "robot_mjspec"]
