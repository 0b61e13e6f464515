"""Dataset validation: every defect that would silently teach a policy the wrong thing.

Each check is a small pure function of a decoded Episode that returns findings; the replay
check alone needs the simulation. Thresholds come from config/data.yaml (`validate:`).
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from humanoid_manip.data.episode import (
    CHUNK_BYTES,
    METADATA_RECORD,
    METADATA_TOPIC,
    Episode,
    EpisodeFileError,
    read_episode,
)
from humanoid_manip.data.lineage import LineageError, Manifest, drift_report
from humanoid_manip.data.schema import check_metadata
from humanoid_manip.data.settings import ValidateConfig
from humanoid_manip.errors import HumanoidManipError

SEVERITIES = ("error", "warning", "info")
MAX_DRIFT_LINES = 12


class DatasetError(HumanoidManipError):
    """A dataset path that holds no episodes, or an output that would overwrite one."""


@dataclass(frozen=True)
class Finding:
    """One thing the validator noticed about one episode."""

    episode: str
    severity: str  # error | warning | info
    check: str
    message: str


@dataclass
class Report:
    """The findings of a validation run, per episode in the order validated."""

    episodes: list[str]
    findings: list[Finding]

    def of(self, episode: str) -> list[Finding]:
        return [f for f in self.findings if f.episode == episode]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def clean(self, episode: str) -> bool:
        return not [f for f in self.of(episode) if f.severity != "info"]

    def to_json(self) -> str:
        return json.dumps({"episodes": self.episodes,
                           "findings": [asdict(f) for f in self.findings]}, indent=1)


def find_episodes(path: str | os.PathLike) -> list[Path]:
    """The .mcap episodes of a dataset folder (recursively), or the one file given."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise DatasetError(f"no such episode file or dataset folder: {p}")
    found = sorted(q for q in p.rglob("*.mcap") if q.is_file())
    if not found:
        raise DatasetError(f"{p} holds no .mcap episodes")
    return found


# -- idle -------------------------------------------------------------------------------------
def _hold(t: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """values at the latest sample at or before each grid time (the first one before it)."""
    i = np.clip(np.searchsorted(t, grid + 1e-9, side="right") - 1, 0, len(t) - 1)
    return values[i]


def idle_intervals(ep: Episode, cfg: ValidateConfig) -> tuple[np.ndarray, np.ndarray]:
    """(grid times, idle flag of each grid interval): no motion and no torque change."""
    if len(ep.t) < 2:
        return np.zeros(0), np.zeros(0, bool)
    t0, t1 = ep.start_s, ep.start_s + ep.duration_s
    grid = np.arange(t0, t1 + 1e-9, cfg.idle_grid_s)
    if len(grid) < 2:
        return grid, np.zeros(0, bool)
    q = _hold(ep.t, ep.position, grid)
    still = np.max(np.abs(np.diff(q, axis=0)), axis=1) < cfg.idle_position_tol_rad
    if len(ep.command_t) and ep.command.size:
        tau = _hold(ep.command_t, ep.command, grid)
    else:
        tau = _hold(ep.t, ep.effort, grid) if ep.effort.size else np.zeros((len(grid), 1))
    steady = np.max(np.abs(np.diff(tau, axis=0)), axis=1) < cfg.idle_torque_tol_nm
    return grid, still & steady


def idle_spans(ep: Episode, cfg: ValidateConfig) -> list[tuple[float, float]]:
    """Maximal idle stretches as (start s, end s); one that begins within settle_s of the start
    is the idle head and starts at the start (the robot settling is not the operator acting)."""
    grid, idle = idle_intervals(ep, cfg)
    spans = []
    k = 0
    while k < len(idle):
        if idle[k]:
            j = k
            while j < len(idle) and idle[j]:
                j += 1
            spans.append((float(grid[k]), float(grid[j])))
            k = j
        else:
            k += 1
    if spans and spans[0][0] - ep.start_s <= cfg.settle_s:
        spans[0] = (ep.start_s, spans[0][1])
    return spans


def active_span(ep: Episode, cfg: ValidateConfig) -> tuple[float, float]:
    """The episode with its idle head and tail cut (keeping keep_idle_s of each)."""
    t0, t1 = ep.start_s, ep.start_s + ep.duration_s
    spans = idle_spans(ep, cfg)
    if spans and spans[0][0] <= t0 + 1e-6:
        t0 = max(t0, spans[0][1] - cfg.keep_idle_s)
    if spans and spans[-1][1] >= t1 - cfg.idle_grid_s - 1e-6 and spans[-1][0] > t0:
        t1 = min(t1, spans[-1][0] + cfg.keep_idle_s)
    return t0, t1


def check_idle(ep: Episode, cfg: ValidateConfig) -> Iterable[tuple[str, str, str]]:
    t0, t1 = ep.start_s, ep.start_s + ep.duration_s
    for a, b in idle_spans(ep, cfg):
        length = b - a
        head = a <= t0 + 1e-6
        tail = b >= t1 - cfg.idle_grid_s - 1e-6
        where = "head" if head else "tail" if tail else "middle"
        fixable = " (--fix cuts it)" if (head or tail) and not (head and tail) else ""
        text = (f"idle {length:.1f} s at {a - t0:.1f}-{b - t0:.1f} s ({where}): no joint "
                f"motion and no torque change{fixable}")
        if length > cfg.idle_max_s:
            yield "error", "idle", text
        elif (head or tail) and length > cfg.edge_idle_s:
            yield "warning", "idle", text


# -- numbers and timing -----------------------------------------------------------------------
def check_finite(ep: Episode, names: list[str]) -> Iterable[tuple[str, str, str]]:
    streams = (("joint position", ep.t, ep.position), ("joint velocity", ep.t, ep.velocity),
               ("joint effort", ep.t, ep.effort), ("applied torque", ep.command_t, ep.command),
               ("torque request", ep.request_t, ep.request))
    for label, t, a in streams:
        if not a.size:
            continue
        bad = ~np.isfinite(a)
        if bad.any():
            rows, cols = np.nonzero(bad)
            joint = names[cols[0]] if cols[0] < len(names) else f"#{cols[0]}"
            yield ("error", "nan_inf", f"{label}: {int(bad.sum())} NaN/Inf value(s), first "
                   f"{joint} at {t[rows[0]] - ep.start_s:.3f} s")


def _timing(label: str, t: np.ndarray, stamp: np.ndarray | None, cfg: ValidateConfig,
            start: float) -> Iterable[tuple[str, str, str]]:
    if len(t) < 2:
        return
    for kind, times in (("log time", t), ("header stamp", stamp)):
        if times is None or len(times) < 2:
            continue
        d = np.diff(times)
        back = np.flatnonzero(d <= 0)
        if len(back):
            yield ("error", "timestamps", f"{label}: {kind} not increasing {len(back)} time(s), "
                   f"first at {times[back[0]] - start:.3f} s ({d[back[0]] * 1e3:+.1f} ms)")
    d = np.diff(t)
    period = float(np.median(d[d > 0])) if np.any(d > 0) else 0.0
    if period <= 0:
        return
    gaps = np.flatnonzero(d > cfg.gap_factor * period)
    if len(gaps):
        worst = gaps[np.argmax(d[gaps])]
        yield ("warning", "timestamps", f"{label}: {len(gaps)} gap(s) over {cfg.gap_factor:g}x "
               f"the {period * 1e3:.1f} ms period, longest {d[worst]:.3f} s at "
               f"{t[worst] - start:.3f} s")


def check_timing(ep: Episode, cfg: ValidateConfig) -> Iterable[tuple[str, str, str]]:
    if len(ep.t) == 0:
        yield "error", "streams", "no /joint_states"
    if len(ep.command_t) == 0:
        yield "error", "streams", "no applied torques (/effort_controller/commands): no labels"
    yield from _timing("/joint_states", ep.t, ep.stamp, cfg, ep.start_s)
    yield from _timing("/effort_controller/commands", ep.command_t, None, cfg, ep.start_s)


def recorded_cameras(ep: Episode, robot) -> tuple[str, ...]:
    """The cameras an episode says it recorded (metadata `cameras`; older files: all)."""
    cams = ep.metadata.get("cameras")
    return tuple(robot.camera_names) if cams is None else tuple(cams)


def check_cameras(ep: Episode, cameras: tuple[str, ...], camera_hz: float,
                  cfg: ValidateConfig) -> Iterable[tuple[str, str, str]]:
    period = 1.0 / camera_hz
    t0, t1 = ep.start_s, ep.start_s + ep.duration_s
    for cam in cameras:
        t = ep.image_t.get(cam)
        if t is None or len(t) == 0:
            yield "error", "cameras", f"{cam}: no frames at all"
            continue
        d = np.diff(t)
        if np.any(d <= 0):
            yield ("error", "timestamps", f"{cam}: frame times not increasing "
                   f"{int(np.sum(d <= 0))} time(s)")
        stamps = ep.image_stamp.get(cam)
        if stamps is not None and len(stamps) > 1 and np.any(np.diff(stamps) <= 0):
            yield ("error", "timestamps", f"{cam}: header stamps not increasing "
                   f"{int(np.sum(np.diff(stamps) <= 0))} time(s)")
        # expected frames in every interval, including before the first and after the last
        edges = np.concatenate([[t0], t, [t1]])
        gaps = np.diff(edges)
        inner = gaps[1:-1]
        dropped = int(np.sum(np.maximum(np.round(inner[inner > cfg.drop_factor * period]
                                                 / period) - 1, 0)))
        for edge in (gaps[0], gaps[-1]):
            if edge > cfg.drop_factor * period:
                dropped += int(np.floor(edge / period))
        if dropped:
            longest = float(np.max(gaps))
            at = float(edges[np.argmax(gaps)] - t0)
            expected = int(round((t1 - t0) * camera_hz)) + 1
            yield ("warning", "cameras", f"{cam}: {dropped} dropped frame(s) of ~{expected} "
                   f"expected at {camera_hz:g} Hz, longest gap {longest:.3f} s at {at:.2f} s")


def check_saturation(ep: Episode, robot, cfg: ValidateConfig) -> Iterable[tuple[str, str, str]]:
    if not ep.command.size:
        return
    if ep.command.shape[1] != robot.n:
        yield ("error", "torques", f"applied torques have {ep.command.shape[1]} values, the "
               f"robot has {robot.n} joints")
        return
    with np.errstate(invalid="ignore"):
        sat = np.abs(ep.command) >= cfg.saturation_margin * robot.effort_limit
    frac = sat.mean(axis=0)
    j = int(np.argmax(frac))
    worst = float(frac[j])
    text = (f"torque saturation: {robot.names[j]} at its {robot.effort_limit[j]:g} N·m limit "
            f"{worst:.0%} of the time; any joint {float(sat.any(axis=1).mean()):.0%}")
    if worst > cfg.saturation_error_fraction:
        yield "error", "saturation", text
    elif worst > cfg.saturation_warn_fraction:
        yield "warning", "saturation", text


def check_joints(ep: Episode, robot) -> Iterable[tuple[str, str, str]]:
    if ep.joint_names and list(ep.joint_names) != list(robot.names):
        missing = sorted(set(robot.names) - set(ep.joint_names))
        extra = sorted(set(ep.joint_names) - set(robot.names))
        detail = (f"missing {missing[:4]}, unknown {extra[:4]}" if missing or extra
                  else "same joints in another order")
        yield ("error", "joints", f"joint names differ from the canonical order "
               f"(config/robot.yaml): {detail}")


def check_meta(ep: Episode) -> Iterable[tuple[str, str, str]]:
    errors, warnings = check_metadata(ep.metadata)
    for e in errors:
        check = ("outcome" if "outcome" in e else "lineage" if "lineage" in e else "metadata")
        yield "error", check, e
    for w in warnings:
        yield "warning", "outcome" if "outcome" in w else "metadata", w


def check_drift(ep: Episode, robot) -> Iterable[tuple[str, str, str]]:
    lineage = ep.metadata.get("lineage")
    if not isinstance(lineage, dict):
        return
    try:
        Manifest.from_dict(lineage)
    except LineageError:
        return
    task = ep.metadata.get("task") if isinstance(ep.metadata.get("task"), str) else None
    lines = drift_report(lineage, robot, task=task)
    for line in lines[:MAX_DRIFT_LINES]:
        if "not recorded in the data" in line:  # a file added to the fingerprint since
            yield "info", "config_drift", f"configuration not recorded: {line}"
            continue
        yield "warning", "config_drift", f"recorded with other configuration: {line}"
    if len(lines) > MAX_DRIFT_LINES:
        yield ("warning", "config_drift", f"... and {len(lines) - MAX_DRIFT_LINES} more "
               "configuration differences")


def check_episode(ep: Episode, robot, cfg: ValidateConfig) -> list[tuple[str, str, str]]:
    """Every check that needs no simulation, as (severity, check, message)."""
    names = ep.joint_names or list(robot.names)
    out = []
    for gen in (check_meta(ep), check_drift(ep, robot), check_joints(ep, robot),
                check_finite(ep, names), check_timing(ep, cfg),
                check_cameras(ep, recorded_cameras(ep, robot), robot.rates.camera_hz, cfg),
                check_idle(ep, cfg), check_saturation(ep, robot, cfg)):
        out.extend(gen)
    return out


# -- replay -----------------------------------------------------------------------------------
def first_frames(path: str | os.PathLike, cameras) -> dict[str, tuple[float, np.ndarray]]:
    """The first recorded frame of each camera (time s, H×W×3), without reading the rest."""
    out = {}
    for cam, (t, msg) in _first_images(path, cameras).items():
        if msg.encoding == "rgb8" and len(msg.data) == msg.height * msg.width * 3:
            frame = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3)
            out[cam] = (t, frame)
    return out


def _first_images(path, cameras) -> dict[str, tuple[float, Any]]:
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    topics = [f"/{c}/image_raw" for c in cameras]
    out: dict[str, tuple[float, Any]] = {}
    with open(path, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        for _s, channel, message, msg in reader.iter_decoded_messages(topics=topics):
            cam = channel.topic.strip("/").split("/")[0]
            out.setdefault(cam, (message.log_time * 1e-9, msg))
            if len(out) == len(topics):
                break
    return out


def check_image_format(path, robot) -> list[tuple[str, str, str]]:
    """Each camera's frames must be rgb8 at the image size of config/robot.yaml."""
    want = (robot.image.height, robot.image.width)
    out = []
    for cam, (_t, msg) in _first_images(path, robot.camera_names).items():
        if msg.encoding != "rgb8" or (msg.height, msg.width) != want:
            out.append(("error", "cameras", f"{cam}: frames are {msg.encoding} "
                        f"{msg.width}x{msg.height}, the policy takes rgb8 "
                        f"{want[1]}x{want[0]} (config/robot.yaml image)"))
    return out


def replay_skip_reason(ep: Episode, robot) -> str | None:
    """Why this episode cannot be replayed in simulation, or None when it can."""
    from humanoid_manip.sim.tasks import task_names

    meta = ep.metadata
    if meta.get("sim") is False:
        return "real-robot episode"
    if (meta.get("trim") or {}).get("start_s", 0) > 0:
        return "trimmed copy (replay its original)"
    if meta.get("task") not in task_names():
        return f"task {meta.get('task')!r} is not in the simulator's registry"
    seed = meta.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        return "no seed recorded"
    if not ep.command.size or ep.command.shape[1] != robot.n:
        return "no usable applied torques"
    if not np.all(np.isfinite(ep.command)):
        return "applied torques hold NaN/Inf"
    return None


def check_replay(ep: Episode, robot, cfg: ValidateConfig) -> list[tuple[str, str, str]]:
    """Play the applied torques open loop from the seed's initial state; compare to the record.

    The recorded outcome (success, progress), the joint trajectory and the first camera frames
    must be reproduced: labels from another seed or episode fail here.
    """
    from humanoid_manip.sim import RenderError, Simulation, SimulationError

    reason = replay_skip_reason(ep, robot)
    if reason:
        return [("info", "replay", f"replay skipped: {reason}")]
    frames = {}
    try:
        frames = first_frames(ep.path, robot.camera_names)
    except Exception:  # noqa: BLE001 - unreadable images are reported by other checks
        frames = {}
    try:
        sim = Simulation(ep.metadata["task"], ep.metadata["seed"], robot=robot,
                         render=bool(frames))
    except (SimulationError, HumanoidManipError) as exc:
        return [("warning", "replay", f"replay impossible: {exc}")]
    out: list[tuple[str, str, str]] = []
    with sim:
        start = _initial_state(sim, ep.metadata.get("initial_state"))
        out.extend(start)
        # with the seed's initial state confirmed, other first frames mean the rendering
        # changed since the recording (a warning); without it, likely another seed (an error)
        verified = not start and isinstance(ep.metadata.get("initial_state"), dict)
        dt = sim.dt
        applied = applied_torques(ep, dt)
        t0, n = applied.t0, len(applied.torque)
        render_at = {}
        for cam, (tf, _img) in frames.items():
            render_at.setdefault(int(round((tf - t0) / dt)), []).append(cam)
        q = np.empty((n + 1, robot.n))
        qadr = sim.index.qpos
        try:
            for k in range(n):
                q[k] = sim.data.qpos[qadr]
                if k in render_at:
                    try:
                        out.extend(_compare_frames(sim, frames, render_at[k], cfg, verified,
                                                   ep.metadata))
                    except RenderError as exc:  # no OpenGL here: the rest still counts
                        render_at.clear()
                        out.append(("info", "replay", f"first frames not compared: {exc}"))
                sim.step(applied.torque[k])
                if k < len(applied.braked):  # as sim_node did before the first command
                    sim.data.qpos[qadr] = applied.braked[k]
                    sim.data.qvel[sim.index.dof] = 0.0
            q[n] = sim.data.qpos[qadr]
        except SimulationError as exc:
            return out + [("error", "replay", f"replay stopped: {exc}")]
        success, progress = sim.success(), sim.progress()
    reproduced = True
    if len(ep.t) and ep.position.shape[1:] == (robot.n,):
        kj = np.round((ep.t - t0) / dt).astype(int)
        ok = (kj >= 0) & (kj <= n)
        if ok.any():
            err = np.abs(q[kj[ok]] - ep.position[ok])
            err = np.where(np.isfinite(err), err, 0.0)
            row, col = np.unravel_index(int(np.argmax(err)), err.shape)
            worst = float(err[row, col])
            if worst > cfg.replay_position_tol_rad:
                reproduced = False
                out.append(("error", "replay", f"the recorded torques do not reproduce the "
                            f"recorded motion: {robot.names[col]} off by {worst:.3f} rad at "
                            f"{ep.t[ok][row] - t0:.2f} s (labels from another seed or "
                            "episode?)"))
    return out + _check_outcome(ep.metadata, success, progress, reproduced, cfg)


def _check_outcome(meta: dict, success: bool, progress: float, reproduced: bool,
                   cfg: ValidateConfig) -> list[tuple[str, str, str]]:
    """The recorded outcome against the referee's verdict on the replayed episode.

    A loop that records the referee's verdict (experts, policies) must be reproduced: another
    outcome means the labels are from another episode. A teleoperator's label is a human
    judgement, which can differ from the simulated referee's for good reasons (a grasp the
    referee's threshold misses): that is its own finding, and only once the replay has
    reproduced the motion (else the replayed verdict says nothing about the episode).
    """
    outcome = meta.get("outcome") or {}
    marked = outcome.get("success")
    out = []
    if isinstance(marked, bool) and marked != success:
        said = {True: "success", False: "failure"}
        if (meta.get("source") or {}).get("type") != "teleop":
            out.append(("error", "replay", f"replay outcome differs: recorded success={marked}, "
                        f"replayed {success} (labels from another seed or episode?)"))
        elif reproduced:
            out.append(("warning", "label", f"operator label disagrees with the referee: "
                        f"marked {said[marked]}, the referee scores the replayed episode "
                        f"{said[success]} (progress {progress:.2f})"))
    rec_p = outcome.get("progress")
    if isinstance(rec_p, (int, float)) and abs(rec_p - progress) > cfg.replay_progress_tol:
        out.append(("error", "replay", f"replay progress differs: recorded {rec_p:.3f}, "
                    f"replayed {progress:.3f}"))
    return out


@dataclass
class AppliedTorques:
    """What the simulation did at each physics step from the episode's start."""

    t0: float  # the start (s, the recording's clock)
    torque: np.ndarray  # [steps, joints] applied during each step
    braked: np.ndarray  # [m, joints]: the first m steps ended with the robot held here


def applied_torques(ep: Episode, dt: float) -> AppliedTorques:
    """The torque of each physics step from the start of the episode.

    A simulation that publishes its measured efforts after every step, and whose reset time is
    in the metadata (`start_time`, from sim_node), gives them exactly: the effort stamped
    t0 + (k+1)·dt is what step k applied. sim_node holds the robot still until the first
    command arrives (`brake_until_command`): those leading steps show exactly zero velocity and
    effort, and the replay holds the robot there too. Otherwise each step takes the last command
    received by its midpoint; over DDS receive times can be a step off, so live sessions need
    the first way.
    """
    t0 = ep.metadata.get("start_time")
    if isinstance(t0, (int, float)) and not isinstance(t0, bool) and len(ep.stamp) and \
            ep.effort.shape == ep.position.shape == ep.velocity.shape == \
            (len(ep.stamp), len(ep.joint_names)):
        k = np.round((ep.stamp - t0) / dt).astype(int) - 1
        n = int(k.max()) + 1
        if n > 0 and np.array_equal(np.unique(k[k >= 0]), np.arange(n)):
            rows = np.empty(n, dtype=int)
            rows[k[k >= 0]] = np.flatnonzero(k >= 0)
            torque = ep.effort[rows]
            still = np.all(ep.velocity[rows] == 0.0, axis=1) & np.all(torque == 0.0, axis=1)
            m = int(np.argmin(still)) if not still.all() else n
            if np.all(np.isfinite(torque)):
                return AppliedTorques(float(t0), torque, ep.position[rows[:m]])
    t0 = ep.start_s
    n = int(round((ep.command_t[-1] - t0) / dt)) + 1
    ci = np.searchsorted(ep.command_t, t0 + np.arange(n) * dt + dt / 2, side="right") - 1
    torque = np.where(ci[:, None] >= 0, ep.command[np.maximum(ci, 0)], 0.0)
    return AppliedTorques(t0, torque, np.zeros((0, torque.shape[1])))


def _initial_state(sim, recorded) -> list[tuple[str, str, str]]:
    """Start from the recorded initial state (when the metadata has one), after checking that
    it is the one the seed resets to."""
    import mujoco

    if not isinstance(recorded, dict) or "qpos" not in recorded:
        return []
    qpos = np.asarray(recorded["qpos"], dtype=float)
    qvel = np.asarray(recorded.get("qvel", np.zeros(sim.model.nv)), dtype=float)
    if qpos.shape != (sim.model.nq,) or qvel.shape != (sim.model.nv,):
        return [("error", "replay", f"recorded initial state has {qpos.size} positions, the "
                 f"seed's scene {sim.model.nq}: another task or scene version")]
    out = []
    diff = float(np.max(np.abs(qpos - sim.data.qpos))) if qpos.size else 0.0
    if diff > 1e-6:
        out.append(("error", "replay", f"recorded initial state differs from the seed's reset "
                    f"by {diff:.4f} (recorded with another seed?)"))
    sim.data.qpos[:] = qpos
    sim.data.qvel[:] = qvel
    mujoco.mj_forward(sim.model, sim.data)
    return out


def _compare_frames(sim, frames, cams, cfg: ValidateConfig, state_verified: bool,
                    metadata: dict) -> list[tuple[str, str, str]]:
    rendered = sim.render()
    out = []
    for cam in cams:
        rec = frames[cam][1]
        img = rendered.get(cam)
        if img is None or img.shape != rec.shape:
            continue
        diff = float(np.mean(np.abs(img.astype(np.int16) - rec.astype(np.int16))))
        if diff <= cfg.replay_image_tol:
            continue
        if state_verified:
            version = (metadata.get("lineage") or {}).get("code_version", "?")
            out.append(("warning", "replay", f"{cam}: first frame differs from what the "
                        f"simulator renders now (mean |diff| {diff:.1f}/255) though the initial "
                        f"state matches: rendering changed since the recording (code "
                        f"{version})?"))
        else:
            out.append(("error", "replay", f"{cam}: first frame differs from the seed's scene "
                        f"(mean |diff| {diff:.1f}/255): recorded with another seed or task?"))
    return out


# -- whole datasets ---------------------------------------------------------------------------
def validate_episode(path: Path, robot, cfg: ValidateConfig, replay: bool = True,
                     name: str | None = None) -> list[Finding]:
    """All findings for one episode file."""
    name = name or str(path)
    try:
        ep = read_episode(path, images=False, file_order=True)
    except EpisodeFileError as exc:
        return [Finding(name, "error", "file", str(exc))]
    found = check_episode(ep, robot, cfg)
    try:
        found.extend(check_image_format(path, robot))
    except Exception as exc:  # noqa: BLE001 - the mcap library raises many kinds
        found.append(("error", "cameras", f"camera frames cannot be decoded: {exc}"))
    if replay and cfg.replay:
        # replay reads the torques in time order
        ordered = ep if np.all(np.diff(ep.command_t) > 0) else read_episode(path, images=False)
        found.extend(check_replay(ordered, robot, cfg))
    return [Finding(name, s, c, m) for s, c, m in found]


def validate(path: str | os.PathLike, robot=None, cfg: ValidateConfig | None = None,
             replay: bool = True, progress: bool = False) -> Report:
    """Validate one episode or every episode of a dataset folder."""
    from tqdm import tqdm

    if robot is None:
        from humanoid_manip.robot import load_robot

        robot = load_robot()
    if cfg is None:
        from humanoid_manip.data.settings import load_data_config

        cfg = load_data_config().validate
    root = Path(path)
    files = find_episodes(root)
    report = Report([], [])
    for f in tqdm(files, desc="validate", unit="ep", disable=not progress):
        name = str(f.relative_to(root)) if root.is_dir() else f.name
        report.episodes.append(name)
        report.findings.extend(validate_episode(f, robot, cfg, replay, name))
    return report


def format_report(report: Report) -> str:
    """A table of findings, worst first within each episode, then a summary line."""
    order = {s: i for i, s in enumerate(SEVERITIES)}
    rows = [("episode", "severity", "check", "finding")]
    for ep in report.episodes:
        fs = sorted(report.of(ep), key=lambda f: order[f.severity])
        if not fs:
            rows.append((ep, "ok", "-", "clean"))
        rows.extend((ep, f.severity, f.check, f.message) for f in fs)
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{a:<{w[0]}}  {b:<{w[1]}}  {c:<{w[2]}}  {d}" for a, b, c, d in rows]
    lines.insert(1, "-" * min(120, sum(w) + 6 + max(len(r[3]) for r in rows)))
    n_err = len({f.episode for f in report.errors})
    n_warn = len({f.episode for f in report.findings if f.severity == "warning"}
                 - {f.episode for f in report.errors})
    n_clean = sum(report.clean(e) for e in report.episodes)
    lines.append(f"\n{len(report.episodes)} episode(s): {n_clean} clean, {n_warn} with "
                 f"warnings only, {n_err} with errors")
    return "\n".join(lines)


# -- --fix ------------------------------------------------------------------------------------
def _cdr_string(text: str) -> bytes:
    """A std_msgs/String in little-endian CDR."""
    raw = text.encode() + b"\0"
    return b"\x00\x01\x00\x00" + len(raw).to_bytes(4, "little") + raw


def write_trimmed(src: Path, dst: Path, t0: float, t1: float, robot=None) -> Path:
    """Copy an episode keeping only messages logged in [t0, t1]; metadata says so, with a new
    lineage manifest whose parent is the original's. The source is never modified."""
    from mcap.reader import make_reader
    from mcap.writer import Writer

    from humanoid_manip.data.lineage import new_manifest

    if dst.resolve() == src.resolve():
        raise DatasetError(f"--fix never overwrites an original: {dst}")
    ep_meta = read_episode(src, images=False).metadata
    meta = dict(ep_meta)
    meta["trim"] = {"from": str(src), "start_s": round(t0, 6), "end_s": round(t1, 6)}
    parent = (ep_meta.get("lineage") or {}).get("id")
    source = dict((ep_meta.get("lineage") or {}).get("source") or {})
    source["trimmed_from"] = parent
    meta["lineage"] = asdict(new_manifest("episode", source, parents=[parent] if parent else [],
                                          robot=robot))
    text = json.dumps(meta, sort_keys=True)
    lo, hi = int(round(t0 * 1e9)), int(round(t1 * 1e9))
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as f, open(dst, "wb") as out:
        reader = make_reader(f)
        w = Writer(out, chunk_size=CHUNK_BYTES)
        w.start(profile="ros2", library="humanoid_manip validate --fix")
        schemas: dict[int, int] = {}
        channels: dict[int, int] = {}
        for schema, channel, message in reader.iter_messages(log_time_order=False):
            if channel.id not in channels:
                sid = 0
                if schema is not None:
                    if schema.id not in schemas:
                        schemas[schema.id] = w.register_schema(schema.name, schema.encoding,
                                                               schema.data)
                    sid = schemas[schema.id]
                channels[channel.id] = w.register_channel(channel.topic,
                                                          channel.message_encoding, sid,
                                                          channel.metadata)
            data = message.data
            if channel.topic == METADATA_TOPIC:
                data = _cdr_string(text)
                log_time = min(max(message.log_time, lo), hi)
            elif lo <= message.log_time <= hi:
                log_time = message.log_time
            else:
                continue
            w.add_message(channels[channel.id], log_time, data, log_time, message.sequence)
        w.add_metadata(METADATA_RECORD, {"json": text})
        w.finish()
    return dst


def fix_dataset(path: str | os.PathLike, out: str | os.PathLike, robot=None,
                cfg: ValidateConfig | None = None) -> list[tuple[Path, Path, float, float]]:
    """Write trimmed copies (idle head/tail cut) of the episodes that have one, under `out`."""
    if cfg is None:
        from humanoid_manip.data.settings import load_data_config

        cfg = load_data_config().validate
    root = Path(path)
    out = Path(out)
    files = find_episodes(root)
    if out.resolve() == (root if root.is_dir() else root.parent).resolve():
        raise DatasetError("--fix writes copies elsewhere; give an output folder other than "
                           "the dataset's")
    done = []
    for f in files:
        try:
            ep = read_episode(f, images=False)
        except EpisodeFileError:
            continue
        t0, t1 = active_span(ep, cfg)
        if t0 - ep.start_s < 1e-6 and ep.start_s + ep.duration_s - t1 < 1e-6:
            continue
        rel = f.relative_to(root) if root.is_dir() else Path(f.name)
        dst = out / rel
        write_trimmed(f, dst, t0, t1, robot)
        done.append((f, dst, t0 - ep.start_s, t1 - ep.start_s))
    return done
