"""humanoid_manip: one learned pixels-to-torque policy for a bimanual humanoid, and its stack."""

__version__ = "0.1.0"

from humanoid_manip.errors import ConfigError, HumanoidManipError, RobotDescriptionError

__all__ = ["ConfigError", "HumanoidManipError", "RobotDescriptionError", "__version__"]
