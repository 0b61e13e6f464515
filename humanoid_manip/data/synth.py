"""Synthetic episodes with known content and known defects, for tests and benchmarks.

`write_synthetic` needs no simulator: smooth joint motion, torques and noise frames, with
optional defects. `record_sim` runs the real simulation under a small seed-driven PD
demonstrator, so its episodes pass (or, with labels from another seed, fail) the replay check.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from humanoid_manip.data.cdr import float64_array_cdr, image_cdr, joint_state_cdr
from humanoid_manip.data.episode import EpisodeWriter
from humanoid_manip.data.schema import episode_metadata

NS = 1_000_000_000


@dataclass
class Defects:
    """What to break in a synthetic episode (all off by default)."""

    idle_at_s: float | None = None  # insert an idle stretch starting here ...
    idle_s: float = 0.0  # ... this long (joint states and torques at idle_hz, no frames)
    idle_hz: float = 10.0
    nan_torque_at_s: float | None = None  # one applied torque NaN here
    drop_frames: tuple[float, float] | None = None  # no camera frames in [a, b) s
    gap: tuple[float, float] | None = None  # no joint states or torques in [a, b) s
    backwards_at_s: float | None = None  # a joint state logged 5 ms in the past here
    saturate: bool = False  # one joint's torque held at its effort limit throughout
    no_outcome: bool = False  # never call finish's outcome (metadata without it)


def _noise_frame(rng: np.random.Generator, h: int, w: int, k: int) -> np.ndarray:
    base = rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8)
    img = np.kron(base, np.ones((8, 8, 1), np.uint8))
    return np.roll(img, k, axis=1)


def write_synthetic(path: str | os.PathLike, robot, seconds: float = 2.0, seed: int = 0,
                    task: str = "pick_place", defects: Defects | None = None,
                    metadata: Mapping[str, Any] | None = None, success: bool = True,
                    rate_hz: float | None = None, images: bool = True,
                    request_scale: float | None = None,
                    image_size: tuple[int, int] | None = None) -> Path:
    """A moving episode: joint states and torques at rate_hz (physics rate), three cameras;
    with request_scale, torque requests too (request_scale x the applied torque)."""
    d = defects or Defects()
    rng = np.random.default_rng(seed)
    rate = rate_hz or robot.rates.physics_hz
    cam_hz = robot.rates.camera_hz
    w, h = image_size if image_size else (robot.image.width, robot.image.height)
    n = robot.n
    phase = rng.uniform(0, 2 * np.pi, n)
    amp = 0.05 + 0.1 * rng.random(n)
    meta = dict(metadata) if metadata is not None else episode_metadata(
        task, seed, {"type": "expert", "name": "synthetic"}, sim=False, robot=robot)
    frames = [_noise_frame(rng, h, w, k) for k in range(8)]
    sat_j = int(np.argmax(robot.effort_limit))

    def state(t):
        q = robot.home + amp * np.sin(2 * np.pi * 0.5 * t + phase)
        v = amp * 2 * np.pi * 0.5 * np.cos(2 * np.pi * 0.5 * t + phase)
        tau = 0.2 * robot.effort_limit * np.sin(2 * np.pi * 0.3 * t + phase)
        if d.saturate:
            tau[sat_j] = robot.effort_limit[sat_j]
        return q, v, tau

    w_ = EpisodeWriter(path, meta)
    idle_at = d.idle_at_s if d.idle_at_s is not None else np.inf
    k = 0
    t = 0.0
    frozen = None
    next_frame = 0.0
    fk = 0
    while t <= seconds + d.idle_s + 1e-9:
        in_idle = idle_at <= t < idle_at + d.idle_s
        motion_t = t if t < idle_at else (idle_at if in_idle else t - d.idle_s)
        if in_idle:
            frozen = frozen or state(idle_at)
            q, v, tau = frozen[0], np.zeros(n), frozen[2]
        else:
            q, v, tau = state(motion_t)
        tau = tau.copy()
        if d.nan_torque_at_s is not None and abs(t - d.nan_torque_at_s) < 0.5 / rate:
            tau[3] = np.nan
        t_ns = int(round(t * NS))
        log_ns = t_ns
        if d.backwards_at_s is not None and abs(t - d.backwards_at_s) < 0.5 / rate:
            log_ns = t_ns - 5_000_000
        if d.gap is None or not d.gap[0] <= t < d.gap[1]:
            w_.write_cdr("/joint_states", joint_state_cdr(log_ns, robot.names, q, v, tau),
                         log_ns)
            w_.write_cdr("/effort_controller/commands", float64_array_cdr(tau), t_ns)
            if request_scale is not None:
                w_.write_cdr("/policy/torque_request", joint_state_cdr(
                    t_ns, robot.names, effort=request_scale * tau), t_ns)
        dropped = d.drop_frames is not None and d.drop_frames[0] <= t < d.drop_frames[1]
        if images and t + 1e-9 >= next_frame:
            next_frame += 1.0 / cam_hz
            if not in_idle and not dropped:
                for ci, cam in enumerate(robot.camera_names):
                    w_.write_cdr(f"/{cam}/image_raw", image_cdr(t_ns, cam, frames[(fk + ci) % 8]),
                             t_ns)
                fk += 1
        k += 1
        t = k / rate if not in_idle else t + 1.0 / d.idle_hz
        if in_idle and t >= idle_at + d.idle_s:  # resume on the fast grid
            k = int(np.ceil(t * rate))
            t = k / rate
    if d.no_outcome:
        w_._writer.finish()  # closed with its index, but the outcome never recorded
        w_._file.close()
        return Path(path)
    return w_.finish({"success": success, "progress": 1.0 if success else 0.0,
                      "note": "synthetic"})


@dataclass
class SimRecording:
    """What record_sim returns: the file, and what the simulation said at the end."""

    path: Path
    success: bool
    progress: float
    torques: np.ndarray


class PDDemonstrator:
    """Gravity compensation plus PD to sinusoidal joint targets drawn from a seed: a cheap,
    deterministic stand-in for an expert, whose motion differs from seed to seed."""

    def __init__(self, robot, seed: int):
        rng = np.random.default_rng(seed)
        self.robot = robot
        self.phase = rng.uniform(0, 2 * np.pi, robot.n)
        self.amp = 0.1 + 0.2 * rng.random(robot.n)
        self.freq = rng.uniform(0.3, 0.8, robot.n)

    def act(self, sim) -> np.ndarray:
        r = self.robot
        js = sim.joint_state()
        q_des = np.clip(r.home + self.amp * np.sin(2 * np.pi * self.freq * sim.time
                                                   + self.phase), r.lower, r.upper)
        bias = sim.data.qfrc_bias[sim.index.dof]
        tau = bias + r.kp * (q_des - js.position) - r.kd * js.velocity
        return np.clip(tau, -r.effort_limit, r.effort_limit)


def record_sim(path: str | os.PathLike, robot, task: str = "pick_place", seed: int = 0,
               seconds: float = 1.0, labels_from_seed: int | None = None,
               claim_seed: int | None = None, render: bool = True,
               sim=None, live_brake_steps: int | None = None) -> SimRecording:
    """Record a real simulated episode (joint states, applied torques, rendered cameras).

    labels_from_seed: write the applied torques of a run with that seed instead of this
    episode's own: a mislabelled episode that the replay check must reject.
    claim_seed: record this seed in the metadata instead of the one simulated.
    render=False records no camera frames (faster; the episode then lacks its cameras).
    live_brake_steps: record as sim_node and the recorder did over DDS before record_sync: the
    robot held still with zero torque for that many steps (brake_until_command), joint states
    with the measured efforts after every step, the reset time as `start_time`, no initial
    state, and each command logged when it "arrives", a random 0-2 steps late.
    """
    from humanoid_manip.data.episode import string_msg
    from humanoid_manip.sim import Simulation

    own = sim is None
    sim = sim if sim is not None else Simulation(task, seed, robot=robot)
    try:
        labels = None
        if labels_from_seed is not None:
            sim.reset(labels_from_seed)
            other = PDDemonstrator(robot, labels_from_seed)
            labels = np.empty((int(round(seconds / sim.dt)), robot.n))
            for k in range(len(labels)):
                labels[k] = other.act(sim)
                sim.step(labels[k])
        sim.reset(seed)
        demo = PDDemonstrator(robot, seed)
        meta = episode_metadata(task, seed if claim_seed is None else claim_seed,
                                {"type": "expert", "name": "pd_demonstrator"}, sim=True,
                                robot=robot)
        live = live_brake_steps is not None
        if live:
            meta["start_time"] = sim.time
        else:
            meta["initial_state"] = {"qpos": sim.data.qpos.tolist(),
                                     "qvel": sim.data.qvel.tolist()}
        steps = int(round(seconds / sim.dt))
        applied = np.empty((steps, robot.n))
        w = EpisodeWriter(path, meta)
        if live:
            _record_live(w, sim, demo, robot, steps, live_brake_steps, labels, applied, render,
                         np.random.default_rng(seed + 1))
        else:
            for k in range(steps):
                t_ns = int(round(sim.time * NS))
                js = sim.joint_state()
                w.write_cdr("/joint_states", joint_state_cdr(t_ns, robot.names, js.position,
                                                         js.velocity, js.effort), t_ns)
                if sim.camera_due() and render:
                    for cam, img in sim.render().items():
                        w.write_cdr(f"/{cam}/image_raw", image_cdr(t_ns, cam, img), t_ns)
                tau = demo.act(sim)
                applied[k] = tau
                w.write_cdr("/policy/torque_request",
                            joint_state_cdr(t_ns, robot.names, effort=tau), t_ns)
                label = labels[k] if labels is not None else tau
                w.write_cdr("/effort_controller/commands", float64_array_cdr(label), t_ns)
                sim.step(tau)
        t_ns = int(round(sim.time * NS))
        if not live:  # the state after the last step (the live recording wrote it already)
            js = sim.joint_state()
            w.write_cdr("/joint_states", joint_state_cdr(t_ns, robot.names, js.position,
                                                     js.velocity, js.effort), t_ns)
        success, progress = sim.success(), sim.progress()
        w.write("/safety/events", string_msg('{"type": "none"}'), t_ns)
        out = w.finish({"success": success, "progress": progress, "note": "pd demonstrator"})
    finally:
        if own:
            sim.close()
    return SimRecording(out, success, progress, labels if labels is not None else applied)


def _record_live(w, sim, demo, robot, steps, brake_steps, labels, applied, render, rng) -> None:
    """The body of record_sim for live_brake_steps: what sim_node and the recorder write."""
    dt_ns = int(round(sim.dt * NS))
    last_cmd_ns = -1
    for k in range(steps):
        t_ns = int(round(sim.time * NS))
        braking = k < brake_steps
        tau = np.zeros(robot.n) if braking else demo.act(sim)
        applied[k] = tau
        label = labels[k] if labels is not None else tau
        if not braking:
            w.write_cdr("/policy/torque_request", joint_state_cdr(t_ns, robot.names, effort=tau),
                        t_ns)
            # no header: logged on arrival, up to two steps late, never out of order
            last_cmd_ns = max(last_cmd_ns + 1, t_ns + int(rng.integers(0, 3)) * dt_ns)
            w.write_cdr("/effort_controller/commands", float64_array_cdr(label), last_cmd_ns)
        sim.step(tau)  # the efforts measured are what was applied, whatever the label
        if braking:
            sim.data.qpos[sim.index.qpos] = robot.home
            sim.data.qvel[sim.index.dof] = 0.0
        t_ns = int(round(sim.time * NS))
        js = sim.joint_state()
        w.write_cdr("/joint_states", joint_state_cdr(t_ns, robot.names, js.position, js.velocity,
                                                 js.effort), t_ns)
        if render and sim.camera_due():
            for cam, img in sim.render().items():
                w.write_cdr(f"/{cam}/image_raw", image_cdr(t_ns, cam, img), t_ns)
