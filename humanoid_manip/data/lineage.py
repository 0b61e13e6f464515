"""Lineage manifests: what produced an episode, a checkpoint or an evaluation, and config drift."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from humanoid_manip import __version__, paths
from humanoid_manip.config import file_sha256
from humanoid_manip.errors import HumanoidManipError

KINDS = ("episode", "checkpoint", "evaluation")
# The configuration a policy's behaviour depends on: the files whose change should be noticed.
CONFIG_FILES = ("robot.yaml", "safety.yaml", "policy.yaml", "tasks.yaml", "control.yaml")


class LineageError(HumanoidManipError):
    """A manifest that is missing, malformed, or of the wrong kind."""


def code_version() -> str:
    """Package version plus the git commit (and '+dirty') when running from a checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, timeout=5, check=True).stdout
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=5).stdout.strip()
        return f"{__version__}+g{commit.strip()}{'.dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return __version__


def config_fingerprint(robot=None) -> dict[str, str]:
    """sha256 of the URDF and of each configuration file that exists, keyed by name."""
    if robot is None:
        from humanoid_manip.robot import load_robot

        robot = load_robot()
    out = {"urdf": robot.urdf_sha256}
    for name in CONFIG_FILES:
        p = paths.config_path(name)
        if p.is_file():
            out[name] = file_sha256(p)
    return out


@dataclass
class Manifest:
    kind: str  # episode | checkpoint | evaluation
    id: str
    code_version: str
    config: dict[str, str]  # name -> sha256 (URDF, robot/safety/policy/tasks/control config)
    source: dict[str, Any]  # e.g. {"type": "expert", "task": ..., "seed": ..., "sim": true}
    parents: list[str] = field(default_factory=list)  # ids this was made from
    created: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise LineageError(f"manifest kind {self.kind!r} is not one of {KINDS}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Manifest:
        try:
            return cls(**d)
        except TypeError as exc:
            raise LineageError(f"malformed manifest: {exc}") from None


def new_manifest(kind: str, source: Mapping[str, Any], parents=(), robot=None,
                 extra: Mapping[str, Any] | None = None) -> Manifest:
    """A manifest for something being produced now, with an id derived from its content."""
    config = config_fingerprint(robot)
    version = code_version()
    seed = json.dumps([kind, dict(source), list(parents), config, version, time.time_ns()],
                      sort_keys=True, default=str)
    mid = f"{kind[:3]}-{hashlib.sha256(seed.encode()).hexdigest()[:12]}"
    return Manifest(kind, mid, version, config, dict(source), list(parents),
                    extra=dict(extra or {}))


def config_drift(recorded: Mapping[str, str], running: Mapping[str, str]) -> list[str]:
    """Field-by-field differences between a recorded fingerprint and the running one."""
    lines = []
    for name in sorted(set(recorded) | set(running)):
        a, b = recorded.get(name), running.get(name)
        if a == b:
            continue
        if a is None:
            lines.append(f"{name}: not recorded in the data, now {b[:12]}")
        elif b is None:
            lines.append(f"{name}: recorded {a[:12]}, not present now")
        else:
            lines.append(f"{name}: recorded {a[:12]}, running {b[:12]} (changed since the data)")
    return lines


def write_manifest(path: str | os.PathLike, manifest: Manifest) -> Path:
    p = Path(path)
    p.write_text(manifest.to_json() + "\n")
    return p


def read_manifest(path: str | os.PathLike) -> Manifest:
    p = Path(path)
    try:
        return Manifest.from_dict(json.loads(p.read_text()))
    except FileNotFoundError:
        raise LineageError(f"manifest not found: {p}") from None
    except json.JSONDecodeError as exc:
        raise LineageError(f"manifest {p} is not JSON: {exc}") from None
