"""ament_python packaging: `colcon build` in a ROS 2 workspace, or `pip install -e .` in a venv."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "humanoid_manip"
NODES = [  # "name = humanoid_manip.nodes.module:main", installed as ROS executables
    "policy_node = humanoid_manip.nodes.policy_node:main",
    "sim_node = humanoid_manip.nodes.sim_node:main",
    "safety_monitor_node = humanoid_manip.nodes.safety_monitor_node:main",
    "recorder_node = humanoid_manip.nodes.recorder_node:main",
    "teleop_node = humanoid_manip.nodes.teleop_node:main",
    "keyboard_driver = humanoid_manip.nodes.keyboard_driver:main",
    "replay_driver = humanoid_manip.nodes.replay_driver:main",
    "reset_motion_node = humanoid_manip.nodes.reset_motion_node:main",  # needs moveit_py
    "view_node = humanoid_manip.nodes.view_node:main",
]

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/config/moveit", glob("config/moveit/*")),  # tools/make_moveit_config.py
        (f"share/{PACKAGE}/config/rviz", glob("config/rviz/*.rviz")),
        (f"share/{PACKAGE}/urdf", glob("urdf/*.urdf")),
        # the shipped default policy, its lineage and evaluation (not the .pt weights)
        (f"share/{PACKAGE}/policies", glob("policies/*.onnx") + glob("policies/*.json")
         + glob("policies/*.md")),
    ],
    install_requires=["setuptools"],
    extras_require={"train": ["torch==2.13.0"]},
    zip_safe=True,
    maintainer="humanoid_manip team",
    maintainer_email="team@humanoid-manip.dev",
    description="Bimanual humanoid manipulation driven by one learned pixels-to-torque policy.",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={"console_scripts": [f"humanoid-manip = {PACKAGE}.cli:main", *NODES]},
)
