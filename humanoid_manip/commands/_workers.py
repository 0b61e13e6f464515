"""`--workers` and `--address`, shared by the commands that run many episodes."""
from __future__ import annotations

from humanoid_manip.commands._args import positive_int


def add_worker_arguments(p) -> None:
    from humanoid_manip.loop.runner import default_workers

    n = default_workers()
    p.add_argument("--workers", type=positive_int, default=n,
                   help=f"episodes run in parallel, as Ray tasks (default: the cores here, {n}; "
                        "1 runs them in this process)")
    p.add_argument("--address", metavar="ADDR",
                   help="join a running Ray cluster (`ray start --head` prints it; 'auto' finds "
                        "a local one) instead of starting Ray here")


def run_episode_jobs(jobs, args, desc: str, progress: bool = True):
    """Run a command's episode jobs with its --workers / --address; results in job order."""
    from humanoid_manip.loop import run_jobs

    return run_jobs(jobs, workers=args.workers, address=args.address, progress=progress,
                    desc=desc)
