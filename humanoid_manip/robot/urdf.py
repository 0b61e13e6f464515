"""Reads the joints and links of a URDF, with errors that say which element is wrong."""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from humanoid_manip.errors import RobotDescriptionError

MOVING_TYPES = ("revolute", "continuous", "prismatic")


@dataclass(frozen=True)
class UrdfJoint:
    name: str
    type: str
    parent: str
    child: str
    lower: float
    upper: float
    velocity: float
    effort: float


@dataclass(frozen=True)
class UrdfModel:
    path: Path
    name: str
    links: tuple[str, ...]
    joints: tuple[UrdfJoint, ...]

    @property
    def moving_joints(self) -> tuple[UrdfJoint, ...]:
        return tuple(j for j in self.joints if j.type in MOVING_TYPES)


def _float(elem: ET.Element, attr: str, where: str, default: float | None = None) -> float:
    raw = elem.get(attr)
    if raw is None:
        if default is None:
            raise RobotDescriptionError(f"{where}: missing attribute {attr!r}")
        return default
    try:
        return float(raw)
    except ValueError:
        raise RobotDescriptionError(f"{where}: attribute {attr}={raw!r} is not a number") from None


def read_urdf(path: str | os.PathLike) -> UrdfModel:
    """Parse a URDF file; every moving joint must carry a <limit> with effort and velocity."""
    p = Path(path)
    if not p.is_file():
        raise RobotDescriptionError(f"URDF not found: {p}")
    try:
        root = ET.parse(p).getroot()
    except ET.ParseError as exc:
        raise RobotDescriptionError(f"URDF {p} is not well-formed XML: {exc}") from None
    if root.tag != "robot":
        raise RobotDescriptionError(f"URDF {p}: the root element is <{root.tag}>, not <robot>")
    links = tuple(link.get("name", "") for link in root.findall("link"))
    if not links or "" in links:
        raise RobotDescriptionError(f"URDF {p}: needs <link> elements, each with a name")
    link_set = set(links)
    joints = []
    for elem in root.findall("joint"):
        name, jtype = elem.get("name"), elem.get("type")
        where = f"URDF {p}: joint {name!r}"
        if not name or not jtype:
            raise RobotDescriptionError(f"URDF {p}: a <joint> lacks its name or type")
        parent, child = elem.find("parent"), elem.find("child")
        if parent is None or child is None:
            raise RobotDescriptionError(f"{where}: needs <parent link=…> and <child link=…>")
        for role, e in (("parent", parent), ("child", child)):
            if e.get("link") not in link_set:
                raise RobotDescriptionError(
                    f"{where}: {role} link {e.get('link')!r} is not a <link>")
        lower = upper = velocity = effort = 0.0
        if jtype in MOVING_TYPES:
            limit = elem.find("limit")
            if limit is None:
                raise RobotDescriptionError(
                    f"{where}: a moving joint needs <limit effort= velocity=>")
            effort = _float(limit, "effort", where)
            velocity = _float(limit, "velocity", where)
            if jtype == "continuous":
                lower, upper = float("-inf"), float("inf")
            else:
                lower = _float(limit, "lower", where, 0.0)
                upper = _float(limit, "upper", where, 0.0)
                if not lower < upper:
                    raise RobotDescriptionError(
                        f"{where}: lower limit {lower} is not below upper {upper}")
            if effort <= 0 or velocity <= 0:
                raise RobotDescriptionError(
                    f"{where}: effort and velocity limits must be positive")
        joints.append(UrdfJoint(name, jtype, parent.get("link"), child.get("link"), lower, upper,
                                velocity, effort))
    return UrdfModel(p, root.get("name", ""), links, tuple(joints))
