"""`humanoid-manip eval`: a policy file in the simulation, through the policy runtime and the
safety monitor, at the sim stack's timing, on one or many workers."""
from __future__ import annotations

from humanoid_manip.commands._args import (
    existing_file,
    non_negative_int,
    output_dir,
    policy_file,
    positive_float,
    positive_int,
    task_name,
)
from humanoid_manip.learn.evaluate import EVAL_SEED

HELP = ("run a policy file in the simulation through the policy runtime and the safety "
        "monitor; success rate, progress, interventions")
SHIPPED = "policies/default.onnx"  # under the package share folder (see humanoid_manip.paths)


def add_arguments(p) -> None:
    from humanoid_manip.commands._workers import add_worker_arguments

    p.add_argument("--policy", type=policy_file, help="policy file, or 'default' (default: "
                   f"what the stack runs: config/policy.yaml model, else the shipped {SHIPPED})")
    p.add_argument("--task", required=True, type=task_name)
    p.add_argument("--episodes", type=positive_int,
                   help="how many (default: config/train.yaml eval)")
    p.add_argument("--seed", type=non_negative_int, default=EVAL_SEED, help="first seed "
                   f"(default {EVAL_SEED}); seeds the policy was trained on are refused")
    p.add_argument("--out", type=output_dir, help="folder for the report JSON and the videos")
    p.add_argument("--videos", type=non_negative_int, help="MP4s of the first N episodes "
                   "(default: config/train.yaml eval)")
    p.add_argument("--time-limit", type=positive_float,
                   help="shorter episodes than config/tasks.yaml")
    p.add_argument("--delay-steps", type=non_negative_int,
                   help="each torque request reaches the safety monitor this many physics "
                        "steps after the state it answers (default: config/train.yaml eval, "
                        "1: the sim stack's timing, so `up sim` runs the same episode; "
                        "0: lockstep)")
    p.add_argument("--freeze-images", nargs="?", const="own", choices=("own", "next_seed"),
                   metavar="SCENE",
                   help="the ablation: the policy sees one frame per camera for the whole "
                        "episode (joints stay live): the episode's first ('own', the default) "
                        "or the next seed's ('next_seed': another layout); a policy that uses "
                        "its eyes collapses")
    p.add_argument("--config", type=existing_file, help="settings (default config/train.yaml)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--force", action="store_true", help="replace an earlier report of this "
                   "task in --out (and its videos)")
    add_worker_arguments(p)


def default_policy() -> str:
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


def run(args) -> int:
    import json
    from pathlib import Path

    from humanoid_manip.learn.config import load_eval_config
    from humanoid_manip.learn.evaluate import EvaluationError, evaluate

    cfg = load_eval_config(args.config, episodes=args.episodes, videos=args.videos,
                           delay_steps=args.delay_steps)
    policy = default_policy() if args.policy in (None, "default") else args.policy
    if not Path(policy).is_file():
        raise EvaluationError(f"policy file not found: {policy}")
    report_file = Path(args.out or ".") / f"eval_{args.task}.json"
    if args.out and report_file.exists() and not args.force:
        raise EvaluationError(f"{report_file} exists; pass --force to replace it or choose "
                              "another --out")
    report = evaluate(policy, args.task, cfg.episodes, args.seed, out_dir=args.out,
                      videos=cfg.videos if args.out else 0, progress=not args.json,
                      time_limit_s=args.time_limit, delay_steps=cfg.delay_steps,
                      workers=args.workers, address=args.address,
                      freeze_images=bool(args.freeze_images),
                      frozen_scene=args.freeze_images or "own")
    if args.json:
        print(json.dumps(report))
    else:
        videos = f"; videos {report['videos']}" if report["videos"] else ""
        print(f"{args.task}: success {report['success_rate']:.0%} over {cfg.episodes} "
              f"episode(s), mean progress {report['mean_progress']:.2f}, safety interventions "
              f"{report['safety_interventions']}, safety stops {report['safety_stops']}"
              f"{videos}")
    return 0
