"""Hand-coded controllers for data collection only (teleop, scripted experts): IK, grasp, PD."""
from humanoid_manip.control.hand import HAND_POSES, hand_targets
from humanoid_manip.control.ik import IKError, WristIK, WristTarget
from humanoid_manip.control.pd import JointPD

__all__ = ["HAND_POSES", "IKError", "JointPD", "WristIK", "WristTarget", "hand_targets"]
