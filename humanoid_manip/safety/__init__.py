"""The safety monitor core: limits, holds or stops the policy's torques. No ROS in here."""
from humanoid_manip.safety.config import SafetyConfig, load_safety_config
from humanoid_manip.safety.monitor import SafetyMonitor
from humanoid_manip.safety.types import JointState, Mode, SafetyEvent, TickResult, TorqueRequest

__all__ = ["JointState", "Mode", "SafetyConfig", "SafetyEvent", "SafetyMonitor",
           "TickResult", "TorqueRequest", "load_safety_config"]
