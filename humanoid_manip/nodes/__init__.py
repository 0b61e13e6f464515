"""rclpy nodes, one file each: thin shells that convert messages and call their cores."""
