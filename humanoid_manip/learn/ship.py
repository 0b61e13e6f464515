"""A release of the policy: a flywheel round's policy file with its lineage and evaluation.

`humanoid-manip ship RUN --dest policies/` copies round N's (default: the last) `policy.onnx`
of the flywheel run folder RUN as NAME.onnx and writes beside it NAME.lineage.json (the
checkpoint's manifest, every round's training figures, the flywheel's settings) and
NAME.eval.json (every evaluation episode of that round, per task, with the evaluation
manifests). Evaluations run elsewhere on the same file (`humanoid-manip eval --out`) can be
merged in by seed. RUN may also be a training run (`humanoid-manip train --out`: its
`policy.onnx` beside `checkpoint.pt`) or a policy file made without one (`humanoid-manip
average`), whose evaluations all come from `--merge`.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from humanoid_manip.errors import HumanoidManipError


class ShipError(HumanoidManipError):
    """A run folder that holds no finished round, or a release that would overwrite files."""


def _round(run: Path, round_no: int | None) -> tuple[int | None, dict]:
    """(round, its round.json) of a flywheel run; (None, {"policy": …}) for a training run."""
    from humanoid_manip.learn.flywheel import ROUND_JSON
    from humanoid_manip.learn.train import CHECKPOINT_NAME

    if run.is_file():  # a policy file made without a training run of its own (an average)
        if run.suffix != ".onnx" or round_no is not None:
            raise ShipError(f"{run} is a file: ship takes a run folder or a policy .onnx "
                            f"(without --round)")
        return None, {"policy": str(run)}
    done = sorted(int(p.parent.name[5:]) for p in run.glob(f"round*/{ROUND_JSON}"))
    if not done and (run / CHECKPOINT_NAME).is_file() and (run / "policy.onnx").is_file():
        if round_no is not None:
            raise ShipError(f"{run} is a training run, not a flywheel run: it has no rounds")
        return None, {"policy": str(run / "policy.onnx")}
    if not done:
        raise ShipError(f"{run} holds neither a finished flywheel round "
                        f"(round<N>/{ROUND_JSON}) nor a trained policy (policy.onnx beside "
                        f"checkpoint.pt)")
    r = done[-1] if round_no is None else round_no
    if r not in done:
        raise ShipError(f"round {r} of {run} is not finished; finished rounds: {done}")
    return r, json.loads((run / f"round{r}" / ROUND_JSON).read_text())


def write_release(run: str | os.PathLike, dest: str | os.PathLike, round_no: int | None = None,
                  name: str = "default", more: list[dict] | None = None, robot=None,
                  force: bool = False) -> dict[str, Path]:
    """The shipped policy folder: NAME.onnx, NAME.lineage.json, NAME.eval.json.

    `more`: evaluation reports (`evaluate`'s JSON) of the same policy file run elsewhere,
    merged into the round's own by seed (the round's episode wins a seed both have).
    """
    from humanoid_manip.learn.evaluate import EpisodeReport, policy_lineage, summarize
    from humanoid_manip.robot import load_robot

    robot = robot or load_robot()
    run, dest = Path(run), Path(dest)
    r, summary = _round(run, round_no)
    if r is None and not more:
        raise ShipError(f"{run} is a training run: give its evaluation with --merge "
                        f"(`humanoid-manip eval --policy {run}/policy.onnx --out E` writes "
                        f"E/eval_TASK.json)")
    outputs = {k: dest / f"{name}.{k}" for k in ("onnx", "lineage.json", "eval.json")}
    there = [str(p) for p in outputs.values() if p.exists()]
    if there and not force:
        raise ShipError(f"{', '.join(there)} exist; pass --force to replace them")
    dest.mkdir(parents=True, exist_ok=True)
    policy = Path(summary["policy"])
    if policy.resolve() != outputs["onnx"].resolve():
        shutil.copy(policy, outputs["onnx"])
    lineage = policy_lineage(outputs["onnx"], robot)
    evals = {}
    reports = {} if r is None else {
        p.stem[5:]: json.loads(p.read_text())
        for p in sorted((run / f"round{r}" / "eval").glob("eval_*.json"))}
    for extra in more or []:
        reports.setdefault(extra["task"], {"episodes": [], "lineage": {}})
        if extra.get("freeze_images"):
            raise ShipError(f"the {extra['task']} report was run with frozen images (an "
                            "ablation): a release's evaluation is of the policy as it runs")
    for task, report in sorted(reports.items()):
        timings = {x["delay_steps"] for x in [report, *(more or [])]
                   if x.get("task", task) == task and "delay_steps" in x}
        if len(timings) > 1:
            raise ShipError(f"the {task} reports were run at different timings (delay_steps "
                            f"{sorted(timings)}); merge reports of one timing")
        eps = {e["seed"]: dict(e, machine="run") for e in report["episodes"]}
        for extra in more or []:
            if extra["task"] == task:
                for e in extra["episodes"]:
                    eps.setdefault(e["seed"], dict(e, machine="elsewhere"))
        fields = EpisodeReport.__dataclass_fields__
        episodes = [EpisodeReport(**{k: v for k, v in e.items() if k in fields})
                    for e in eps.values()]
        limit = (report.get("lineage", {}).get("source", {}).get("time_limit_s")
                 or _time_limit(task))
        s = summarize(episodes, task, outputs["onnx"].name, lineage, limit, robot)
        s["machine_of_seed"] = {str(k): v["machine"] for k, v in sorted(eps.items())}
        if timings:  # the evaluation's timing (1: the sim stack's), as `eval` reported it
            s["delay_steps"] = timings.pop()
        evals[task] = s
    table = {t: {"episodes": len(v["episodes"]), "success_rate": v["success_rate"],
                 "mean_progress": v["mean_progress"], "mean_max_progress": v["mean_max_progress"],
                 "safety_stops": v["safety_stops"], "seeds": [v["seeds"][0], v["seeds"][-1]]}
             for t, v in evals.items()}
    outputs["eval.json"].write_text(json.dumps(
        {"policy": outputs["onnx"].name, "checkpoint": lineage.get("id"), "summary": table,
         "tasks": evals}, indent=1) + "\n")
    fly = run / "flywheel.json"
    flywheel = json.loads(fly.read_text()) if fly.is_file() else {}
    rounds = [json.loads(p.read_text()) for p in sorted(run.glob("round*/round.json"))]
    outputs["lineage.json"].write_text(json.dumps({
        "policy": outputs["onnx"].name, "bytes": outputs["onnx"].stat().st_size,
        "checkpoint": lineage, "round": r,
        "rounds": [{k: v for k, v in x.items() if k != "files"} for x in rounds],
        "pipeline": ({"command": "humanoid-manip flywheel", "config": flywheel.get("config"),
                      "workers": flywheel.get("workers"), "run": str(run.resolve())}
                     if r is not None else
                     {"command": "humanoid-manip average", "file": str(run.resolve()),
                      "members": [m["file"] for m in lineage["source"]["members"]]}
                     if lineage.get("source", {}).get("type") == "average" else
                     {"command": "humanoid-manip train", "run": str(run.resolve()),
                      "train_config": lineage.get("source", {}).get("train_config")}),
        "evaluation": table}, indent=1) + "\n")
    return {"policy": outputs["onnx"], "eval": outputs["eval.json"],
            "lineage": outputs["lineage.json"]}


def _time_limit(task: str) -> float:
    from humanoid_manip.sim import make_task

    return make_task(task).time_limit_s
