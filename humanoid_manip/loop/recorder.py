"""The in-process recorder: the episode loop's messages as one standard episode file.

It writes what recorder_node would record from the sim stack (docs/DESIGN.md topics, same
types, log time = simulated time), plus /sim/privileged_state for tasks that define one. The
file is written under a temporary name in OUT/.partial/ and renamed into OUT only once it is
finished, so a dataset never holds a half-written episode (a killed worker leaves at most a
.part file there, which no reader takes for an episode).
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import numpy as np

from humanoid_manip.data import cdr
from humanoid_manip.data.episode import PRIVILEGED_TOPIC, EpisodeWriter

PARTIAL_DIR = ".partial"  # inside the output folder: episodes being written


def made_by(worker: str = "") -> dict[str, Any]:
    """Which machine and process recorded an episode (lineage; never part of the data)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "worker": worker or "local"}


class EpisodeRecorder:
    """Records one episode per `start`/`finish`; reusable across episodes."""

    def __init__(self, out_dir: str | os.PathLike, index: int | None = None,
                 worker: str = "", extra: dict[str, Any] | None = None):
        self.out_dir = Path(out_dir)
        self.index = index
        self.worker = worker
        self.extra = dict(extra or {})
        self.writer: EpisodeWriter | None = None
        self.path: Path | None = None  # the final name, valid after finish()

    @property
    def partial_dir(self) -> Path:
        return self.out_dir / PARTIAL_DIR

    def start(self, sim, source: dict[str, Any], cameras=None) -> None:
        """`cameras`: the cameras this episode records (default all; none for a run without
        rendering, which the metadata says, so validation expects no frames)."""
        from humanoid_manip.teleop.recording import episode_metadata

        robot = sim.robot
        self._names = list(robot.names)
        self._fovy = {c.name: c.fovy_deg for c in robot.cameras}
        self._size = (robot.image.width, robot.image.height)
        meta = episode_metadata(robot, sim.task.name, sim.seed, source, sim=True, extra={
            "initial_state": {"qpos": sim.data.qpos.tolist(), "qvel": sim.data.qvel.tolist()},
            "made_by": made_by(self.worker),
            "cameras": list(robot.camera_names if cameras is None else cameras), **self.extra})
        self._task, self._seed = sim.task.name, sim.seed
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        name = f"{sim.task.name}_seed{sim.seed}_{os.getpid()}_{id(self):x}.mcap.part"
        self._tmp = self.partial_dir / name
        self.writer = EpisodeWriter(self._tmp, meta)

    def control(self, t_ns: int, js, action, privileged: np.ndarray | None) -> None:
        """One control tick: the measured state, the label, teleop inputs, privileged state."""
        w, names = self.writer, self._names
        w.write_cdr("/joint_states", cdr.joint_state_cdr(t_ns, names, js.position, js.velocity,
                                                         js.effort), t_ns)
        w.write_cdr("/policy/torque_request",
                    cdr.joint_state_cdr(t_ns, names, effort=action.recorded_label), t_ns)
        inp = action.teleop
        if inp is not None:
            for side, hs in inp.hands.items():
                w.write_cdr(f"/teleop/{side}_wrist_target", cdr.pose_stamped_cdr(
                    t_ns, "world", hs.wrist_pos, hs.wrist_quat), t_ns)
                w.write_cdr(f"/teleop/{side}_hand_keypoints", cdr.pose_array_cdr(
                    t_ns, f"{side}_palm_keypoints", hs.keypoints), t_ns)
            w.write_cdr("/teleop/deadman", cdr.bool_cdr(inp.deadman), t_ns)
        if privileged is not None and privileged.size:
            w.write_cdr(PRIVILEGED_TOPIC, cdr.float64_array_cdr(privileged), t_ns)

    def frame(self, t_ns: int, images: dict[str, np.ndarray]) -> None:
        w, h = self._size
        for name, img in images.items():
            self.writer.write_cdr(f"/{name}/image_raw", cdr.image_cdr(t_ns, name, img), t_ns)
            self.writer.write_cdr(f"/{name}/camera_info", cdr.camera_info_cdr(
                t_ns, name, w, h, self._fovy[name]), t_ns)

    def step(self, t_ns: int, applied: np.ndarray, events) -> None:
        """One physics step: the monitor's events and the applied torque."""
        for ev in events:
            self.writer.write_cdr("/safety/events", cdr.string_cdr(ev.to_json()), t_ns)
        self.writer.write_cdr("/effort_controller/commands", cdr.float64_array_cdr(applied),
                              t_ns)

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.writer.counts) if self.writer else {}

    def finish(self, outcome: dict[str, Any]) -> Path:
        """Close the file with its outcome and move it into the dataset under its final name."""
        from humanoid_manip.teleop.recording import episode_path

        self.writer.finish(outcome)
        final = episode_path(self.out_dir, self._task, self._seed, self.index)
        os.replace(self._tmp, final)
        self.path = final
        self._cleanup()
        return final

    def abort(self) -> None:
        """An episode that did not finish: its partial file is removed, nothing enters OUT."""
        if self.writer is not None:
            try:
                self.writer.finish({"success": None, "note": "aborted"})
            except Exception:  # noqa: BLE001 - the file goes anyway
                pass
            self._tmp.unlink(missing_ok=True)
            self._cleanup()

    def _cleanup(self) -> None:
        self.writer = None
        try:
            self.partial_dir.rmdir()  # only when empty (no other episode being written)
        except OSError:
            pass
