"""rclpy nodes, one file each: thin shells that convert messages and call their cores."""

# Set by `humanoid-manip up` for the nodes it starts (in sessions of their own, so that a
# Ctrl-C reaches them only through up): a node whose launcher died stops by itself.
LAUNCHER_PID_ENV = "HUMANOID_MANIP_UP_PID"
