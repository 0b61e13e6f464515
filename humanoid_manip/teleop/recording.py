"""Episode bookkeeping shared by recorder_node and `collect`: names, metadata, lineage, outcome."""
from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from humanoid_manip import paths
from humanoid_manip.config import file_sha256
from humanoid_manip.data.episode import PRIVILEGED_TOPIC, TOPIC_TYPES
from humanoid_manip.data.lineage import new_manifest
from humanoid_manip.robot import RobotSpec

# What recorder_node records (the docs/DESIGN.md topics); /clock is left out (log times
# suffice), and so is the simulator's privileged state, which only the in-process loop writes.
RECORDED_TOPICS: tuple[str, ...] = tuple(t for t in TOPIC_TYPES if t not in (
    "/clock", "/episode/metadata", PRIVILEGED_TOPIC))


def episode_metadata(robot: RobotSpec, task: str, seed: int | None, source: dict[str, Any],
                     sim: bool, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The episode metadata record: task, seed, source (operator/device or expert), lineage."""
    src = {"task": task, "seed": seed, "sim": sim, **source}
    manifest = new_manifest("episode", src, robot=robot)
    teleop_yaml = paths.config_path("teleop.yaml")
    if teleop_yaml.is_file():  # the teleop path's settings shape the demonstrations too
        manifest.config["teleop.yaml"] = file_sha256(teleop_yaml)
    meta = {"task": task, "seed": seed, "source": dict(source), "sim": sim,
            "robot": {"joints": list(robot.names), "cameras": list(robot.camera_names),
                      "image": [robot.image.width, robot.image.height],
                      "rates": asdict(robot.rates)},
            "lineage": asdict(manifest), "started": time.time()}
    meta.update(extra or {})
    return meta


def episode_path(out_dir: str | Path, task: str, seed: int | None,
                 index: int | None = None) -> Path:
    """A new file name in out_dir: <task>_seed<seed>_<UTC time>[_<index>].mcap, never reused."""
    out = Path(out_dir)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = f"{task or 'episode'}_seed{seed if seed is not None else 'na'}_{stamp}"
    if index is not None:
        base += f"_{index:04d}"
    p = out / f"{base}.mcap"
    n = 1
    while p.exists():
        p = out / f"{base}-{n}.mcap"
        n += 1
    return p
