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
CONFIG_FILES = ("robot.yaml", "safety.yaml", "policy.yaml", "tasks.yaml", "teleop.yaml")


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
    # the parsed contents of the config files hashed in `config`, for field-by-field drift
    config_values: dict[str, Any] = field(default_factory=dict)

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
                    extra=dict(extra or {}), config_values=config_snapshot())


_PARSED: dict[tuple[str, int, int], Any] = {}


def _parsed_yaml(p: Path) -> Any:
    """A config file parsed, reusing the last parse while the file is unchanged."""
    import copy

    import yaml

    st = p.stat()
    key = (str(p), st.st_mtime_ns, st.st_size)
    if key not in _PARSED:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            _PARSED[key] = yaml.load(p.read_text(), Loader=loader)  # noqa: S506 - safe loader
        except yaml.YAMLError:
            _PARSED[key] = None
    return copy.deepcopy(_PARSED[key])


def config_snapshot() -> dict[str, Any]:
    """The parsed contents of each configuration file that exists, keyed by file name."""
    out = {}
    for name in CONFIG_FILES:
        p = paths.config_path(name)
        if p.is_file():
            value = _parsed_yaml(p)
            if value is not None:
                out[name] = value
    return out


def value_drift(recorded: Any, running: Any, where: str = "") -> list[str]:
    """Every leaf that differs between two parsed configs, as 'path: recorded X, running Y'."""
    if isinstance(recorded, Mapping) and isinstance(running, Mapping):
        out = []
        for k in sorted(set(recorded) | set(running), key=str):
            sub = f"{where}.{k}" if where else str(k)
            if k not in running:
                out.append(f"{sub}: recorded {_short(recorded[k])}, not present now")
            elif k not in recorded:
                out.append(f"{sub}: not recorded in the data, now {_short(running[k])}")
            else:
                out.extend(value_drift(recorded[k], running[k], sub))
        return out
    if (isinstance(recorded, list) and isinstance(running, list)
            and len(recorded) == len(running)):
        out = []
        for i, (a, b) in enumerate(zip(recorded, running)):
            out.extend(value_drift(a, b, f"{where}[{i}]"))
        return out
    if recorded != running:
        return [f"{where}: recorded {_short(recorded)}, running {_short(running)}"]
    return []


def _short(v: Any) -> str:
    text = json.dumps(v, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def data_configs(lineage: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The configurations a manifest's data was recorded with.

    An episode manifest: its own. A checkpoint or evaluation manifest: `extra.data_config`
    (one entry per distinct configuration of the training episodes), else its own.
    """
    recorded = (lineage.get("extra") or {}).get("data_config")
    if isinstance(recorded, list) and recorded:
        return [dict(c) for c in recorded if isinstance(c, Mapping)]
    return [{"config": dict(lineage.get("config") or {}),
             "config_values": dict(lineage.get("config_values") or {}),
             "episodes": [lineage.get("id")]}]


def summarize_data_config(episodes: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Group episode manifests by configuration: what a checkpoint records as `data_config`."""
    groups: dict[str, dict[str, Any]] = {}
    for m in episodes:
        key = json.dumps(m.get("config") or {}, sort_keys=True)
        g = groups.setdefault(key, {"config": dict(m.get("config") or {}),
                                    "config_values": dict(m.get("config_values") or {}),
                                    "episodes": []})
        g["episodes"].append(m.get("id"))
    return list(groups.values())


def _task_part(values: Any, task: str | None) -> Any:
    """Of tasks.yaml, the part one task's episodes depend on: the domain and its own section."""
    if task is None or not isinstance(values, Mapping):
        return values
    return {"domain": values.get("domain"), "tasks": {task: (values.get("tasks") or {})
                                                     .get(task)}}


def drift_report(lineage: Mapping[str, Any], robot=None,
                 running: Mapping[str, str] | None = None,
                 running_values: Mapping[str, Any] | None = None,
                 task: str | None = None) -> list[str]:
    """Field by field, where the configuration a policy's data was recorded with differs from
    the one running now; empty when they agree. The policy node calls this at start.

    With `task`, changes to other tasks' sections of tasks.yaml are not reported.
    """
    running = dict(running) if running is not None else config_fingerprint(robot)
    values_now = dict(running_values) if running_values is not None else config_snapshot()
    lines: list[str] = []
    configs = data_configs(lineage)
    for c in configs:
        tag = ""
        if len(configs) > 1:
            tag = f"[{len(c.get('episodes') or [])} episode(s)] "
        recorded_values = c.get("config_values") or {}
        for line in config_drift(c.get("config") or {}, running):
            name = line.split(":", 1)[0]
            if name in recorded_values and name in values_now:
                a, b = recorded_values[name], values_now[name]
                if name == "tasks.yaml":
                    a, b = _task_part(a, task), _task_part(b, task)
                fields = value_drift(a, b)
                if not fields and name == "tasks.yaml" and task is not None:
                    continue
                if fields:
                    lines.extend(f"{tag}{name}: {f}" for f in fields)
                    continue
            lines.append(tag + line)
    return lines


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


def checkpoint_manifest(episodes: list[Mapping[str, Any]], source: Mapping[str, Any],
                        parents: tuple[str, ...] = (), robot=None,
                        extra: Mapping[str, Any] | None = None) -> Manifest:
    """A checkpoint's manifest: its training episodes as parents (plus any base checkpoint),
    and the configurations those episodes were recorded with (`extra.data_config`), which the
    policy node compares with the running one at start (drift_report)."""
    ids = [str(m.get("id")) for m in episodes]
    more = dict(extra or {})
    more["data_config"] = summarize_data_config(list(episodes))
    return new_manifest("checkpoint", source, parents=[*parents, *ids], robot=robot,
                        extra=more)


def evaluation_manifest(checkpoint_id: str, task: str, seeds, success_rate: float,
                        robot=None, extra: Mapping[str, Any] | None = None) -> Manifest:
    """An evaluation's manifest: which checkpoint, task and seeds, and how it did."""
    source = {"type": "evaluation", "task": task, "seeds": [int(s) for s in seeds],
              "success_rate": float(success_rate)}
    return new_manifest("evaluation", source, parents=[checkpoint_id], robot=robot,
                        extra=extra)
