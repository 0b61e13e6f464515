"""`humanoid-manip expert`: run a task's scripted expert over consecutive seeds and score it."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from humanoid_manip.commands._args import (
    non_negative_float,
    non_negative_int,
    output_file,
    positive_int,
    task_name,
)
from humanoid_manip.errors import HumanoidManipError

HELP = "run a task's scripted expert on seeds S, S+1, ... and report success per episode"


def add_arguments(p) -> None:
    p.add_argument("--task", required=True, type=task_name,
                   help="task name (see `humanoid-manip tasks`)")
    p.add_argument("--episodes", type=positive_int, default=1,
                   help="number of episodes (default 1)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="first seed (default 0)")
    p.add_argument("--video", metavar="FILE", type=output_file,
                   help="write an MP4 of the head camera")
    p.add_argument("--force", action="store_true", help="overwrite an existing --video file")
    p.add_argument("--video-size", type=positive_int, default=None, metavar="PX",
                   help="video frame side in pixels (default: robot.yaml's image size)")
    p.add_argument("--takeover-after", type=non_negative_float, default=None, metavar="SECONDS",
                   help="the takeover test: the expert acts until SECONDS, then for 0.5 s smooth "
                        "random torques (10%% of each joint's effort limit) perturb it, then a "
                        "newly built expert takes over from the state it finds")
    p.add_argument("--perturb", choices=("add", "replace"), default="add",
                   help="takeover noise on top of the expert's torque (add, default) or instead "
                        "of it, gravity compensation included (replace)")
    p.add_argument("--json", action="store_true",
                   help="print {'task', 'episodes': [...], 'success_rate'} as JSON")


class _Video:
    """Head-camera frames into an MP4 via imageio-ffmpeg (bundled ffmpeg)."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float):
        try:
            import imageio_ffmpeg
        except ImportError:
            raise HumanoidManipError("--video needs imageio-ffmpeg (pip install imageio-ffmpeg)"
                                     ) from None
        try:
            self.writer = imageio_ffmpeg.write_frames(str(path), size, fps=fps,
                                                      macro_block_size=1, quality=7)
            self.writer.send(None)
        except (OSError, RuntimeError) as exc:
            raise HumanoidManipError(f"cannot write video {path}: {exc}") from None

    def __call__(self, images: dict) -> None:
        try:
            self.writer.send(images["head_camera"].tobytes())
        except (OSError, RuntimeError) as exc:  # ffmpeg gone: a full disk, a removed folder
            raise HumanoidManipError(f"cannot write the video: {exc}") from None

    def close(self) -> None:
        self.writer.close()


def run(args) -> int:
    from humanoid_manip.sim import Simulation, make_task
    from humanoid_manip.sim.rollout import PERTURB_FRACTION, PERTURB_S, run_expert_episode

    if args.episodes < 1:
        raise HumanoidManipError(f"--episodes must be at least 1, got {args.episodes}")
    if args.seed < 0:
        raise HumanoidManipError(f"--seed must be non-negative, got {args.seed}")
    if args.takeover_after is not None and not args.takeover_after >= 0:
        raise HumanoidManipError(f"--takeover-after must be a time >= 0 s, got "
                                 f"{args.takeover_after}")
    task = make_task(args.task)  # an unknown name fails here, listing the valid ones
    size = None if args.video_size is None else (args.video_size, args.video_size)
    sim = Simulation(task, seed=args.seed, render=bool(args.video), image_size=size)
    video = None
    if args.video:
        video = _Video(Path(args.video), (sim.image_width, sim.image_height),
                       sim.robot.rates.camera_hz)
    seeds = range(args.seed, args.seed + args.episodes)
    bar = None
    if sys.stderr.isatty() and args.episodes > 1:
        from tqdm import tqdm

        bar = tqdm(total=args.episodes, desc=args.task, unit="ep", file=sys.stderr)
    results = []
    try:
        for seed in seeds:
            r = run_expert_episode(sim, seed, on_frame=video,
                                   takeover_after=args.takeover_after, perturb=args.perturb)
            results.append(r)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(success=f"{sum(x.success for x in results)}/{len(results)}")
            elif not args.json:
                print(f"seed {r.seed}: {'success' if r.success else 'failure'} "
                      f"(progress {r.progress:.2f}, {r.duration:.2f} s)", flush=True)
    finally:
        if bar is not None:
            bar.close()
        if video is not None:
            video.close()
        sim.close()
    rate = sum(r.success for r in results) / len(results)
    report = {"task": args.task,
              "episodes": [{"seed": r.seed, "success": r.success, "progress": r.progress,
                            "duration": r.duration, "takeover_s": r.takeover_s}
                           for r in results],
              "success_rate": rate}
    if args.takeover_after is not None:
        report["takeover"] = {"after_s": args.takeover_after, "perturb": args.perturb,
                              "perturb_s": PERTURB_S, "fraction_of_effort": PERTURB_FRACTION}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"{args.task}: {sum(r.success for r in results)}/{len(results)} "
              f"successful ({rate:.0%})")
    return 0
