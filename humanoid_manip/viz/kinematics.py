"""The robot's links and their shapes from the URDF, posed by forward kinematics (numpy only).

A viewer needs where every link is, not dynamics: the URDF's joint origins and axes give each
link's pose in the world (the URDF root is the world frame, as in the simulation), for a whole
episode of joint states at once, and its <visual> elements give the shapes to draw there.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from humanoid_manip.errors import RobotDescriptionError

DEFAULT_RGBA = (0.7, 0.7, 0.7, 1.0)  # a <visual> without a material


@dataclass(frozen=True)
class Visual:
    """One <visual>: a shape in its link's frame (SI units)."""

    kind: str  # box | cylinder | sphere | mesh
    xyz: np.ndarray  # origin in the link frame
    rotation: np.ndarray  # 3×3, link from shape
    size: tuple[float, ...]  # box: x, y, z; cylinder: radius, length; sphere: radius; mesh: scale
    rgba: tuple[float, float, float, float]
    mesh: Path | None = None


@dataclass(frozen=True)
class KinematicJoint:
    name: str
    type: str  # revolute | continuous | prismatic | fixed
    parent: str
    child: str
    xyz: np.ndarray
    rotation: np.ndarray  # 3×3, parent from joint frame at zero
    axis: np.ndarray  # unit vector in the joint frame


@dataclass(frozen=True)
class RobotKinematics:
    """The URDF's tree in parent-before-child order, with each link's visuals."""

    root: str
    joints: tuple[KinematicJoint, ...]  # topological order
    visuals: dict[str, tuple[Visual, ...]]

    @property
    def links(self) -> tuple[str, ...]:
        return (self.root,) + tuple(j.child for j in self.joints)

    @property
    def moving(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints if j.type != "fixed")

    def link_poses(self, names, q) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """World pose of every link for T joint states: link -> (translation T×3, rotation T×3×3).

        names: the joint order of q's columns (joints not named stay at zero; unknown names are
        refused); q: T×len(names) (or one state, len(names)).
        """
        q = np.asarray(q, dtype=float)
        if q.ndim == 1:
            q = q[None, :]
        names = list(names)
        if q.shape[1] != len(names):
            raise RobotDescriptionError(f"{q.shape[1]} joint values for {len(names)} names")
        column = {n: i for i, n in enumerate(names)}
        unknown = set(column) - set(self.moving)
        if unknown:
            raise RobotDescriptionError(f"joint(s) not in the URDF: {sorted(unknown)[:5]}")
        t = len(q)
        poses = {self.root: (np.zeros((t, 3)), np.broadcast_to(np.eye(3), (t, 3, 3)))}
        for j in self.joints:
            p_parent, r_parent = poses[j.parent]
            p = p_parent + r_parent @ j.xyz
            r = r_parent @ j.rotation
            value = q[:, column[j.name]] if j.name in column else np.zeros(t)
            value = np.nan_to_num(value)  # a NaN in a recording draws the joint at zero
            if j.type in ("revolute", "continuous"):
                r = r @ _axis_rotations(j.axis, value)
            elif j.type == "prismatic":
                p = p + (r @ j.axis) * value[:, None]
            poses[j.child] = (p, r)
        return poses


def _rpy(rpy) -> np.ndarray:
    """URDF roll-pitch-yaw (fixed axes x, y, z) as a rotation matrix."""
    r, p, y = rpy
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def _axis_rotations(axis: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rodrigues' formula for many angles about one unit axis: T×3×3."""
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]],
                  [-axis[1], axis[0], 0.0]])
    s, c = np.sin(angles)[:, None, None], np.cos(angles)[:, None, None]
    return np.eye(3) + s * k + (1.0 - c) * (k @ k)


def _vector(elem: ET.Element | None, attr: str, default: str, where: str) -> np.ndarray:
    text = default if elem is None else elem.get(attr, default)
    try:
        v = np.array([float(x) for x in text.split()])
    except ValueError:
        raise RobotDescriptionError(f"{where}: {attr}={text!r} is not three numbers") from None
    if v.shape != (3,) or not np.all(np.isfinite(v)):
        raise RobotDescriptionError(f"{where}: {attr}={text!r} is not three finite numbers")
    return v


def _origin(elem: ET.Element, where: str) -> tuple[np.ndarray, np.ndarray]:
    o = elem.find("origin")
    return _vector(o, "xyz", "0 0 0", where), _rpy(_vector(o, "rpy", "0 0 0", where))


def _rgba(text: str, where: str) -> tuple[float, float, float, float]:
    try:
        v = tuple(float(x) for x in text.split())
    except ValueError:
        v = ()
    if len(v) != 4:
        raise RobotDescriptionError(f"{where}: color rgba={text!r} is not four numbers")
    return v  # type: ignore[return-value]


def _visual(elem: ET.Element, materials: dict, urdf_dir: Path, where: str) -> Visual | None:
    xyz, rot = _origin(elem, where)
    rgba = DEFAULT_RGBA
    mat = elem.find("material")
    if mat is not None:
        color = mat.find("color")
        if color is not None:
            rgba = _rgba(color.get("rgba", ""), where)
        else:
            rgba = materials.get(mat.get("name", ""), DEFAULT_RGBA)
    geom = elem.find("geometry")
    shape = None if geom is None or not len(geom) else geom[0]
    if shape is None:
        raise RobotDescriptionError(f"{where}: <visual> without a <geometry> shape")

    def num(attr: str) -> float:
        try:
            return float(shape.get(attr, ""))
        except ValueError:
            raise RobotDescriptionError(
                f"{where}: <{shape.tag} {attr}={shape.get(attr)!r}> is not a number") from None

    if shape.tag == "box":
        return Visual("box", xyz, rot, tuple(_vector(shape, "size", "", where)), rgba)
    if shape.tag == "cylinder":
        return Visual("cylinder", xyz, rot, (num("radius"), num("length")), rgba)
    if shape.tag == "sphere":
        return Visual("sphere", xyz, rot, (num("radius"),), rgba)
    if shape.tag == "mesh":
        name = shape.get("filename", "")
        path = urdf_dir / name.removeprefix("file://") if "://" not in name \
            or name.startswith("file://") else None
        if path is None or not path.is_file():
            return None  # a package:// mesh cannot be found without a ROS install: not drawn
        scale = tuple(_vector(shape, "scale", "1 1 1", where))
        return Visual("mesh", xyz, rot, scale, rgba, mesh=path)
    raise RobotDescriptionError(f"{where}: unknown geometry <{shape.tag}>")


def load_kinematics(urdf: str | os.PathLike) -> RobotKinematics:
    """Parse the URDF's tree, joint frames and visuals; errors name the element."""
    p = Path(urdf)
    if not p.is_file():
        raise RobotDescriptionError(f"URDF not found: {p}")
    try:
        root = ET.parse(p).getroot()
    except ET.ParseError as exc:
        raise RobotDescriptionError(f"URDF {p} is not well-formed XML: {exc}") from None
    materials = {}
    for m in root.findall("material"):
        color = m.find("color")
        if color is not None:
            materials[m.get("name", "")] = _rgba(color.get("rgba", ""), f"{p}: material")
    links = [link.get("name", "") for link in root.findall("link")]
    visuals = {}
    for link in root.findall("link"):
        name = link.get("name", "")
        shapes = [_visual(v, materials, p.parent, f"{p}: link {name!r}")
                  for v in link.findall("visual")]
        visuals[name] = tuple(s for s in shapes if s is not None)
    by_parent: dict[str, list[KinematicJoint]] = {}
    children = set()
    for elem in root.findall("joint"):
        name = elem.get("name", "")
        where = f"{p}: joint {name!r}"
        parent, child = elem.find("parent"), elem.find("child")
        if parent is None or child is None:
            raise RobotDescriptionError(f"{where}: needs <parent link=…> and <child link=…>")
        xyz, rot = _origin(elem, where)
        axis = _vector(elem.find("axis"), "xyz", "1 0 0", where)
        norm = np.linalg.norm(axis)
        if norm == 0:
            raise RobotDescriptionError(f"{where}: zero <axis>")
        j = KinematicJoint(name, elem.get("type", ""), parent.get("link", ""),
                           child.get("link", ""), xyz, rot, axis / norm)
        by_parent.setdefault(j.parent, []).append(j)
        children.add(j.child)
    roots = [link for link in links if link not in children]
    if len(roots) != 1:
        raise RobotDescriptionError(f"URDF {p}: needs exactly one root link, has {roots}")
    order, stack = [], [roots[0]]
    while stack:
        for j in by_parent.get(stack.pop(), []):
            order.append(j)
            stack.append(j.child)
    return RobotKinematics(roots[0], tuple(order), visuals)
