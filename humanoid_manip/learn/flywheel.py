"""The data flywheel: collect -> validate -> train -> export -> evaluate -> collect with the
policy and expert corrections (DAgger) -> retrain, each round recorded with its lineage.

Round 0 records the scripted expert through the teleop path (teleop/collect.py). Each later
round lets the previous round's policy drive (through the policy runtime and the safety
monitor, as on the robot) while the same expert, at every visited state, says what torque it
would have asked for: the episode's /policy/torque_request carries that label, and its
/effort_controller/commands what was really applied, so the file still replays exactly. Every
round retrains from scratch on all valid episodes so far and is evaluated on the same held-out
seeds, so the rounds compare like for like.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from humanoid_manip.errors import HumanoidManipError

ROUND_JSON = "round.json"


class FlywheelError(HumanoidManipError):
    """A flywheel round that cannot go on (no valid episodes, a failed step)."""


@dataclass(frozen=True)
class FlywheelConfig:
    """The `flywheel:` section of config/train.yaml."""

    task: str = "dryer_open"
    rounds: int = 2
    expert_episodes: int = 8  # round 0: scripted expert demonstrations, seeds 0..n-1
    dagger_episodes: int = 4  # each later round: the policy drives, the expert labels
    eval_episodes: int = 5  # on seeds eval_seed.. (never collected from)
    eval_seed: int = 1_000_000
    train_steps: int = 1500  # per round (retrained from scratch on all data so far)
    time_limit_s: float = 0.0  # 0 = the task's own (config/tasks.yaml)

    def __post_init__(self):
        if self.rounds < 1 or self.expert_episodes < 1 or self.eval_episodes < 1:
            raise ValueError("rounds, expert_episodes and eval_episodes must be >= 1")
        if self.dagger_episodes < 0 or self.train_steps < 1 or self.time_limit_s < 0:
            raise ValueError("dagger_episodes >= 0, train_steps >= 1, time_limit_s >= 0")


def _simulation(task: str, cfg: FlywheelConfig, robot, seed: int):
    from humanoid_manip.sim import Simulation, make_task

    t = make_task(task)
    if cfg.time_limit_s:
        t = make_task(task, replace(t.config, time_limit_s=cfg.time_limit_s))
    return Simulation(t, seed=seed, robot=robot)


def collect_dagger_episode(sim, controller, runtime, monitor, out_dir: Path, seed: int,
                           policy_id: str) -> Path:
    """The policy drives through the safety monitor; the expert labels every control tick."""
    from humanoid_manip.data import cdr
    from humanoid_manip.data.episode import EpisodeWriter
    from humanoid_manip.safety.types import JointState, TorqueRequest
    from humanoid_manip.sim import CLOCK_START_S, ros_time
    from humanoid_manip.teleop.collect import SETTLE_S, ExpertDevice
    from humanoid_manip.teleop.recording import episode_metadata, episode_path

    sim.reset(seed)
    runtime.reset()
    robot = sim.robot
    names = list(robot.names)
    js = sim.joint_state()
    controller.reset(js.position)
    device = ExpertDevice(sim, controller)
    source = {"type": "dagger", "device": "scripted_expert", "operator": "", "path": "teleop",
              "policy": policy_id, "safety_monitor": True,
              "label": "/policy/torque_request is the expert's torque at the visited state; "
                       "/effort_controller/commands is the policy's, through the monitor"}
    meta = episode_metadata(robot, sim.task.name, seed, source, sim=True,
                            extra={"initial_state": {"qpos": sim.data.qpos.tolist(),
                                                     "qvel": sim.data.qvel.tolist()}})
    path = episode_path(out_dir, sim.task.name, seed)
    every = max(1, int(round(robot.rates.physics_hz / runtime.contract.control_rate_hz)))
    cams = {c.name: c for c in robot.cameras}
    w, h = robot.image.width, robot.image.height
    monitor.tick(CLOCK_START_S, None, JointState(tuple(names), js.position, js.velocity,
                                               CLOCK_START_S))
    ok, why = monitor.enable(True)
    if not ok:
        raise FlywheelError(f"the safety monitor refused to enable: {why}")
    images, request, k, done_at = None, None, 0, None
    with EpisodeWriter(path, meta) as writer:
        while not sim.timed_out():
            t = sim.time
            t_ns = int(round(t * 1e9))
            js = sim.joint_state()
            if sim.camera_due() or images is None:
                images = sim.render()
                for name, img in images.items():
                    writer.write_cdr(f"/{name}/image_raw", cdr.image_cdr(t_ns, name, img), t_ns)
                    writer.write_cdr(f"/{name}/camera_info", cdr.camera_info_cdr(
                        t_ns, name, w, h, cams[name].fovy_deg), t_ns)
            now = ros_time(CLOCK_START_S + t)  # the monitor's clock, as the stack stamps it
            if k % every == 0:
                controller.feed(device.get_action(t))
                label = controller.torque(t, js.position, js.velocity)
                tau = np.asarray(runtime.step(images, js.position, js.velocity), float)
                request = TorqueRequest(tuple(names), tau, now)
                writer.write_cdr("/joint_states", cdr.joint_state_cdr(
                    t_ns, names, js.position, js.velocity, js.effort), t_ns)
                writer.write_cdr("/policy/torque_request",
                                 cdr.joint_state_cdr(t_ns, names, effort=label), t_ns)
            res = monitor.tick(now, request, JointState(tuple(names), js.position, js.velocity,
                                                        now))
            request = None
            for ev in res.events:
                writer.write_cdr("/safety/events", cdr.string_cdr(ev.to_json()), t_ns)
            writer.write_cdr("/effort_controller/commands", cdr.float64_array_cdr(res.torque),
                             t_ns)
            sim.step(res.torque)
            k += 1
            if done_at is None and device.done():
                done_at = sim.time
            if done_at is not None and sim.time - done_at >= SETTLE_S:
                break
        writer.finish({"success": sim.success(),
                       "note": f"progress {sim.progress():.2f} after {sim.time:.2f} s",
                       "safety": {"mode": monitor.mode.value, "counts": dict(monitor.counts)}})
    return path


def _collect(cfg: FlywheelConfig, robot, data_dir: Path, seeds, policy=None,
             policy_id: str = "", progress: bool = False) -> list[Path]:
    from tqdm import tqdm

    from humanoid_manip.safety.config import load_safety_config
    from humanoid_manip.safety.monitor import SafetyMonitor
    from humanoid_manip.teleop.collect import collect_episode
    from humanoid_manip.teleop.config import load_teleop_config
    from humanoid_manip.teleop.controller import TeleopController

    safety = load_safety_config()
    runtime = None
    if policy is not None:
        from humanoid_manip.policy import PolicyRuntime

        runtime = PolicyRuntime(policy, robot, provider="cpu", task=cfg.task)
    paths_out = []
    with _simulation(cfg.task, cfg, robot, seeds[0]) as sim:
        controller = TeleopController(robot, load_teleop_config())
        what = "dagger" if runtime else "expert"
        for s in tqdm(seeds, desc=f"collect {what}", disable=not progress):
            monitor = SafetyMonitor(robot, safety)
            if runtime is None:
                paths_out.append(collect_episode(sim, controller, data_dir, s,
                                                 monitor=monitor).path)
            else:
                paths_out.append(collect_dagger_episode(sim, controller, runtime, monitor,
                                                        data_dir, s, policy_id))
    return paths_out


def _valid_episodes(data_dir: Path, robot, progress: bool) -> tuple[list[Path], dict]:
    from humanoid_manip.data.validate import find_episodes, validate

    report = validate(data_dir, robot, progress=progress)
    bad = {f.episode for f in report.errors}
    files = [f for f in find_episodes(data_dir) if str(f.relative_to(data_dir)) not in bad]
    return files, {"episodes": len(report.episodes), "rejected": sorted(bad),
                   "errors": [f"{f.episode}: {f.check}: {f.message}" for f in report.errors]}


def run_flywheel(cfg: FlywheelConfig, train_cfg, out: str | os.PathLike, robot=None,
                 progress: bool = True) -> dict:
    """Run (or resume: finished rounds are kept) every round; returns the summary."""
    from humanoid_manip.data.episode import read_episode
    from humanoid_manip.learn.dataset import episode_arrays
    from humanoid_manip.learn.evaluate import evaluate
    from humanoid_manip.learn.export import export_checkpoint
    from humanoid_manip.learn.train import train_policy
    from humanoid_manip.robot import load_robot
    from humanoid_manip.sim import task_names

    robot = robot or load_robot()
    out = Path(out)
    tasks = list(task_names())
    rounds: list[dict] = []
    files: list[Path] = []
    policy, policy_id = None, ""
    for r in range(cfg.rounds):
        rd = out / f"round{r}"
        done = rd / ROUND_JSON
        if done.is_file():
            summary = json.loads(done.read_text())
        else:
            t0 = time.perf_counter()
            data_dir = rd / "data"
            if r == 0:
                seeds = list(range(cfg.expert_episodes))
            else:
                seeds = list(range(r * 10_000, r * 10_000 + cfg.dagger_episodes))
            if seeds and not (data_dir.is_dir() and any(data_dir.glob("*.mcap"))):
                _collect(cfg, robot, data_dir, seeds, policy, policy_id, progress)
            valid, validation = (_valid_episodes(data_dir, robot, progress)
                                 if data_dir.is_dir() else ([], {"episodes": 0}))
            summary = {"round": r, "collected": "expert" if r == 0 else "dagger",
                       "seeds": seeds, "validation": validation,
                       "files": [str(f) for f in valid]}
            files_now = files + valid
            if not files_now:
                raise FlywheelError(f"round {r}: no valid episodes to train on "
                                    f"({validation.get('errors')})")
            episodes = [episode_arrays(read_episode(f), tasks, robot.camera_names, robot.names,
                                       robot.rates.policy_hz) for f in files_now]
            result = train_policy(train_cfg.with_overrides(steps=cfg.train_steps), episodes,
                                  robot, tasks, rd / "train", progress=progress,
                                  source_info={"flywheel_round": r,
                                               "previous_policy": policy_id})
            policy_path = export_checkpoint(result.checkpoint, rd / "policy.onnx", robot)
            ev = evaluate(policy_path, cfg.task, cfg.eval_episodes, cfg.eval_seed,
                          out_dir=rd / "eval", robot=robot, progress=progress,
                          time_limit_s=cfg.time_limit_s or None)
            summary.update(
                episodes_trained=len(episodes), checkpoint=result.manifest["id"],
                policy=str(policy_path), final_loss=result.history[-1]["loss"],
                eval={k: ev[k] for k in ("success_rate", "mean_progress", "mean_max_progress",
                                         "safety_interventions", "safety_stops", "seeds")},
                eval_id=ev["lineage"]["id"], wall_s=time.perf_counter() - t0)
            done.write_text(json.dumps(summary, indent=1) + "\n")
        rounds.append(summary)
        files += [Path(f) for f in summary["files"]]
        policy, policy_id = summary["policy"], summary["checkpoint"]
    result = {"config": asdict(cfg), "rounds": rounds}
    if len(rounds) >= 2:
        a, b = rounds[0]["eval"], rounds[-1]["eval"]
        result["change"] = {k: b[k] - a[k] for k in ("success_rate", "mean_progress",
                                                     "mean_max_progress")}
    (out / "flywheel.json").write_text(json.dumps(result, indent=1) + "\n")
    return result
