"""Teleoperation core, no ROS: keypoint layouts, retargeting, deadman, the teleop controller,
hand-stream files and the device registry."""
from humanoid_manip.teleop.config import TeleopConfig, load_teleop_config
from humanoid_manip.teleop.deadman import Deadman
from humanoid_manip.teleop.keypoints import HAND21, OPENXR26, KeypointError, from_openxr
from humanoid_manip.teleop.replay import HandStreamError, read_hand_stream, write_hand_stream
from humanoid_manip.teleop.retarget import HandRetargeter, RetargetConfig, RetargetError
from humanoid_manip.teleop.types import SIDES, HandSample, TeleopInput

__all__ = ["HAND21", "OPENXR26", "SIDES", "Deadman", "HandRetargeter", "HandSample",
           "HandStreamError", "KeypointError", "RetargetConfig", "RetargetError",
           "TeleopConfig", "TeleopInput", "from_openxr", "load_teleop_config",
           "read_hand_stream", "write_hand_stream"]
