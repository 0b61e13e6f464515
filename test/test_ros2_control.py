"""The URDF's <ros2_control> block: every joint torque-commanded, the hardware swappable."""
import importlib.util
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from humanoid_manip.errors import RobotDescriptionError
from humanoid_manip.robot import load_robot
from humanoid_manip.ros_description import (
    MOCK_PLUGIN,
    description_sha256,
    hardware_plugin,
    robot_description,
    with_hardware,
)

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "make_humanoid_urdf.py"


def _tool():
    spec = importlib.util.spec_from_file_location("make_humanoid_urdf", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_block_torque_commands_every_joint_in_canonical_order(robot):
    root = ET.parse(robot.urdf_path).getroot()
    blocks = root.findall("ros2_control")
    assert len(blocks) == 1 and blocks[0].get("type") == "system"
    assert blocks[0].find("hardware/plugin").text == MOCK_PLUGIN
    joints = blocks[0].findall("joint")
    assert tuple(j.get("name") for j in joints) == robot.names  # all 48, canonical order
    for j in joints:
        assert [c.get("name") for c in j.findall("command_interface")] == ["effort"]
        assert [s.get("name") for s in j.findall("state_interface")] == \
            ["position", "velocity", "effort"]
        limit = float(j.find("command_interface/param[@name='max']").text)
        assert limit == pytest.approx(robot.joints[robot.index(j.get("name"))].effort)


def test_check_urdf_accepts_the_urdf_with_its_ros2_control_block(robot, tmp_path):
    if shutil.which("check_urdf") is None:
        pytest.skip("check_urdf not installed (Debian: liburdfdom-tools)")
    real = tmp_path / "robot.urdf"
    real.write_text(with_hardware(robot.urdf_path.read_text(), "acme_humanoid/System",
                                  {"ip": "192.168.1.10"}))
    for path in (robot.urdf_path, real):
        assert "<ros2_control" in path.read_text()
        out = subprocess.run(["check_urdf", str(path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert "Successfully Parsed XML" in out.stdout


def test_the_committed_urdf_is_what_the_tool_writes():
    assert _tool().build() == (ROOT / "urdf" / "humanoid.urdf").read_text()


def test_the_tool_writes_a_robots_urdf_with_its_plugin_and_keeps_existing_files(tmp_path):
    out = tmp_path / "acme.urdf"
    cmd = [sys.executable, str(TOOL), "--hardware-plugin", "acme_humanoid/System",
           "--hardware-param", "ip:=192.168.1.10", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert hardware_plugin(text) == "acme_humanoid/System"
    assert '<param name="ip">192.168.1.10</param>' in text
    robot = load_robot(urdf=out)  # the same robot: joints, limits, and lineage hash
    assert robot.names == load_robot().names
    assert robot.urdf_sha256 == load_robot().urdf_sha256
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode != 0 and "--force" in again.stderr
    assert subprocess.run(cmd + ["--force"], capture_output=True).returncode == 0


def test_the_lineage_hash_leaves_the_hardware_out_but_not_the_robot(robot):
    text = robot.urdf_path.read_text()
    assert description_sha256(with_hardware(text, "acme/System").encode()) == robot.urdf_sha256
    moved = text.replace('<limit lower="-1" upper="3.1"', '<limit lower="-1" upper="3.0"', 1)
    assert moved != text
    assert description_sha256(moved.encode()) != robot.urdf_sha256


def test_bringup_description_swaps_in_mock_hardware_and_refuses_a_mock_as_a_robot(robot,
                                                                                    tmp_path):
    real = tmp_path / "robot.urdf"
    real.write_text(with_hardware(robot.urdf_path.read_text(), "acme_humanoid/System"))
    assert hardware_plugin(robot_description(real, use_mock_hardware=True)) == MOCK_PLUGIN
    assert hardware_plugin(robot_description(real, use_mock_hardware=False)) == \
        "acme_humanoid/System"
    with pytest.raises(RobotDescriptionError, match="--hardware-plugin"):
        robot_description(robot.urdf_path, use_mock_hardware=False)
    with pytest.raises(RobotDescriptionError, match="not found"):
        robot_description(tmp_path / "none.urdf", use_mock_hardware=True)
    with pytest.raises(RobotDescriptionError, match="pluginlib name"):
        with_hardware(real.read_text(), "bad plugin")
