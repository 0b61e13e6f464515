"""package.xml declares what the code imports and what the launch files start, nothing else."""
import ast
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# every third-party module imported under humanoid_manip/ and launch/, and its package.xml key
# (None: no rosdep key, installed with pip from requirements.txt; the comment there says so)
KEYS = {
    "rclpy": "rclpy", "builtin_interfaces": "builtin_interfaces", "sensor_msgs": "sensor_msgs",
    "std_msgs": "std_msgs", "geometry_msgs": "geometry_msgs", "std_srvs": "std_srvs",
    "diagnostic_msgs": "diagnostic_msgs", "rosgraph_msgs": "rosgraph_msgs",
    "ament_index_python": "ament_index_python", "moveit": "moveit_py",
    "launch": "launch", "launch_ros": "launch_ros",
    "numpy": "python3-numpy", "yaml": "python3-yaml", "scipy": "python3-scipy",
    "matplotlib": "python3-matplotlib", "tqdm": "python3-tqdm", "mujoco": "python3-mujoco-pip",
    "onnxruntime": "python3-onnxruntime-pip", "mcap_ros2": "mcap-ros2-support",
    "mcap": None, "onnx": None, "mink": None, "imageio_ffmpeg": None, "pyarrow": None,
    "torch": None,  # learn/ only: the optional training extra (requirements-train.txt)
    "ray": None,  # loop/runner.py: episodes as Ray tasks (pip, requirements.txt)
    "rerun": None, "websockets": None,  # viz/: the viewer (pip, requirements.txt)
    "PIL": "python3-pil",  # viz/screenshot.py: reads the browser's screenshot
}
# what the launch files and configuration start or load by name, beyond the imports
LAUNCHED = {"ros2launch", "robot_state_publisher", "controller_manager", "rviz2",
            "moveit_ros_move_group"}
PLUGIN_PACKAGES = {  # pluginlib names in the URDF and config files -> their package
    "mock_components": "hardware_interface",
    "joint_state_broadcaster": "joint_state_broadcaster",
    "forward_command_controller": "forward_command_controller",
    "kdl_kinematics_plugin": "moveit_kinematics",
    "ompl_interface": "moveit_planners_ompl",
    "default_planning_request_adapters": "moveit_ros_planning",
    "default_planning_response_adapters": "moveit_ros_planning",
    "moveit_simple_controller_manager": "moveit_simple_controller_manager",
}


def imported_modules() -> set[str]:
    out = set()
    for path in [*(ROOT / "humanoid_manip").rglob("*.py"), *(ROOT / "launch").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                out |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                out.add(node.module.split(".")[0])
    return out - set(sys.stdlib_module_names) - {"humanoid_manip"}


def exec_depends() -> list[str]:
    root = ET.parse(ROOT / "package.xml").getroot()
    return [e.text for e in root.findall("exec_depend")]


def plugin_names() -> set[str]:
    """Every pluginlib name (pkg/Class) in the URDF, ros2_controllers.yaml and config/moveit."""
    texts = [(ROOT / "urdf" / "humanoid.urdf").read_text(),
             (ROOT / "config" / "ros2_controllers.yaml").read_text(),
             *(p.read_text() for p in (ROOT / "config" / "moveit").glob("*.yaml"))]
    found = set()
    for text in texts:
        found |= set(re.findall(r"\b([a-z_]+)/[A-Z][A-Za-z]+\b", text))
    return found


def test_every_import_has_its_key_and_nothing_else_is_declared():
    modules = imported_modules()
    unknown = modules - set(KEYS)
    assert not unknown, f"imported but not in package.xml's list (add both): {unknown}"
    keys = {KEYS[m] for m in modules if KEYS[m]}
    plugins = plugin_names()
    assert plugins <= set(PLUGIN_PACKAGES), plugins - set(PLUGIN_PACKAGES)
    expected = keys | LAUNCHED | {PLUGIN_PACKAGES[p] for p in plugins}
    declared = exec_depends()
    assert len(declared) == len(set(declared))
    assert set(declared) == expected, (f"missing {expected - set(declared)}, "
                                       f"not used {set(declared) - expected}")
    assert "builtin_interfaces" in declared and "trajectory_msgs" not in declared


def test_the_launch_files_name_only_declared_packages():
    declared = set(exec_depends())
    for path in (ROOT / "launch").glob("*.launch.py"):
        for pkg in re.findall(r'package="([a-z_]+)"', path.read_text()):
            assert pkg in declared, f"{path.name} starts a node of {pkg}"
    stack = yaml.safe_load((ROOT / "config" / "stack.yaml").read_text())
    for s in stack["stacks"].values():
        for node in s["nodes"]:
            assert node.get("package", "humanoid_manip") in declared | {"humanoid_manip"}
