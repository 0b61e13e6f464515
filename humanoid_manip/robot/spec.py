"""The robot spec: canonical joint order, groups, limits, gains; from URDF and robot.yaml."""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from humanoid_manip import paths
from humanoid_manip.config import file_sha256, from_dict, load_yaml
from humanoid_manip.errors import ConfigError, RobotDescriptionError, UnknownNameError
from humanoid_manip.robot.urdf import read_urdf
from humanoid_manip.ros_description import description_sha256

GROUPS = ("left_arm", "right_arm", "left_hand", "right_hand", "head")
SIDES = ("left", "right")


@dataclass(frozen=True)
class Joint:
    name: str
    group: str
    lower: float  # rad
    upper: float  # rad
    velocity: float  # rad/s
    effort: float  # N·m
    kp: float  # N·m/rad, data-collection PD
    kd: float  # N·m·s/rad
    armature: float  # kg·m², MuJoCo only

    def as_dict(self) -> dict:
        return {"name": self.name, "group": self.group, "lower": self.lower, "upper": self.upper,
                "velocity": self.velocity, "effort": self.effort}


@dataclass(frozen=True)
class Camera:
    name: str
    link: str
    fovy_deg: float


@dataclass(frozen=True)
class ImageSize:
    width: int
    height: int


@dataclass(frozen=True)
class Rates:
    physics_hz: float
    safety_hz: float
    policy_hz: float
    camera_hz: float


@dataclass(frozen=True)
class RobotSpec:
    urdf_path: Path
    config_path: Path
    joints: tuple[Joint, ...]
    groups: dict[str, tuple[str, ...]]
    palms: dict[str, str]  # side -> link
    fingertips: dict[str, tuple[str, ...]]  # side -> links, thumb first
    cameras: tuple[Camera, ...]
    rates: Rates
    image: ImageSize
    home: np.ndarray = field(repr=False)
    links: tuple[str, ...] = field(repr=False, default=())

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def n(self) -> int:
        return len(self.joints)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise UnknownNameError("joint", name, self.names) from None

    def indices(self, names) -> np.ndarray:
        return np.array([self.index(n) for n in names], dtype=np.int64)

    def group_indices(self, group: str) -> np.ndarray:
        if group not in self.groups:
            raise UnknownNameError("joint group", group, self.groups)
        return self.indices(self.groups[group])

    def camera(self, name: str) -> Camera:
        for c in self.cameras:
            if c.name == name:
                return c
        raise UnknownNameError("camera", name, [c.name for c in self.cameras])

    @property
    def camera_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cameras)

    def _array(self, attr: str) -> np.ndarray:
        a = np.array([getattr(j, attr) for j in self.joints], dtype=np.float64)
        a.setflags(write=False)
        return a

    @cached_property
    def lower(self) -> np.ndarray:
        return self._array("lower")

    @cached_property
    def upper(self) -> np.ndarray:
        return self._array("upper")

    @cached_property
    def velocity_limit(self) -> np.ndarray:
        return self._array("velocity")

    @cached_property
    def effort_limit(self) -> np.ndarray:
        return self._array("effort")

    @cached_property
    def kp(self) -> np.ndarray:
        return self._array("kp")

    @cached_property
    def kd(self) -> np.ndarray:
        return self._array("kd")

    @cached_property
    def urdf_sha256(self) -> str:
        """Lineage hash of the robot: the URDF without its <ros2_control> (hardware) block."""
        return description_sha256(self.urdf_path.read_bytes())

    @cached_property
    def config_sha256(self) -> str:
        return file_sha256(self.config_path)


def _match(rules: list, name: str, key: str, where: str) -> dict:
    for rule in rules:
        if not isinstance(rule, dict) or "match" not in rule:
            raise ConfigError(f"{where}: each entry needs 'match' and '{key}', got {rule!r}")
        if fnmatch.fnmatchcase(name, rule["match"]):
            return rule
    raise ConfigError(f"{where}: no pattern matches joint {name!r}; add one (e.g. match: '*')")


def _number(rule: dict, key: str, where: str) -> float:
    v = rule.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ConfigError(f"{where}: {key} must be a non-negative number, got {v!r} in {rule}")
    return float(v)


def load_robot(robot_yaml: str | os.PathLike | None = None,
               urdf: str | os.PathLike | None = None) -> RobotSpec:
    """Load the spec; `urdf` overrides the file robot.yaml names (for tests and other robots)."""
    cfg_path = Path(robot_yaml) if robot_yaml else paths.config_path("robot.yaml")
    cfg = load_yaml(cfg_path)
    known = {"urdf", "groups", "frames", "cameras", "image", "rates", "home", "gains", "armature"}
    unknown = set(cfg) - known
    if unknown:
        raise ConfigError(f"{cfg_path}: unknown key(s) {sorted(unknown)}; valid: {sorted(known)}")
    for key in known:
        if key not in cfg:
            raise ConfigError(f"{cfg_path}: missing key {key!r}")
    urdf_path = paths.resolve(urdf if urdf is not None else cfg["urdf"])
    model = read_urdf(urdf_path)
    urdf_joints = {j.name: j for j in model.moving_joints}

    groups_cfg = cfg["groups"]
    if not isinstance(groups_cfg, dict) or list(groups_cfg) != list(GROUPS):
        raise ConfigError(f"{cfg_path}: groups must be, in this order: {list(GROUPS)}")
    joints: list[Joint] = []
    seen: set[str] = set()
    for group, names in groups_cfg.items():
        if not isinstance(names, list) or not names:
            raise ConfigError(f"{cfg_path}: group {group!r} must be a non-empty list of joints")
        for name in names:
            if name not in urdf_joints:
                raise RobotDescriptionError(
                    f"{cfg_path}: group {group!r} names joint {name!r}, which {urdf_path} "
                    f"does not have; its moving joints are: {', '.join(sorted(urdf_joints))}")
            if name in seen:
                raise ConfigError(f"{cfg_path}: joint {name!r} appears in more than one group")
            seen.add(name)
            uj = urdf_joints[name]
            gain = _match(cfg["gains"], name, "kp", f"{cfg_path}: gains")
            arm = _match(cfg["armature"], name, "value", f"{cfg_path}: armature")
            joints.append(Joint(name, group, uj.lower, uj.upper, uj.velocity, uj.effort,
                                _number(gain, "kp", "gains"), _number(gain, "kd", "gains"),
                                _number(arm, "value", "armature")))
    missing = sorted(set(urdf_joints) - seen)
    if missing:
        raise RobotDescriptionError(
            f"{cfg_path}: URDF joints not in any group (the policy drives every joint): "
            f"{missing}")

    link_set = set(model.links)

    def link(name: str, what: str) -> str:
        if name not in link_set:
            raise RobotDescriptionError(
                f"{cfg_path}: {what} link {name!r} is not in {urdf_path}")
        return name

    frames = cfg["frames"]
    try:
        palms = {s: link(frames["palm"][s], "palm") for s in SIDES}
        tips = {s: tuple(link(t, "fingertip") for t in frames["fingertips"][s]) for s in SIDES}
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{cfg_path}: frames needs palm.left/right and fingertips.left/right "
                          f"({exc})") from None
    cameras = []
    for cname, c in (cfg["cameras"] or {}).items():
        if not isinstance(c, dict) or set(c) != {"link", "fovy_deg"}:
            raise ConfigError(f"{cfg_path}: camera {cname!r} needs exactly link and fovy_deg")
        cameras.append(Camera(cname, link(c["link"], f"camera {cname}"), float(c["fovy_deg"])))
    try:
        rates = Rates(**{k: float(v) for k, v in cfg["rates"].items()})
    except TypeError as exc:
        raise ConfigError(f"{cfg_path}: rates: {exc}") from None

    image = from_dict(ImageSize, cfg["image"], f"{cfg_path}: image")
    if not (8 <= image.width <= 4096 and 8 <= image.height <= 4096):
        raise ConfigError(f"{cfg_path}: image size {image} must be 8..4096 pixels a side")

    names = [j.name for j in joints]
    home = np.zeros(len(joints))
    for name, value in (cfg["home"] or {}).items():  # a joint name or a pattern ("*_pip")
        matched = [i for i, n in enumerate(names) if fnmatch.fnmatchcase(n, name)]
        if not matched:
            raise UnknownNameError("joint (in home)", name, names)
        for i in matched:
            if not joints[i].lower <= float(value) <= joints[i].upper:
                raise ConfigError(f"{cfg_path}: home {names[i]}={value} is outside its URDF "
                                  f"limits [{joints[i].lower}, {joints[i].upper}]")
            home[i] = float(value)
    home = np.clip(home, [j.lower for j in joints], [j.upper for j in joints])
    home.setflags(write=False)
    return RobotSpec(urdf_path=urdf_path, config_path=cfg_path, joints=tuple(joints),
                     groups={g: tuple(v) for g, v in groups_cfg.items()}, palms=palms,
                     fingertips=tips, cameras=tuple(cameras), rates=rates, image=image, home=home,
                     links=model.links)
