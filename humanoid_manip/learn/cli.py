"""`train` and `export` verbs, shaped like humanoid_manip/commands/ modules (HELP, add_arguments,
run), so `humanoid-manip` can register them; `python -m humanoid_manip.learn` runs them today."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from humanoid_manip.commands._args import (
    existing_dir,
    existing_file,
    non_negative_float,
    non_negative_int,
    output_dir,
    output_file,
    policy_file,
    positive_float,
    positive_int,
    task_name,
)

HELP = "train a policy by behaviour cloning on a dataset, export it to ONNX, evaluate it"
SHIPPED = "policies/default.onnx"  # under the package share folder (see humanoid_manip.paths)
EVAL_SEED = 1_000_000  # evaluation seeds start here; data collection counts up from 0


def add_train_arguments(t: argparse.ArgumentParser) -> None:
    t.add_argument("dataset", type=existing_dir, help="folder of episode files (.mcap)")
    t.add_argument("--out", required=True, type=output_dir,
                   help="run folder: checkpoint, curve, policy.onnx")
    t.add_argument("--cache", type=output_dir, help="cache folder (default DATASET/.cache)")
    t.add_argument("--config", type=existing_file,
                   help="hyperparameters (default config/train.yaml)")
    t.add_argument("--steps", type=positive_int, help="override steps")
    t.add_argument("--seed", type=non_negative_int, help="override seed")
    t.add_argument("--tasks", nargs="+", type=task_name,
                   help="task names the policy knows, in this order "
                   "(default: every registered task)")
    t.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint "
                   "exists in --out")
    t.add_argument("--no-export", action="store_true", help="do not write OUT/policy.onnx")
    t.add_argument("--quiet", action="store_true", help="no progress bar")


def add_export_arguments(e: argparse.ArgumentParser) -> None:
    e.add_argument("checkpoint", type=existing_file)
    e.add_argument("output", type=output_file, help=".onnx file to write")
    e.add_argument("--force", action="store_true", help="overwrite an existing output")


def add_eval_arguments(v: argparse.ArgumentParser) -> None:
    v.add_argument("--policy", type=policy_file, help="policy file, or 'default' (default: "
                   f"what the stack runs: config/policy.yaml model, else the shipped {SHIPPED})")
    v.add_argument("--task", required=True, type=task_name)
    v.add_argument("--episodes", type=positive_int, default=10)
    v.add_argument("--seed", type=non_negative_int, default=EVAL_SEED, help="first seed "
                   f"(default {EVAL_SEED}); seeds the policy was trained on are refused")
    v.add_argument("--out", type=output_dir, help="folder for the report JSON and the videos")
    v.add_argument("--videos", type=non_negative_int, default=1,
                   help="MP4s of the first N episodes")
    v.add_argument("--time-limit", type=positive_float,
                   help="shorter episodes than config/tasks.yaml")
    v.add_argument("--delay-steps", type=non_negative_int, default=0,
                   help="each torque request reaches the "
                   "safety monitor this many physics steps late (default 0: lockstep)")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.add_argument("--force", action="store_true", help="replace an earlier report of this "
                   "task in --out (and its videos)")


def add_flywheel_arguments(f: argparse.ArgumentParser) -> None:
    f.add_argument("--out", required=True, type=output_dir,
                   help="folder for the rounds (resumed if present)")
    f.add_argument("--config", type=existing_file, help="default config/train.yaml")
    for name, kind in (("task", task_name), ("rounds", positive_int),
                       ("expert-episodes", positive_int), ("dagger-episodes", non_negative_int),
                       ("eval-episodes", positive_int), ("train-steps", positive_int),
                       ("time-limit-s", non_negative_float)):
        f.add_argument(f"--{name}", type=kind, help="override flywheel." + name.replace("-", "_"))
    f.add_argument("--quiet", action="store_true")


VERBS = {
    "train": ("train on a dataset folder (its cache is built or updated)", add_train_arguments),
    "export": ("export a checkpoint to a policy file", add_export_arguments),
    "eval": ("run a policy file in the simulation through the policy runtime and the safety "
             "monitor; success rate, progress, interventions", add_eval_arguments),
    "flywheel": ("collect, validate, train, export, evaluate, collect with the policy and "
                 "expert corrections, retrain (config/train.yaml)", add_flywheel_arguments),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="learn_command", metavar="ACTION", required=True)
    for name, (text, add) in VERBS.items():
        add(sub.add_parser(name, help=text, description=text))


def _task_names(given) -> list[str]:
    if given:
        return list(given)
    from humanoid_manip.sim import task_names

    return list(task_names())


def run(args: argparse.Namespace) -> int:
    from humanoid_manip.learn.export import export_checkpoint
    from humanoid_manip.robot import load_robot

    robot = load_robot()
    if args.learn_command == "eval":
        return _eval(args, robot)
    if args.learn_command == "flywheel":
        return _flywheel(args, robot)
    if args.learn_command == "export":
        p = export_checkpoint(args.checkpoint, args.output, robot)
        print(f"wrote {p} ({p.stat().st_size / 1e6:.2f} MB)")
        return 0
    from humanoid_manip.data.cache import build_cache
    from humanoid_manip.learn.config import load_train_config
    from humanoid_manip.learn.dataset import episodes_from_cache
    from humanoid_manip.learn.train import train_policy

    cfg = load_train_config(args.config, steps=args.steps, seed=args.seed)
    built = build_cache(args.dataset, args.cache, robot=robot, progress=not args.quiet,
                        sample_hz=robot.rates.policy_hz)
    print(built.summary())
    episodes, _ = episodes_from_cache(built.cache, _task_names(args.tasks),
                                      robot.rates.policy_hz)
    tasks = _task_names(args.tasks)
    result = train_policy(cfg, episodes, robot, tasks, args.out, resume=not args.no_resume,
                          progress=not args.quiet,
                          source_info={"dataset": str(Path(args.dataset).resolve())})
    last = result.history[-1] if result.history else {}
    summary = {"checkpoint": str(result.checkpoint), "curve": str(result.curve),
               "id": result.manifest.get("id"), "steps": last.get("step"),
               "loss": last.get("loss")}
    if not args.no_export:
        p = export_checkpoint(result.checkpoint, Path(args.out) / "policy.onnx", robot)
        summary["policy"] = str(p)
    print(json.dumps(summary))
    return 0


def _default_policy() -> str:
    """What the stack runs by default: config/policy.yaml `model`, else the shipped file."""
    from humanoid_manip import paths
    from humanoid_manip.learn.evaluate import EvaluationError
    from humanoid_manip.policy.config import load_policy_config

    cfg = load_policy_config()
    if cfg.model:
        return str(paths.resolve(cfg.model))
    shipped = paths.share_dir() / SHIPPED
    if not shipped.is_file():
        raise EvaluationError(f"no --policy given, config/policy.yaml names no model and there "
                              f"is no shipped policy ({shipped}); pass --policy FILE")
    return str(shipped)


def _eval(args: argparse.Namespace, robot) -> int:
    from humanoid_manip.learn.evaluate import EvaluationError, evaluate

    policy = _default_policy() if args.policy in (None, "default") else args.policy
    if not Path(policy).is_file():
        raise EvaluationError(f"policy file not found: {policy}")
    report_file = Path(args.out or ".") / f"eval_{args.task}.json"
    if args.out and report_file.exists() and not getattr(args, "force", False):
        raise EvaluationError(f"{report_file} exists; pass --force to replace it or choose "
                              "another --out")
    report = evaluate(policy, args.task, args.episodes, args.seed, out_dir=args.out,
                      videos=args.videos if args.out else 0, robot=robot,
                      progress=not args.json, time_limit_s=args.time_limit,
                      delay_steps=args.delay_steps)
    if args.json:
        print(json.dumps(report))
    else:
        videos = f"; videos {report['videos']}" if report["videos"] else ""
        print(f"{args.task}: success {report['success_rate']:.0%} over {args.episodes} "
              f"episode(s), mean progress {report['mean_progress']:.2f}, safety interventions "
              f"{report['safety_interventions']}, safety stops {report['safety_stops']}{videos}")
    return 0


def _flywheel(args: argparse.Namespace, robot) -> int:
    from humanoid_manip.learn.config import load_flywheel_config, load_train_config
    from humanoid_manip.learn.flywheel import run_flywheel

    cfg = load_flywheel_config(args.config, task=args.task, rounds=args.rounds,
                               expert_episodes=args.expert_episodes,
                               dagger_episodes=args.dagger_episodes,
                               eval_episodes=args.eval_episodes, train_steps=args.train_steps,
                               time_limit_s=args.time_limit_s)
    result = run_flywheel(cfg, load_train_config(args.config), args.out, robot,
                          progress=not args.quiet)
    for r in result["rounds"]:
        e = r["eval"]
        print(f"round {r['round']} ({r['collected']}): {r['episodes_trained']} episodes, "
              f"loss {r['final_loss']:.4f}, success {e['success_rate']:.0%}, progress "
              f"{e['mean_progress']:.3f} (max {e['mean_max_progress']:.3f}), interventions "
              f"{e['safety_interventions']}, safety stops {e.get('safety_stops', 0)}")
    if "change" in result:
        print("last round - first round: " + json.dumps(result["change"]))
    return 0


def main(argv: list[str] | None = None) -> int:
    import os
    import sys

    os.environ.setdefault("MUJOCO_GL", "egl")  # before MuJoCo's first import

    from humanoid_manip.errors import HumanoidManipError

    parser = argparse.ArgumentParser(prog="python -m humanoid_manip.learn", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except HumanoidManipError as exc:
        print(f"learn {args.learn_command}: error: {exc}", file=sys.stderr)
        return 2
