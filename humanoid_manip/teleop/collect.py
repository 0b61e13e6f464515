"""Scripted demonstrations through the teleop path, recorded as episode files, in one process.

The expert is a teleop device like any other: each control tick it sends palm targets (where
its own IK wants each palm) and 21 hand keypoints (its desired finger posture, through the robot
hand's forward kinematics), with the deadman held. The teleop controller retargets and solves
IK, its PD + gravity compensation makes the torque request, the safety monitor core makes the
applied torque, and the simulation steps on that. Every message the recorder node would see is
written with the same topics and types, in lockstep with simulated time, so the file is the same
kind of episode a DDS session records and an open-loop replay of its applied torques is exact.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from humanoid_manip.data import cdr
from humanoid_manip.data.episode import EpisodeWriter
from humanoid_manip.sim import CLOCK_START_S, Simulation, ros_time
from humanoid_manip.teleop.controller import TeleopController
from humanoid_manip.teleop.recording import episode_metadata, episode_path
from humanoid_manip.teleop.types import SIDES, HandSample, TeleopInput

SETTLE_S = 0.5  # after the expert's last phase, keep recording so the outcome settles
NOISE_TAU_S = 0.2  # correlation time of collect_episode's torque_noise (DART)


class ExpertDevice:
    """A task's expert seen as a teleop device: palm targets, keypoints, extra torque, deadman."""

    def __init__(self, sim: Simulation, controller: TeleopController):
        self.sim = sim
        self.expert = sim.task.expert(sim)
        self.controller = controller

    def done(self) -> bool:
        return self.expert.done(self.sim)

    def get_action(self, t: float) -> TeleopInput:
        """The expert's command in the state the simulation is in now, as a device sends it."""
        cmd = self.expert.command(self.sim)
        hands = {}
        for side in SIDES:
            target = cmd.palms.get(side)
            q_hand = cmd.hands.get(side)
            kp = None if q_hand is None else self.controller.hands[side].robot_keypoints(q_hand)
            hands[side] = HandSample(None if target is None else target.position,
                                     None if target is None else target.quat, kp)
        return TeleopInput(t, hands, deadman=True, extra_torque=cmd.extra_torque)


@dataclass
class EpisodeResult:
    path: Path
    task: str
    seed: int
    success: bool
    sim_time_s: float
    wall_s: float
    bytes: int
    counts: dict[str, int]


def collect_episode(sim: Simulation, controller: TeleopController, out_dir: str | Path,
                    seed: int, monitor=None, render: bool = True, index: int | None = None,
                    on_step: Callable[[float], None] | None = None,
                    torque_noise: float = 0.0) -> EpisodeResult:
    """Reset sim to `seed`, run the task's expert through the teleop path, record, judge.

    `torque_noise` (a fraction of each joint's effort limit) perturbs what is executed, not the
    label (DART, Laskey et al. 2017): smooth noise (an Ornstein-Uhlenbeck process with
    NOISE_TAU_S correlation, seeded by `seed`) is added to the request before the safety
    monitor, so the episode shows the expert correcting the drift it causes, which a cloned
    policy meets at run time. /policy/torque_request stays the expert's own torque;
    /effort_controller/commands is what was applied, so replay stays exact.
    """
    from humanoid_manip.safety.types import JointState as SafetyState
    from humanoid_manip.safety.types import TorqueRequest

    wall0 = time.perf_counter()
    sim.reset(seed)
    robot = sim.robot
    names = list(robot.names)
    js = sim.joint_state()
    controller.reset(js.position)
    device = ExpertDevice(sim, controller)
    source = {"type": "expert", "device": "scripted_expert", "operator": "",
              "path": "teleop", "safety_monitor": monitor is not None}
    if torque_noise:
        source["torque_noise"] = {"fraction_of_effort": float(torque_noise),
                                  "tau_s": NOISE_TAU_S, "label": "expert request, clean"}
    noise_rng = np.random.default_rng([seed, 7])
    noise = np.zeros(robot.n)
    keep = float(np.exp(-1.0 / (robot.rates.policy_hz * NOISE_TAU_S)))
    meta = episode_metadata(robot, sim.task.name, seed, source, sim=True,
                            extra={"initial_state": {"qpos": sim.data.qpos.tolist(),
                                                     "qvel": sim.data.qvel.tolist()}})
    path = episode_path(out_dir, sim.task.name, seed, index)
    writer = EpisodeWriter(path, meta)
    every = max(1, int(round(robot.rates.physics_hz / robot.rates.policy_hz)))
    cams = {c.name: c for c in robot.cameras}
    w, h = robot.image.width, robot.image.height
    if monitor is not None:
        monitor.tick(CLOCK_START_S, None, SafetyState(tuple(names), js.position, js.velocity,
                                                    CLOCK_START_S))
        ok, why = monitor.enable(True)
        if not ok:
            raise RuntimeError(f"safety monitor refused to enable: {why}")
    request = None
    done_at = None
    k = 0
    try:
        while True:
            t = sim.time
            t_ns = int(round(t * 1e9))
            now = ros_time(CLOCK_START_S + t)  # the monitor's clock, as the stack stamps it
            js = sim.joint_state()
            if k % every == 0:
                inp = device.get_action(t)
                controller.feed(inp)
                tau_req = controller.torque(t, js.position, js.velocity)
                tau_run = tau_req
                if torque_noise:
                    noise = keep * noise + np.sqrt(1.0 - keep ** 2) * noise_rng.standard_normal(
                        robot.n) * torque_noise * robot.effort_limit
                    tau_run = np.clip(tau_req + noise, -robot.effort_limit, robot.effort_limit)
                request = TorqueRequest(tuple(names), tau_run, now)
                writer.write_cdr("/joint_states", cdr.joint_state_cdr(
                    t_ns, names, js.position, js.velocity, js.effort), t_ns)
                writer.write_cdr("/policy/torque_request",
                                 cdr.joint_state_cdr(t_ns, names, effort=tau_req), t_ns)
                for side, hs in inp.hands.items():
                    writer.write_cdr(f"/teleop/{side}_wrist_target", cdr.pose_stamped_cdr(
                        t_ns, "world", hs.wrist_pos, hs.wrist_quat), t_ns)
                    writer.write_cdr(f"/teleop/{side}_hand_keypoints", cdr.pose_array_cdr(
                        t_ns, f"{side}_palm_keypoints", hs.keypoints), t_ns)
                writer.write_cdr("/teleop/deadman", cdr.bool_cdr(inp.deadman), t_ns)
            if monitor is not None:
                res = monitor.tick(now, request, SafetyState(tuple(names), js.position,
                                                             js.velocity, now))
                request = None
                applied = res.torque
                for ev in res.events:
                    writer.write_cdr("/safety/events", cdr.string_cdr(ev.to_json()), t_ns)
            else:
                applied = np.clip(tau_run, -robot.effort_limit, robot.effort_limit)
            writer.write_cdr("/effort_controller/commands", cdr.float64_array_cdr(applied), t_ns)
            if render and sim.camera_due():
                for name, img in sim.render().items():
                    writer.write_cdr(f"/{name}/image_raw", cdr.image_cdr(t_ns, name, img), t_ns)
                    writer.write_cdr(f"/{name}/camera_info", cdr.camera_info_cdr(
                        t_ns, name, w, h, cams[name].fovy_deg), t_ns)
            sim.step(applied)
            k += 1
            if on_step is not None:
                on_step(sim.time)
            if done_at is None and device.done():
                done_at = sim.time
            if (done_at is not None and sim.time - done_at >= SETTLE_S) or sim.timed_out():
                break
        success = sim.success()
        outcome = {"success": success, "note": f"progress {sim.progress():.2f} after "
                                               f"{sim.time:.2f} s"}
        if monitor is not None:
            outcome["safety"] = {"mode": monitor.mode.value, "counts": dict(monitor.counts)}
        writer.finish(outcome)
    except BaseException:
        writer.finish({"success": None, "note": "collection interrupted"})
        raise
    return EpisodeResult(path, sim.task.name, seed, success, sim.time,
                         time.perf_counter() - wall0, path.stat().st_size, dict(writer.counts))


def replay_torques(sim: Simulation, episode, seed: int) -> bool:
    """Play an episode's applied torques open loop from its initial state; the task outcome."""
    sim.reset(seed)
    init = episode.metadata.get("initial_state")
    if init is not None:
        sim.data.qpos[:] = init["qpos"]
        sim.data.qvel[:] = init["qvel"]
    for tau in episode.command:
        sim.step(tau)
    return sim.success()


def summary_line(r: EpisodeResult) -> str:
    return json.dumps({"file": str(r.path), "success": r.success, "sim_time_s": r.sim_time_s,
                       "wall_s": round(r.wall_s, 2), "MB": round(r.bytes / 1e6, 2)})
