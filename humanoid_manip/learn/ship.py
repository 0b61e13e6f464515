"""The default policy end to end, on many cores and one GPU: `python -m humanoid_manip.learn.ship`.

The same steps as `flywheel`, spread over worker processes so that a lent machine's time goes
far: (1) scripted experts through the teleop path and the safety monitor core (`collect`),
recorded as episode files, in parallel for every task; successful ones become training arrays
labelled with the expert's torque request; (2) behaviour cloning within a time budget
(`train_policy(time_budget_s=...)`), export; (3) DAgger: that policy drives while the expert
labels every tick (`flywheel.collect_dagger_episode`), in parallel with (4) the held-out
evaluation of round 1 on every task (`evaluate.run_episode`: policy runtime + safety monitor
core, seeds from 1,000,000); (5) round 2 trains on the expert and DAgger episodes and is
evaluated on the flywheel's tasks, same seeds. `summary.json` holds everything, with lineage.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict
from pathlib import Path

import numpy as np

EVAL_SEED = 1_000_000
DAGGER_SEED = 10_000
_CACHE: dict = {}


# -- worker side (spawned processes; nothing here touches torch) ---------------------------
def _init_worker() -> None:
    os.environ.setdefault("MUJOCO_GL", "egl")


def _robot():
    if "robot" not in _CACHE:
        from humanoid_manip.robot import load_robot

        _CACHE["robot"] = load_robot()
    return _CACHE["robot"]


def _sim(task: str):
    key = ("sim", task)
    if key not in _CACHE:
        from humanoid_manip.sim import Simulation

        _CACHE[key] = Simulation(task, seed=0, robot=_robot())
    return _CACHE[key]


def _controller():
    if "controller" not in _CACHE:
        from humanoid_manip.teleop.config import load_teleop_config
        from humanoid_manip.teleop.controller import TeleopController

        _CACHE["controller"] = TeleopController(_robot(), load_teleop_config())
    return _CACHE["controller"]


def _monitor():
    from humanoid_manip.safety.config import load_safety_config
    from humanoid_manip.safety.monitor import SafetyMonitor

    if "safety" not in _CACHE:
        _CACHE["safety"] = load_safety_config()
    return SafetyMonitor(_robot(), _CACHE["safety"])


def _runtime(policy: str, task: str):
    key = ("runtime", policy, task)
    if key not in _CACHE:
        from humanoid_manip.policy import PolicyRuntime

        _CACHE[key] = PolicyRuntime(policy, _robot(), provider="cpu", task=task)
    return _CACHE[key]


def to_arrays(path: str | Path, out_dir: str | Path, tasks: list[str]) -> str:
    """An episode file -> training arrays (label: /policy/torque_request) with its bias, .npz."""
    from humanoid_manip.data.episode import read_episode
    from humanoid_manip.learn.dataset import add_bias, episode_arrays

    robot = _robot()
    ep = read_episode(path)
    a = episode_arrays(ep, tasks, robot.camera_names, robot.names, robot.rates.policy_hz,
                       label="request")
    a = add_bias([a], robot)[0]
    out = Path(out_dir) / (Path(path).stem + ".npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, frames=a.frames, frame_of=a.frame_of, proprio=a.proprio, torque=a.torque,
             bias=a.bias, task=a.task, id=a.id, seed=-1 if a.seed is None else a.seed)
    return str(out)


def load_arrays(path: str | Path):
    from humanoid_manip.learn.dataset import EpisodeArrays

    z = np.load(path)
    seed = int(z["seed"])
    return EpisodeArrays(z["frames"], z["frame_of"], z["proprio"], z["torque"], int(z["task"]),
                         str(z["id"]), None if seed < 0 else seed, z["bias"])


def collect_unit(task: str, seed: int, data_dir: str, arrays_dir: str, tasks: list[str],
                 torque_noise: float = 0.0) -> dict:
    """One expert episode through the teleop path and the monitor; arrays if it succeeded.

    `torque_noise`: DART perturbations of what is executed (teleop.collect.collect_episode).
    """
    from humanoid_manip.teleop.collect import collect_episode

    t0 = time.perf_counter()
    try:
        monitor = _monitor()
        r = collect_episode(_sim(task), _controller(), Path(data_dir) / task, seed,
                            monitor=monitor, torque_noise=torque_noise)
        info = {"task": task, "seed": seed, "success": bool(r.success), "file": str(r.path),
                "sim_time_s": r.sim_time_s, "mode": monitor.mode.value,
                "torque_noise": torque_noise}
        if r.success:
            info["arrays"] = to_arrays(r.path, arrays_dir, tasks)
    except Exception as exc:  # noqa: BLE001 - one bad episode must not end the run
        info = {"task": task, "seed": seed, "success": False, "error": repr(exc)}
    info["wall_s"] = time.perf_counter() - t0
    return info


def dagger_unit(policy: str, policy_id: str, task: str, seed: int, data_dir: str,
                arrays_dir: str, tasks: list[str]) -> dict:
    """The policy drives (runtime + monitor), the expert labels each tick; arrays always."""
    from humanoid_manip.data.episode import read_episode
    from humanoid_manip.learn.flywheel import collect_dagger_episode

    t0 = time.perf_counter()
    try:
        path = collect_dagger_episode(_sim(task), _controller(), _runtime(policy, task),
                                      _monitor(), Path(data_dir) / task, seed, policy_id)
        outcome = read_episode(path, images=False).metadata.get("outcome") or {}
        info = {"task": task, "seed": seed, "success": bool(outcome.get("success")),
                "file": str(path), "arrays": to_arrays(path, arrays_dir, tasks)}
    except Exception as exc:  # noqa: BLE001
        info = {"task": task, "seed": seed, "success": False, "error": repr(exc)}
    info["wall_s"] = time.perf_counter() - t0
    return info


def eval_unit(policy: str, task: str, seed: int) -> dict:
    """One held-out episode: policy runtime + safety monitor core (learn.evaluate)."""
    from humanoid_manip.learn.evaluate import run_episode

    try:
        r = run_episode(_sim(task), _runtime(policy, task), _monitor(), seed)
        return {"task": task, "report": asdict(r)}
    except Exception as exc:  # noqa: BLE001
        return {"task": task, "seed": seed, "error": repr(exc)}


# -- the orchestrator ------------------------------------------------------------------------
class Job:
    """A unit of work for the pool: queued by priority, submitted when a worker is free."""

    def __init__(self, fn, args: tuple, prio: int, seq: int):
        self.fn, self.args, self.prio, self.seq = fn, args, prio, seq
        self.future = None
        self.dropped = False

    def done(self) -> bool:
        return self.dropped or (self.future is not None and self.future.done())


class Run:
    """The worker pool with a priority queue (topped up from a thread, so the workers keep
    busy while the main thread trains), the clock, the summary and the files to keep."""

    def __init__(self, out: Path, keep: Path | None, workers: int):
        import multiprocessing as mp
        import threading

        self.out, self.keep, self.t0 = out, keep, time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
        self.workers = workers
        self.pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                        initializer=_init_worker)
        self.summary: dict = {"workers": workers, "phases": {}}
        self.queue: list[Job] = []
        self.running: list[Job] = []
        self.lock = threading.Lock()
        self.seq = 0
        self.closed = False
        threading.Thread(target=self._pump_forever, daemon=True).start()

    def submit(self, fn, *args, prio: int = 0) -> Job:
        with self.lock:
            self.seq += 1
            job = Job(fn, args, prio, self.seq)
            self.queue.append(job)
        self.pump()
        return job

    def pump(self) -> None:
        with self.lock:
            self.running = [j for j in self.running if not j.done()]
            while self.queue and len(self.running) < self.workers + 1 and not self.closed:
                job = min(self.queue, key=lambda j: (j.prio, j.seq))
                self.queue.remove(job)
                try:
                    job.future = self.pool.submit(job.fn, *job.args)
                except RuntimeError:  # the pool is shut down: the run is ending
                    job.dropped = True
                    continue
                self.running.append(job)

    def _pump_forever(self) -> None:
        while not self.closed:
            self.pump()
            time.sleep(0.2)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            for j in self.queue:
                j.dropped = True
            self.queue.clear()
        procs = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:  # dropped jobs still running: end them, the run is over
            proc.terminate()

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def log(self, text: str) -> None:
        print(f"[{self.now():6.1f} s] {text}", flush=True)

    def save(self, *files: Path) -> None:
        (self.out / "summary.json").write_text(json.dumps(self.summary, indent=1) + "\n")
        if self.keep:
            for f in (self.out / "summary.json", *files):
                shutil.copy(f, self.keep / f.name)

    def gather(self, jobs: list[Job], until: float, label: str, cancel: bool = True
               ) -> tuple[list[dict], list[Job]]:
        """Results of the jobs finished by `until` (s since start), and those not finished
        (dropped unless cancel=False: then they run on and can be gathered later; a job
        already running when dropped runs to its end, its result unused)."""
        while until - self.now() > 0 and not all(j.done() for j in jobs):
            self.pump()
            live = [j.future for j in jobs if j.future is not None and not j.future.done()]
            if live:
                wait(live, timeout=min(until - self.now(), 1.0), return_when=FIRST_COMPLETED)
            else:
                time.sleep(min(max(until - self.now(), 0), 0.2))
        done = [j for j in jobs if j.done() and not j.dropped]
        pending = [j for j in jobs if not j.done()]
        if cancel:
            with self.lock:
                for j in pending:
                    j.dropped = True
                    if j in self.queue:
                        self.queue.remove(j)
                    elif j.future is not None:
                        j.future.cancel()
        self.log(f"{label}: {len(done)} of {len(jobs)} done, {len(pending)} "
                 f"{'dropped' if cancel else 'still to come'}")
        return [j.future.result() for j in done if not j.future.cancelled()], pending


def _parse_counts(items: list[str]) -> dict[str, int]:
    out = {}
    for it in items:
        name, _, n = it.partition("=")
        out[name] = int(n)
    return out


def _interleave(counts: dict[str, int], first_seed: int) -> list[tuple[str, int]]:
    """(task, seed) units, tasks interleaved in proportion, so a cut run keeps every task."""
    total = sum(counts.values())
    units, given = [], dict.fromkeys(counts, 0)
    for _ in range(total):  # the task furthest behind its share goes next
        task = min((t for t in counts if given[t] < counts[t]),
                   key=lambda t: (given[t] + 0.5) / counts[t])
        units.append((task, first_seed + given[task]))
        given[task] += 1
    return units


def _eval_summary(results: list[dict], policy: str, lineage: dict, robot) -> dict:
    from humanoid_manip.learn.evaluate import EpisodeReport, summarize
    from humanoid_manip.sim import make_task

    by_task: dict[str, list] = {}
    errors = [r for r in results if "error" in r]
    for r in results:
        if "report" in r:
            by_task.setdefault(r["task"], []).append(EpisodeReport(**r["report"]))
    out = {}
    for task, reports in sorted(by_task.items()):
        s = summarize(reports, task, Path(policy).name, lineage,
                      make_task(task).config.time_limit_s, robot)
        out[task] = s
    if errors:
        out["errors"] = errors[:20]
    return out


def _short(ev: dict) -> dict:
    return {t: {"episodes": len(v["episodes"]), "success_rate": v["success_rate"],
                "mean_progress": round(v["mean_progress"], 4),
                "mean_max_progress": round(v["mean_max_progress"], 4),
                "safety_stops": v["safety_stops"]}
            for t, v in ev.items() if t != "errors"}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MUJOCO_GL", "egl")
    p = argparse.ArgumentParser(prog="python -m humanoid_manip.learn.ship", description=__doc__)
    p.add_argument("--out", required=True, help="working folder (episodes, arrays, runs)")
    p.add_argument("--keep", help="copy the policy files and summary.json here as they come")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    p.add_argument("--collect", nargs="+", default=["pick_place=300", "dryer_open=300",
                                                    "dryer_unload=100", "zip_bag_open=80"],
                   help="TASK=N expert episodes at most, seeds 0..N-1, interleaved")
    p.add_argument("--collect-s", type=float, default=95.0,
                   help="round 1 trains on what was collected by then")
    p.add_argument("--noise", type=float, default=0.1, help="DART torque noise (fraction of "
                   "the effort limit) on odd seeds' demonstrations; even seeds are clean")
    p.add_argument("--min-episodes", type=int, default=8,
                   help="round 1 waits for at least this many successful demonstrations")
    p.add_argument("--train-s", type=float, default=110.0, help="round 1 training budget")
    p.add_argument("--dagger", nargs="*", default=["pick_place=30", "dryer_open=30"])
    p.add_argument("--train2-s", type=float, default=70.0, help="round 2 budget (warm start)")
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument("--eval2-tasks", nargs="*", default=["pick_place", "dryer_open"])
    p.add_argument("--end-s", type=float, default=420.0, help="drop unfinished work then")
    p.add_argument("--extra-s", type=float, default=30.0, help="round 2's evaluation may run "
                   "this much longer")
    p.add_argument("--config", help="training settings (default config/train.yaml)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="override top-level training settings (batch_size=64 device=cuda)")
    args = p.parse_args(argv)

    import yaml

    from humanoid_manip.learn.config import load_train_config
    from humanoid_manip.robot import load_robot
    from humanoid_manip.sim import task_names

    overrides = {k: yaml.safe_load(v) for k, _, v in (s.partition("=") for s in args.set)}
    cfg = load_train_config(args.config, **overrides)
    robot = load_robot()
    tasks = list(task_names())
    out = Path(args.out)
    run = Run(out, Path(args.keep) if args.keep else None, args.workers)
    try:
        return _main(run, args, cfg, robot, tasks, out)
    finally:
        run.close()


def _main(run: Run, args, cfg, robot, tasks: list[str], out: Path) -> int:
    commit = os.environ.get("HUMANOID_MANIP_COMMIT", "")  # a copy without .git says it here
    run.summary.update(train_config=cfg.to_dict(), args=vars(args), tasks=tasks,
                       code_commit=commit)
    run.log(f"{args.workers} workers; training on {cfg.device}")

    # 1. expert demonstrations through the teleop path + safety monitor core; they go on
    # being collected while round 1 trains on the GPU (round 2 gets them)
    counts = _parse_counts(args.collect)
    units = _interleave(counts, 0)
    futs = [run.submit(collect_unit, t, s, str(out / "data"), str(out / "arrays"), tasks,
                       args.noise if s % 2 else 0.0, prio=0) for t, s in units]
    collected, later = run.gather(futs, args.collect_s, "collect", cancel=False)
    while (sum(bool(c.get("arrays")) for c in collected) < args.min_episodes and later
           and run.now() < args.end_s / 2):  # a slow start: wait for a few more
        got, later = run.gather(later, run.now() + 5.0, "collect (more)", cancel=False)
        collected += got
    run.summary["phases"]["collect"] = {"end_s": run.now(),
                                        "per_task": _collect_stats(collected, counts)}
    run.log("collect: " + _brief(run.summary["phases"]["collect"]["per_task"]))
    run.save()
    expert = [c for c in collected if c.get("arrays")]

    # 2. round 1: behaviour cloning on the successful demonstrations
    p1, ck1, man1 = _train_round(run, cfg, robot, tasks, [c["arrays"] for c in expert], 1,
                                 args.train_s, None,
                                 {"collect": run.summary["phases"]["collect"]["per_task"]})
    more, _ = run.gather(later, run.now(), "collect during training")
    run.summary["phases"]["collect_more"] = {"end_s": run.now(),
                                             "per_task": _collect_stats(more, counts)}
    run.log("collect during training: " + _brief(run.summary["phases"]["collect_more"]
                                                 ["per_task"]))
    expert_more = [c for c in more if c.get("arrays")]
    run.summary["expert_collect_path"] = _collect_stats(collected + more, counts)

    # 3+4. DAgger with round 1's policy, and round 1's held-out evaluation, in parallel
    dag_units = _interleave(_parse_counts(args.dagger), DAGGER_SEED) if args.dagger else []
    dag_f = [run.submit(dagger_unit, str(p1), man1["id"], t, s, str(out / "dagger"),
                        str(out / "arrays_dagger"), tasks, prio=1) for t, s in dag_units]
    first = set(args.eval2_tasks)  # the flywheel's tasks: both rounds on them come first
    ev1_f = [run.submit(eval_unit, str(p1), t, EVAL_SEED + i, prio=2 if t in first else 3)
             for t in tasks for i in range(args.eval_episodes)]
    dag, _ = run.gather(dag_f, args.end_s - args.train2_s - 60, "dagger")
    run.summary["phases"]["dagger"] = {
        "end_s": run.now(), "episodes": len(dag),
        "errors": [d["error"] for d in dag if "error" in d][:3],
        "policy_success": {t: f"{sum(d['success'] for d in dag if d['task'] == t)}/"
                              f"{sum(d['task'] == t for d in dag)}"
                           for t in _parse_counts(args.dagger)}}
    run.log("dagger (round 1 policy driving): " + json.dumps(
        run.summary["phases"]["dagger"]["policy_success"]))
    run.save()

    # 5. round 2: warm start from round 1 on every expert and DAgger episode so far
    ev2_f = []
    data2 = [c["arrays"] for c in expert + expert_more] + [d["arrays"] for d in dag
                                                            if d.get("arrays")]
    if run.now() < args.end_s - args.train2_s - 30:
        from humanoid_manip.learn.train import load_policy

        init, _ = load_policy(ck1)
        p2, _, _ = _train_round(run, cfg, robot, tasks, data2, 2, args.train2_s, init,
                                {"expert_episodes": len(expert + expert_more),
                                 "dagger_episodes": len(dag), "previous_policy": man1["id"]})
        ev2_f = [run.submit(eval_unit, str(p2), t, EVAL_SEED + i, prio=2 if t in first else 4)
                 for t in tasks for i in range(args.eval_episodes)]
    ev1, _ = run.gather(ev1_f, args.end_s, "eval round 1")
    run.summary["eval_round1"] = _eval_summary(ev1, str(p1), _lineage(p1), robot)
    run.summary["phases"]["eval1"] = {"end_s": run.now(),
                                      "short": _short(run.summary["eval_round1"])}
    run.log("round 1: " + json.dumps(run.summary["phases"]["eval1"]["short"]))
    run.save()
    if ev2_f:
        ev2, _ = run.gather(ev2_f, args.end_s + args.extra_s, "eval round 2")
        run.summary["eval_round2"] = _eval_summary(ev2, str(p2), _lineage(p2), robot)
        run.summary["phases"]["eval2"] = {"end_s": run.now(),
                                          "short": _short(run.summary["eval_round2"])}
        run.log("round 2: " + json.dumps(run.summary["phases"]["eval2"]["short"]))
    run.save()
    run.log("done")
    return 0


def _collect_stats(collected: list[dict], counts) -> dict:
    stats = {}
    for t in counts:
        mine = [c for c in collected if c["task"] == t]
        stats[t] = {"episodes": len(mine), "successes": sum(c["success"] for c in mine),
                    "seeds": sorted(c["seed"] for c in mine),
                    "errors": [c["error"] for c in mine if "error" in c][:3],
                    "stopped_by_monitor": sum(c.get("mode") in ("STOPPING", "STOPPED", "FAULT")
                                              for c in mine),
                    "mean_wall_s": float(np.mean([c["wall_s"] for c in mine])) if mine else 0}
    return stats


def _brief(stats: dict) -> str:
    return json.dumps({t: f"{v['successes']}/{v['episodes']}" for t, v in stats.items()})


def _lineage(policy: Path) -> dict:
    from humanoid_manip.learn.export import session
    from humanoid_manip.policy.contract import PolicyContract

    return PolicyContract.from_session(session(policy), str(policy)).lineage


def _train_round(run: Run, cfg, robot, tasks, arrays: list[str], r: int, budget: float,
                 init, info: dict):
    from humanoid_manip.learn.export import export_checkpoint
    from humanoid_manip.learn.train import train_policy

    t0 = run.now()
    episodes = [load_arrays(a) for a in arrays]
    run.log(f"round {r}: {len(episodes)} episodes, {sum(len(e) for e in episodes)} ticks "
            f"loaded in {run.now() - t0:.1f} s")
    rd = run.out / f"round{r}"
    result = train_policy(cfg, episodes, robot, tasks, rd / "train", resume=False,
                          progress=False, time_budget_s=budget, init_from=init,
                          source_info={"pipeline": "humanoid_manip.learn.ship", "round": r,
                                       "code_commit": run.summary.get("code_commit", ""),
                                       **info})
    policy = export_checkpoint(result.checkpoint, rd / f"policy_round{r}.onnx", robot)
    ck = rd / f"checkpoint_round{r}.pt"
    shutil.copy(result.checkpoint, ck)
    h = result.history
    run.summary[f"train_round{r}"] = {
        "episodes": len(episodes), "ticks": int(sum(len(e) for e in episodes)),
        "steps": h[-1]["step"], "final_loss": h[-1]["loss"], "id": result.manifest["id"],
        "samples_per_s": float(np.median([x["samples_per_s"] for x in h[1:]] or [0])),
        "history": h, "wall_s": run.now() - t0, "policy_bytes": policy.stat().st_size}
    run.log(f"round {r}: {h[-1]['step']} steps, loss {h[-1]['loss']:.4f}, "
            f"{run.summary[f'train_round{r}']['samples_per_s']:.0f} samples/s -> {policy}")
    run.save(policy, ck)
    del episodes
    return policy, ck, result.manifest


def write_release(summary: dict, round_no: int, policy: str | Path, dest: str | Path,
                  more_reports: dict[str, list[dict]] | None = None, robot=None,
                  name: str = "default") -> dict[str, Path]:
    """The shipped policy folder: NAME.onnx, NAME.lineage.json, NAME.eval.json.

    `summary`: a run's summary.json; `more_reports`: per task, extra EpisodeReport dicts run
    elsewhere on the same policy file (episodes a run's deadline dropped), merged by seed.
    """
    from humanoid_manip.learn.evaluate import EpisodeReport, summarize
    from humanoid_manip.robot import load_robot
    from humanoid_manip.sim import make_task

    robot = robot or load_robot()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    onnx_path = dest / f"{name}.onnx"
    if Path(policy).resolve() != onnx_path.resolve():
        shutil.copy(policy, onnx_path)
    lineage = _lineage(onnx_path)
    evals = {}
    for task, report in summary.get(f"eval_round{round_no}", {}).items():
        if task == "errors":
            continue
        eps = {e["seed"]: dict(e, machine="run") for e in report["episodes"]}
        for e in (more_reports or {}).get(task, []):
            eps.setdefault(e["seed"], dict(e, machine="here"))
        reports = [EpisodeReport(**{k: v for k, v in e.items() if k != "machine"})
                   for e in eps.values()]
        s = summarize(reports, task, onnx_path.name, lineage,
                      make_task(task).config.time_limit_s, robot)
        s["machine_of_seed"] = {str(k): v["machine"] for k, v in sorted(eps.items())}
        evals[task] = s
    for task, extra in (more_reports or {}).items():
        if task not in evals and extra:
            s = summarize([EpisodeReport(**e) for e in extra], task, onnx_path.name, lineage,
                          make_task(task).config.time_limit_s, robot)
            s["machine_of_seed"] = {str(e["seed"]): "here" for e in extra}
            evals[task] = s
    table = {t: {"episodes": len(v["episodes"]), "success_rate": v["success_rate"],
                 "mean_progress": v["mean_progress"], "mean_max_progress": v["mean_max_progress"],
                 "safety_stops": v["safety_stops"], "seeds": [v["seeds"][0], v["seeds"][-1]]}
             for t, v in evals.items()}
    eval_path = dest / f"{name}.eval.json"
    eval_path.write_text(json.dumps({"policy": onnx_path.name, "checkpoint": lineage.get("id"),
                                     "summary": table, "tasks": evals}, indent=1) + "\n")
    rounds = {k: {kk: vv for kk, vv in v.items() if kk != "history"}
              for k, v in summary.items() if k.startswith("train_round")}
    lineage_path = dest / f"{name}.lineage.json"
    lineage_path.write_text(json.dumps({
        "policy": onnx_path.name, "bytes": onnx_path.stat().st_size,
        "checkpoint": lineage, "round": round_no, "training": rounds,
        "curve": summary.get(f"train_round{round_no}", {}).get("history", []),
        "data": {"expert_collect_path": summary.get("expert_collect_path"),
                 "phases": summary.get("phases")},
        "pipeline": {"command": "python -m humanoid_manip.learn.ship",
                     "args": summary.get("args"), "train_config": summary.get("train_config"),
                     "code_commit": summary.get("code_commit"),
                     "workers": summary.get("workers")},
        "evaluation": table}, indent=1) + "\n")
    return {"policy": onnx_path, "eval": eval_path, "lineage": lineage_path}


if __name__ == "__main__":
    sys.exit(main())
