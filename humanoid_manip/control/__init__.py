"""Hand-coded controllers for data collection (teleop, scripted experts: IK, grasp, PD) and
reset motions (path_tracking); never on the policy's path to the motors."""
from humanoid_manip.control.hand import HAND_POSES, hand_targets
from humanoid_manip.control.ik import IKError, WristIK, WristTarget
from humanoid_manip.control.pd import JointPD

__all__ = ["HAND_POSES", "IKError", "JointPD", "WristIK", "WristTarget", "hand_targets"]
