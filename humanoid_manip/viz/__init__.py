"""Seeing episodes and the live stack in Rerun: the robot in 3D from the URDF, the cameras, the
joint series and the safety monitor's events on one timeline. No ROS here (nodes/view_node.py
is the live shell); only this package imports rerun."""

WEB_PORT = 9090  # Rerun's default ports: the web viewer (HTTP) and the data it reads (gRPC)
GRPC_PORT = 9876
