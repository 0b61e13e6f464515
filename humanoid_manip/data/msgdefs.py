"""ROS 2 message definitions as MCAP schemas, read from the installed .msg files (no rclpy)."""
from __future__ import annotations

import os
import re
import sys
from functools import cache
from pathlib import Path

from humanoid_manip.errors import HumanoidManipError

PRIMITIVES = {"bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16",
              "int32", "uint32", "int64", "uint64", "string", "wstring"}
_SEPARATOR = "=" * 80


class MessageDefinitionError(HumanoidManipError):
    """A ROS message type whose .msg file cannot be found."""


def _share_dirs() -> list[Path]:
    dirs = [Path(p) / "share" for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)
            if p]
    dirs.append(Path(sys.prefix) / "share")
    return dirs


@cache
def _msg_text(package: str, name: str) -> str:
    for share in _share_dirs():
        path = share / package / "msg" / f"{name}.msg"
        if path.is_file():
            return path.read_text()
    raise MessageDefinitionError(
        f"no definition for {package}/msg/{name} under {[str(d) for d in _share_dirs()]}; "
        f"install the ROS message package (pip: ros-{package.replace('_', '-')})")


def _split(ros_type: str) -> tuple[str, str]:
    parts = ros_type.split("/")
    if len(parts) == 3 and parts[1] == "msg":
        return parts[0], parts[2]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise MessageDefinitionError(
        f"not a ROS message type: {ros_type!r} (e.g. std_msgs/msg/String)")


def _field_types(package: str, text: str) -> list[tuple[str, str]]:
    """The (package, name) of every non-primitive field type in a .msg text."""
    found = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tokens = line.split()
        ftype = tokens[0]
        if len(tokens) > 1 and ("=" in tokens[1] or tokens[2:3] and tokens[2].startswith("=")):
            continue  # a constant, TYPE NAME=VALUE
        base = re.sub(r"\[.*\]$", "", ftype)
        base = re.sub(r"<=\d+$", "", base)
        if base in PRIMITIVES:
            continue
        if "/" in base:
            pkg, name = _split(base)
        else:
            pkg, name = package, base
        found.append((pkg, name))
    return found


@cache
def schema_text(ros_type: str) -> str:
    """The ros2msg schema of a type: its definition, then each dependency once after a rule."""
    package, name = _split(ros_type)
    main = _msg_text(package, name)
    seen: dict[tuple[str, str], str] = {}
    stack = list(_field_types(package, main))
    while stack:
        key = stack.pop(0)
        if key in seen:
            continue
        text = _msg_text(*key)
        seen[key] = text
        stack.extend(_field_types(key[0], text))
    parts = [main.rstrip("\n")]
    for (pkg, n), text in seen.items():
        parts.append(f"{_SEPARATOR}\nMSG: {pkg}/{n}\n{text.rstrip(chr(10))}")
    return "\n".join(parts) + "\n"
