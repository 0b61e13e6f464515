"""The robot description as ROS 2 takes it: the URDF's text and its <ros2_control> block.

The block torque-commands every joint and names a swappable hardware plugin:
tools/make_humanoid_urdf.py writes it into urdf/humanoid.urdf (mock hardware by default, so
everything can be tried without a robot) and bringup.launch.py swaps the plugin at launch time
(`use_mock_hardware:=true` forces the mock whatever the file says). Nothing here knows ROS, and
nothing here needs more than the standard library and PyYAML: the launch files import it, and
`ros2 launch` runs them in the ROS install's own Python.
"""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from humanoid_manip import paths
from humanoid_manip.config import load_yaml
from humanoid_manip.errors import RobotDescriptionError

MOCK_PLUGIN = "mock_components/GenericSystem"
SYSTEM_NAME = "humanoid"
STATE_INTERFACES = ("position", "velocity", "effort")
COMMAND_INTERFACE = "effort"
_HARDWARE = re.compile(r"(<ros2_control\b[^>]*>\s*)<hardware>.*?</hardware>", re.S)
_BLOCK = re.compile(rb"^[ \t]*<ros2_control\b.*?</ros2_control>[ \t]*\r?\n?", re.S | re.M)


@dataclass(frozen=True)
class ControlledJoint:
    """A joint of the block: its name and the effort limit its command interface declares."""

    name: str
    effort: float  # N·m, the URDF's <limit effort>
    initial_position: float = 0.0  # rad: where mock hardware starts the joint


def urdf_path() -> Path:
    """The URDF the stack runs: the file config/robot.yaml's `urdf` names."""
    return paths.resolve(load_yaml(paths.config_path("robot.yaml"))["urdf"])


def hardware_xml(plugin: str = MOCK_PLUGIN, params: Mapping[str, str] | None = None,
                 indent: str = "    ") -> str:
    """The <hardware> element: the plugin and its parameters (a real robot's address, …)."""
    if not plugin or any(c.isspace() for c in plugin) or "<" in plugin:
        raise RobotDescriptionError(f"hardware plugin {plugin!r}: expected a pluginlib name "
                                    f"such as {MOCK_PLUGIN}")
    lines = [f"{indent}<hardware>", f"{indent}  <plugin>{escape(plugin)}</plugin>"]
    for key, value in (params or {}).items():
        lines.append(f"{indent}  <param name={quoteattr(key)}>{escape(str(value))}</param>")
    lines.append(f"{indent}</hardware>")
    return "\n".join(lines)


def ros2_control_xml(joints: Sequence[ControlledJoint], plugin: str = MOCK_PLUGIN,
                     params: Mapping[str, str] | None = None, indent: str = "  ") -> str:
    """The whole <ros2_control type="system"> block, joints in the order given (canonical)."""
    i1, i2, i3 = indent * 2, indent * 3, indent * 4
    lines = [f'{indent}<ros2_control name="{SYSTEM_NAME}" type="system">',
             hardware_xml(plugin, params, i1)]
    for j in joints:
        lines += [f'{i1}<joint name="{j.name}">',
                  f'{i2}<command_interface name="{COMMAND_INTERFACE}">',
                  f'{i3}<param name="min">{-j.effort:.6g}</param>',
                  f'{i3}<param name="max">{j.effort:.6g}</param>',
                  f"{i2}</command_interface>",
                  f'{i2}<state_interface name="position">',
                  f'{i3}<param name="initial_value">{j.initial_position:.6g}</param>',
                  f"{i2}</state_interface>"]
        lines += [f'{i2}<state_interface name="{s}"/>' for s in STATE_INTERFACES[1:]]
        lines.append(f"{i1}</joint>")
    lines.append(f"{indent}</ros2_control>")
    return "\n".join(lines)


def hardware_plugin(urdf_text: str) -> str:
    """The plugin the URDF's <ros2_control> block names."""
    m = re.search(r"<ros2_control\b[^>]*>\s*<hardware>\s*<plugin>\s*([^<\s]+)\s*</plugin>",
                  urdf_text)
    if m is None:
        raise RobotDescriptionError("the URDF has no <ros2_control> block with a <hardware> "
                                    "plugin (regenerate it: python tools/make_humanoid_urdf.py)")
    return m.group(1)


def with_hardware(urdf_text: str, plugin: str, params: Mapping[str, str] | None = None) -> str:
    """The URDF with its <ros2_control> block's <hardware> (plugin and parameters) replaced."""
    hardware_plugin(urdf_text)  # there is a block to change, or a clear error
    new = hardware_xml(plugin, params).strip()
    return _HARDWARE.sub(lambda m: m.group(1) + new, urdf_text, count=1)


def robot_description(urdf: str | os.PathLike, use_mock_hardware: bool) -> str:
    """The URDF text bringup publishes: with mock hardware swapped in, or the robot's own.

    Refuses to start "real" hardware from a URDF whose block is still the mock, since that
    would look like a robot while driving nothing.
    """
    path = Path(urdf)
    if not path.is_file():
        raise RobotDescriptionError(f"URDF not found: {path}")
    text = path.read_text()
    if use_mock_hardware:
        return with_hardware(text, MOCK_PLUGIN)
    if hardware_plugin(text) == MOCK_PLUGIN:
        raise RobotDescriptionError(
            f"use_mock_hardware:=false, but {path} drives {MOCK_PLUGIN}: pass description:= a "
            "URDF written by tools/make_humanoid_urdf.py --hardware-plugin <the robot's plugin>")
    return text


def description_sha256(urdf_bytes: bytes) -> str:
    """The robot's lineage hash: the URDF without its <ros2_control> block(s).

    Which hardware drives the joints (mock, a real robot's plugin and its address) does not
    change the robot, so sim and real data, and a policy trained before the block existed,
    carry the same hash.
    """
    return hashlib.sha256(_BLOCK.sub(b"", urdf_bytes)).hexdigest()
