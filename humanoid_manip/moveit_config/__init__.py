"""MoveIt configuration from the URDF and config/robot.yaml: SRDF, collision matrix, YAML files."""
