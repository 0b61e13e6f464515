"""The data flywheel, on the one orchestrator: collect -> validate -> train -> export ->
evaluate -> collect with the policy and expert labels (DAgger) -> retrain, round after round,
each round recorded with its lineage.

Round 0 records the experts through the teleop path (DART noise on odd seeds when
`expert_noise` > 0); each later round lets the previous round's policy drive (policy runtime +
safety monitor, at the stack's timing) while a fresh plain expert labels every tick, to success
or the time limit. Every round trains on all valid episodes so far (from scratch, or from the
previous weights with `warm_start`), exports and is evaluated on the same held-out seeds per
task. Episodes are jobs on the workers (Ray with several); training is its own task on this
machine's GPU when it has one. The steps overlap as futures: while round r trains, round r-1's
evaluation runs; once r is trained, round r+1's DAgger episodes are queued before r's
evaluation, so training never waits for an evaluation. With one worker the same steps run in
this process, in order. Finished steps are kept (`round<N>/train.json`, `round<N>/round.json`),
so a run resumes where it stopped.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path

from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.learn.config import FlywheelConfig
from humanoid_manip.learn.evaluate import EVAL_SEED

ROUND_JSON = "round.json"
TRAIN_JSON = "train.json"
DAGGER_SEED = 10_000  # round r's DAgger seeds start at r * DAGGER_SEED (never evaluation seeds)
HELDOUT_SEED = 900_000  # expert episodes kept out of training, for the offline action error

__all__ = ["DAGGER_SEED", "FlywheelConfig", "FlywheelError", "run_flywheel", "train_round"]


class FlywheelError(HumanoidManipError):
    """A flywheel round that cannot go on (no valid episodes, a failed step)."""


def round_seeds(cfg: FlywheelConfig, r: int) -> list[int]:
    """The seeds collected in round r, per task (the same for every task)."""
    if r == 0:
        return list(range(cfg.expert_episodes))
    return list(range(r * DAGGER_SEED, r * DAGGER_SEED + cfg.dagger_episodes))


def collect_jobs(cfg: FlywheelConfig, r: int, data_dir: Path, policy: str | None,
                 policy_id: str) -> list:
    """Round r's episodes: the experts through the teleop path, or DAgger with `policy`."""
    from humanoid_manip.loop import EpisodeJob

    limit = cfg.time_limit_s or None
    jobs = []
    for task in cfg.tasks:
        for s in round_seeds(cfg, r):
            if r == 0:
                if cfg.expert_noise_levels:
                    levels = cfg.expert_noise_levels
                    noise = levels[s % len(levels)]
                else:
                    noise = cfg.expert_noise if s % 2 else 0.0
                jobs.append(EpisodeJob(task, s, cfg.expert_driver, out_dir=str(data_dir),
                                       torque_noise=noise, time_limit_s=limit,
                                       render=cfg.render, delay_steps=cfg.delay_steps))
            else:
                jobs.append(EpisodeJob(task, s, "dagger", out_dir=str(data_dir), policy=policy,
                                       policy_id=policy_id, time_limit_s=limit,
                                       labeler=cfg.dagger_labeler or None,
                                       stall_s=cfg.dagger_stall_s or None,
                                       on_stall=cfg.dagger_on_stall,
                                       delay_steps=cfg.delay_steps, render=cfg.render))
        if r == 0:
            for s in range(HELDOUT_SEED, HELDOUT_SEED + cfg.heldout_episodes):
                jobs.append(EpisodeJob(task, s, cfg.expert_driver,
                                       out_dir=str(data_dir.parent / "heldout"),
                                       time_limit_s=limit, render=cfg.render,
                                       delay_steps=cfg.delay_steps))
    return jobs


def load_arrays(files, tasks: list[str], robot, train_cfg) -> list:
    """Episode files -> training arrays at the policy rate: with the images for a pixel
    policy, with the privileged state (no images read) for a teacher."""
    from humanoid_manip.data.episode import read_episode
    from humanoid_manip.learn.dataset import episode_arrays

    teacher = train_cfg.model.observation == "privileged"
    want_priv = teacher or train_cfg.model.state_estimate
    cams = () if teacher else robot.camera_names
    return [episode_arrays(read_episode(f, images=not teacher), tasks, cams, robot.names,
                           robot.rates.policy_hz, privileged=want_priv) for f in files]


def train_round(files: list[str], train_cfg, tasks: list[str], rd: str, info: dict,
                init: str | None, budget_s: float | None, progress: bool,
                heldout: list[str] = (), init_stats: bool = False) -> dict:
    """One round's training and export, in whichever process runs it (a Ray task or here);
    `heldout` episodes (never trained on) give the offline action error."""
    from humanoid_manip.learn.export import export_checkpoint
    from humanoid_manip.learn.train import load_policy, resolve_device, train_policy
    from humanoid_manip.robot import load_robot

    t0 = time.perf_counter()
    robot = load_robot()
    episodes = load_arrays(files, tasks, robot, train_cfg)
    val = load_arrays(heldout, tasks, robot, train_cfg) if heldout else ()
    init_from, init_data = load_policy(init) if init else (None, {})
    result = train_policy(train_cfg, episodes, robot, tasks, Path(rd) / "train",
                          progress=progress, source_info=info, time_budget_s=budget_s,
                          init_from=init_from, init_stats=init_stats, val_episodes=val,
                          init_checkpoint=init_data.get("manifest", {}).get("id", ""),
                          init_tasks=init_data.get("io", {}).get("task_names", ()))
    policy = export_checkpoint(result.checkpoint, Path(rd) / "policy.onnx", robot)
    h = result.history
    rates = [p["samples_per_s"] for p in h[1:]] or [0.0]
    return {"episodes_trained": len(episodes), "checkpoint": result.manifest["id"],
            "checkpoint_file": str(result.checkpoint), "policy": str(policy),
            "final_loss": h[-1]["loss"], "steps": h[-1]["step"],
            "samples_per_s": float(sorted(rates)[len(rates) // 2]),
            "device": str(resolve_device(train_cfg.device)), "train_wall_s":
            time.perf_counter() - t0,
            "offline_error": result.manifest.get("offline_error"),
            "state_estimate_error": result.manifest.get("state_estimate_error")}


def _valid_episodes(data_dir: Path, robot, progress: bool) -> tuple[list[Path], dict]:
    from humanoid_manip.data.validate import find_episodes, validate

    report = validate(data_dir, robot, progress=progress)
    bad = {f.episode for f in report.errors}
    files = [f for f in find_episodes(data_dir) if str(f.relative_to(data_dir)) not in bad]
    return files, {"episodes": len(report.episodes), "rejected": sorted(bad),
                   "errors": [f"{f.episode}: {f.check}: {f.message}" for f in report.errors]}


def _lost(results, what: str) -> dict:
    lost = [{"job": r.job.name, "error": r.error, "attempts": r.attempts}
            for r in results if not r.ok]
    if lost and len(lost) == len(results):
        raise FlywheelError(f"{what}: every episode failed ({lost[0]['error']})")
    return {"lost": lost} if lost else {}


def _check_labeler(cfg: FlywheelConfig, robot) -> None:
    """A labeler file that cannot label every task fails here, not in every DAgger episode."""
    from humanoid_manip.policy import PolicyRuntime

    path = Path(cfg.dagger_labeler)
    if not path.is_file():
        raise FlywheelError(f"dagger_labeler {path}: no such file")
    known = PolicyRuntime(path, robot, provider="cpu").contract.task_names
    missing = [t for t in cfg.tasks if t not in known]
    if missing:
        raise FlywheelError(f"dagger_labeler {path} knows {list(known)}, not {missing}")


def run_flywheel(cfg: FlywheelConfig, train_cfg, out: str | os.PathLike, robot=None,
                 progress: bool = True, workers: int = 1, address: str | None = None) -> dict:
    """Run (or resume: finished steps are kept) every round; returns the summary."""
    from humanoid_manip.loop import Workers
    from humanoid_manip.robot import load_robot
    from humanoid_manip.sim import make_task, task_names

    robot = robot or load_robot()
    for t in cfg.tasks:
        make_task(t)  # an unknown name fails here, listing the valid ones
    if cfg.dagger_labeler:
        _check_labeler(cfg, robot)
    out = Path(out).resolve()
    tasks = list(task_names())
    rounds: list[dict] = []
    t_run = time.perf_counter()
    with Workers(workers, address, progress) as w:
        files: list[Path] = []
        policy, policy_id = None, ""
        collect = None  # round r's collection, started as soon as its policy exists
        pending = None  # (summary, eval batch) of the round whose evaluation is still running
        for r in range(cfg.rounds):
            rd = out / f"round{r}"
            if (rd / ROUND_JSON).is_file():
                summary = json.loads((rd / ROUND_JSON).read_text())
                rounds.append(summary)
                files += [Path(f) for f in summary["files"]]
                policy, policy_id = summary["policy"], summary["checkpoint"]
                collect = None
                continue
            t0 = time.perf_counter()
            data_dir = rd / "data"
            if (rd / TRAIN_JSON).is_file():
                summary = json.loads((rd / TRAIN_JSON).read_text())
            else:
                summary = {"round": r, "collected": "expert" if r == 0 else "dagger",
                           "seeds": round_seeds(cfg, r)}
                if collect is None and not (data_dir.is_dir() and any(data_dir.glob("*.mcap"))):
                    collect = w.submit(collect_jobs(cfg, r, data_dir, policy, policy_id),
                                       f"round {r} collect")
                if collect is not None:
                    got = collect.results()
                    summary.update(_lost(got, f"round {r} collection"))
                    summary["collect_success"] = {t: sum(x.ok and x.report.success for x in got
                                                         if x.job.task == t)
                                                  for t in cfg.tasks}
                valid, summary["validation"] = (_valid_episodes(data_dir, robot, progress)
                                                if data_dir.is_dir() else ([], {"episodes": 0}))
                summary["files"] = [str(f) for f in valid]
                if not files + valid:
                    raise FlywheelError(f"round {r}: no valid episodes to train on "
                                        f"({summary['validation'].get('errors')})")
                init, init_stats = None, False
                if cfg.warm_start and r > 0:
                    init = str(out / f"round{r - 1}" / "train" / "checkpoint.pt")
                elif cfg.init_from:  # a student from its teacher
                    init, init_stats = str(Path(cfg.init_from).resolve()), True
                info = {"flywheel_round": r, "previous_policy": policy_id}
                heldout = sorted(str(f) for f in (out / "round0" / "heldout").glob("*.mcap"))
                training = w.call(train_round, [str(f) for f in files + valid],
                                  train_cfg.with_overrides(steps=cfg.train_steps), tasks,
                                  str(rd), info, init, cfg.train_budget_s or None,
                                  progress and w.local, heldout, init_stats, gpu=True)
                if pending is not None:  # the previous round's evaluation, while this trains
                    rounds.append(_finish(*pending, robot))
                    pending = None
                summary.update(training.result())
                summary["collect_train_wall_s"] = time.perf_counter() - t0
                (rd / TRAIN_JSON).write_text(json.dumps(summary, indent=1) + "\n")
            if pending is not None:
                rounds.append(_finish(*pending, robot))
                pending = None
            files += [Path(f) for f in summary["files"]]
            policy, policy_id = summary["policy"], summary["checkpoint"]
            collect = None
            nd = out / f"round{r + 1}"
            if (r + 1 < cfg.rounds and not (nd / TRAIN_JSON).is_file()
                    and not (nd / "data").is_dir()):  # DAgger first: training waits on it
                collect = w.submit(collect_jobs(cfg, r + 1, nd / "data", policy, policy_id),
                                   f"round {r + 1} collect")
            pending = (summary, _submit_eval(w, cfg, policy, rd), rd)
        if pending is not None:
            rounds.append(_finish(*pending, robot))
    result = {"config": asdict(cfg), "eval_seed": EVAL_SEED, "workers": w.workers,
              "address": address, "rounds": rounds, "wall_s": time.perf_counter() - t_run}
    if len(rounds) >= 2:
        result["change"] = {
            t: {k: rounds[-1]["eval"][t][k] - rounds[0]["eval"][t][k]
                for k in ("success_rate", "mean_progress", "mean_max_progress")}
            for t in cfg.tasks if t in rounds[0]["eval"] and t in rounds[-1]["eval"]}
    (out / "flywheel.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def _submit_eval(w, cfg: FlywheelConfig, policy: str, rd: Path) -> dict:
    from humanoid_manip.learn.evaluate import eval_jobs

    seeds = list(range(EVAL_SEED, EVAL_SEED + cfg.eval_episodes))
    return {t: w.submit(eval_jobs(policy, t, seeds, None, 0, cfg.time_limit_s or None,
                                  cfg.delay_steps, render=cfg.render),
                        f"round {rd.name[5:]} eval {t}")
            for t in cfg.tasks}


def _finish(summary: dict, batches: dict, rd: Path, robot) -> dict:
    """A round's evaluation gathered: reports per task, and the round's summary kept."""
    from humanoid_manip.learn.evaluate import policy_lineage, summarize

    evals = {}
    lineage = policy_lineage(summary["policy"], robot)
    (rd / "eval").mkdir(parents=True, exist_ok=True)
    for task, batch in batches.items():
        got = batch.results()
        reports = [x.report for x in got if x.ok]
        if not reports:
            raise FlywheelError(f"round {summary['round']}: every {task} evaluation episode "
                                f"failed ({got[0].error})")
        limit = got[0].job.time_limit_s
        if limit is None:
            from humanoid_manip.sim import make_task

            limit = make_task(task).time_limit_s
        report = summarize(reports, task, summary["policy"], lineage, limit, robot)
        report["delay_steps"] = got[0].job.delay_steps
        report.update(_lost(got, f"{task} evaluation"))
        (rd / "eval" / f"eval_{task}.json").write_text(json.dumps(report, indent=1) + "\n")
        evals[task] = {k: report[k] for k in ("success_rate", "mean_progress",
                                              "mean_max_progress", "safety_interventions",
                                              "safety_stops", "seeds", "by_condition")}
        evals[task]["eval_id"] = report["lineage"]["id"]
    summary["eval"] = evals
    (rd / ROUND_JSON).write_text(json.dumps(summary, indent=1) + "\n")
    return summary
