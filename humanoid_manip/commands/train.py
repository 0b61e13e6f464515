"""`humanoid-manip train`: behaviour cloning on a dataset folder, then export to ONNX."""
from __future__ import annotations

from humanoid_manip.commands._args import (
    existing_dir,
    existing_file,
    non_negative_int,
    output_dir,
    positive_int,
    task_name,
)

HELP = ("train a policy by behaviour cloning on a dataset folder (its cache is built or "
        "updated; a privileged-state teacher's config reads the files' object state instead) "
        "and export it; under torchrun, data-parallel on several GPUs")


def add_arguments(p) -> None:
    p.add_argument("dataset", type=existing_dir, help="folder of episode files (.mcap)")
    p.add_argument("--out", required=True, type=output_dir,
                   help="run folder: checkpoint, curve, policy.onnx")
    p.add_argument("--cache", type=output_dir, help="cache folder (default DATASET/.cache)")
    p.add_argument("--config", type=existing_file,
                   help="hyperparameters (default config/train.yaml)")
    p.add_argument("--steps", type=positive_int, help="override steps")
    p.add_argument("--seed", type=non_negative_int, help="override seed")
    p.add_argument("--tasks", nargs="+", type=task_name,
                   help="task names the policy knows, in this order "
                   "(default: every registered task)")
    p.add_argument("--heldout", type=existing_dir,
                   help="folder of episodes never trained on: the offline action error on them "
                        "(per joint group, beside the no-learning baselines) goes into the "
                        "curve and the checkpoint's lineage")
    p.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint "
                   "exists in --out")
    p.add_argument("--no-export", action="store_true", help="do not write OUT/policy.onnx")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    import json
    from pathlib import Path

    from humanoid_manip.data.cache import build_cache
    from humanoid_manip.data.validate import find_episodes
    from humanoid_manip.learn.config import load_train_config
    from humanoid_manip.learn.dataset import episodes_from_cache
    from humanoid_manip.learn.distributed import DataParallel
    from humanoid_manip.learn.export import export_checkpoint
    from humanoid_manip.learn.flywheel import load_arrays
    from humanoid_manip.learn.train import train_policy
    from humanoid_manip.robot import load_robot
    from humanoid_manip.sim import task_names

    robot = load_robot()
    cfg = load_train_config(args.config, steps=args.steps, seed=args.seed)
    tasks = list(args.tasks) if args.tasks else list(task_names())
    parallel = DataParallel.from_env()
    teacher = cfg.model.observation == "privileged"
    with parallel:
        if teacher:  # the object state is in every file, no pixels to cache: read them
            episodes = load_arrays(find_episodes(args.dataset), tasks, robot, cfg)
        elif parallel.rank == 0:  # one process builds the cache; the others wait and read it
            built = build_cache(args.dataset, args.cache, robot=robot,
                                progress=not args.quiet, sample_hz=robot.rates.policy_hz)
            print(built.summary())
            parallel.barrier()
            cache = built.cache
        else:
            parallel.barrier()
            cache = Path(args.cache) if args.cache else Path(args.dataset) / ".cache"
        if not teacher:
            episodes, _ = episodes_from_cache(cache, tasks, robot.rates.policy_hz)
        val = load_arrays(find_episodes(args.heldout), tasks, robot, cfg) if args.heldout else ()
        result = train_policy(cfg, episodes, robot, tasks, args.out, resume=not args.no_resume,
                              val_episodes=val,
                              progress=not args.quiet and parallel.rank == 0,
                              source_info={"dataset": str(Path(args.dataset).resolve())},
                              parallel=parallel)
        if parallel.rank != 0:
            return 0
    last = result.history[-1] if result.history else {}
    summary = {"checkpoint": str(result.checkpoint), "curve": str(result.curve),
               "id": result.manifest.get("id"), "steps": last.get("step"),
               "loss": last.get("loss"), "processes": parallel.world}
    if not args.no_export:
        p = export_checkpoint(result.checkpoint, Path(args.out) / "policy.onnx", robot)
        summary["policy"] = str(p)
    print(json.dumps(summary))
    return 0
