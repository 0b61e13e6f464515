"""`humanoid-manip flywheel`: collect, train, evaluate, collect with the policy and expert
labels (DAgger), retrain; episodes on the workers, training on the GPU when there is one."""
from __future__ import annotations

from humanoid_manip.commands._args import (
    existing_file,
    non_negative_float,
    non_negative_int,
    output_dir,
    positive_int,
    task_name,
)

HELP = ("rounds of collect, validate, train, export, evaluate, collect with the policy and "
        "expert labels (DAgger), retrain (config/train.yaml flywheel:), on one or many workers")


def add_arguments(p) -> None:
    from humanoid_manip.commands._workers import add_worker_arguments

    p.add_argument("--out", required=True, type=output_dir,
                   help="folder for the rounds (resumed if present)")
    p.add_argument("--config", type=existing_file, help="settings (default config/train.yaml)")
    p.add_argument("--tasks", nargs="+", type=task_name, help="override flywheel.tasks")
    for name, kind in (("rounds", positive_int), ("expert-episodes", positive_int),
                       ("expert-noise", non_negative_float),
                       ("dagger-episodes", non_negative_int), ("eval-episodes", positive_int),
                       ("train-steps", positive_int), ("train-budget-s", non_negative_float),
                       ("time-limit-s", non_negative_float),
                       ("delay-steps", non_negative_int)):
        p.add_argument(f"--{name}", type=kind, help="override flywheel." + name.replace("-", "_"))
    p.add_argument("--dagger-labeler", type=existing_file, metavar="POLICY_FILE",
                   help="a policy file that labels the DAgger rounds instead of the tasks' "
                        "experts (distillation: e.g. policies/teacher.onnx)")
    p.add_argument("--init-from", type=existing_file, metavar="CHECKPOINT",
                   help="override flywheel.init_from: the checkpoint round 0 starts from (a "
                        "student: its task's teacher, e.g. policies/teacher_dryer_open.pt)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_worker_arguments(p)


def run(args) -> int:
    import json

    from humanoid_manip.learn.config import load_flywheel_config, load_train_config
    from humanoid_manip.learn.flywheel import run_flywheel

    cfg = load_flywheel_config(args.config, tasks=args.tasks, rounds=args.rounds,
                               expert_episodes=args.expert_episodes,
                               expert_noise=args.expert_noise,
                               dagger_episodes=args.dagger_episodes,
                               eval_episodes=args.eval_episodes, train_steps=args.train_steps,
                               train_budget_s=args.train_budget_s,
                               time_limit_s=args.time_limit_s, delay_steps=args.delay_steps,
                               dagger_labeler=args.dagger_labeler, init_from=args.init_from)
    result = run_flywheel(cfg, load_train_config(args.config), args.out,
                          progress=not args.quiet, workers=args.workers, address=args.address)
    for r in result["rounds"]:
        print(f"round {r['round']} ({r['collected']}): {r['episodes_trained']} episodes, "
              f"loss {r['final_loss']:.4f}, {r['steps']} steps on {r['device']}")
        for task, e in r["eval"].items():
            print(f"  {task}: success {e['success_rate']:.0%}, progress "
                  f"{e['mean_progress']:.3f} (max {e['mean_max_progress']:.3f}), "
                  f"interventions {e['safety_interventions']}, safety stops "
                  f"{e['safety_stops']}")
    if "change" in result:
        print("last round - first round: " + json.dumps(result["change"]))
    print(f"{args.out}/flywheel.json ({result['wall_s']:.0f} s on {result['workers']} "
          f"worker(s))")
    return 0
