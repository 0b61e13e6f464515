"""Looking at data before training on it: a dataset summary, and plots, a contact sheet and a
video of one episode."""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from humanoid_manip.data.episode import METADATA_RECORD, EpisodeFileError, read_episode
from humanoid_manip.data.schema import driving_policy
from humanoid_manip.data.validate import find_episodes

SHEET_COLUMNS = 8
VIDEO_SCALE = 2  # 96 px frames are tiny on a screen


def episode_facts(path: Path) -> dict[str, Any]:
    """Metadata and span of one episode from the MCAP summary (no message is decoded)."""
    import json

    from mcap.reader import make_reader

    try:
        with open(path, "rb") as f:
            reader = make_reader(f)
            summary = reader.get_summary()
            meta: dict = {}
            for record in reader.iter_metadata():
                if record.name == METADATA_RECORD:
                    meta = json.loads(record.metadata.get("json", "{}"))
    except Exception:  # noqa: BLE001 - no summary (a truncated file): decode it instead
        summary = None
    if summary is None or summary.statistics is None or not meta:
        ep = read_episode(path, images=False)
        return {"metadata": ep.metadata, "duration_s": ep.duration_s}
    st = summary.statistics
    duration = (st.message_end_time - st.message_start_time) * 1e-9
    return {"metadata": meta, "duration_s": duration}


def dataset_summary(path: str | os.PathLike, progress: bool = False) -> dict[str, Any]:
    """Episodes, tasks, durations, success rate, sources (and unreadable files)."""
    from tqdm import tqdm

    root = Path(path)
    files = find_episodes(root)
    tasks: Counter = Counter()
    sources: Counter = Counter()
    kinds: Counter = Counter()
    durations, outcomes, unreadable = [], [], []
    for f in tqdm(files, desc="summary", unit="ep", disable=not progress):
        try:
            facts = episode_facts(f)
        except EpisodeFileError as exc:
            unreadable.append(f"{f.name}: {exc}")
            continue
        meta = facts["metadata"]
        tasks[str(meta.get("task", "?"))] += 1
        src = meta.get("source") or {}
        label = str(src.get("type", "?")) if isinstance(src, dict) else "?"
        if driving_policy(src):
            label += f" {driving_policy(src)}"
        sources[label] += 1
        kinds["sim" if meta.get("sim", True) else "real"] += 1
        durations.append(facts["duration_s"])
        success = (meta.get("outcome") or {}).get("success")
        if isinstance(success, bool):
            outcomes.append(success)
    d = np.asarray(durations) if durations else np.zeros(1)
    return {
        "path": str(root), "episodes": len(files), "readable": len(durations),
        "tasks": dict(tasks.most_common()), "sources": dict(sources.most_common()),
        "sim_real": dict(kinds),
        "duration_s": {"total": float(d.sum()), "mean": float(d.mean()),
                       "min": float(d.min()), "max": float(d.max())},
        "success_rate": float(np.mean(outcomes)) if outcomes else None,
        "judged": len(outcomes), "unreadable": unreadable,
    }


def format_summary(s: dict[str, Any]) -> str:
    def counts(c: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in c.items()) or "-"

    d = s["duration_s"]
    rate = "-" if s["success_rate"] is None else f"{s['success_rate']:.0%} of {s['judged']}"
    rows = [("dataset", s["path"]), ("episodes", f"{s['episodes']} ({s['readable']} readable)"),
            ("tasks", counts(s["tasks"])), ("sources", counts(s["sources"])),
            ("sim / real", counts(s["sim_real"])),
            ("duration", f"{d['total']:.1f} s total, {d['mean']:.1f} s mean "
                         f"({d['min']:.1f}-{d['max']:.1f} s)"),
            ("success rate", rate)]
    rows += [("unreadable", u) for u in s["unreadable"]]
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{w}}  {v}" for k, v in rows)


def _group_plot(path: Path, title: str, t: np.ndarray, values: np.ndarray, robot,
                ylabel: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(robot.groups)
    fig, axes = plt.subplots(len(groups), 1, figsize=(11, 2.2 * len(groups)), sharex=True)
    for ax, g in zip(axes, groups):
        idx = robot.group_indices(g)
        if values.size and values.shape[1] == robot.n:
            ax.plot(t, values[:, idx], linewidth=0.8)
        ax.set_ylabel(f"{g}\n{ylabel}", fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def contact_sheet(path: Path, images: dict[str, tuple[np.ndarray, np.ndarray]], t0: float,
                  columns: int = SHEET_COLUMNS) -> Path:
    """Rows of evenly spaced frames, one row per camera, each labelled with its time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cams = sorted(images)
    fig, axes = plt.subplots(len(cams), columns, figsize=(1.6 * columns, 1.8 * len(cams)),
                             squeeze=False)
    for r, cam in enumerate(cams):
        ts, frames = images[cam]
        picks = np.linspace(0, len(frames) - 1, columns).round().astype(int)
        for c, i in enumerate(picks):
            ax = axes[r][c]
            ax.imshow(frames[i])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{ts[i] - t0:.2f} s", fontsize=7)
            if c == 0:
                ax.set_ylabel(cam, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def camera_video(path: Path, images: dict[str, tuple[np.ndarray, np.ndarray]], fps: float,
                 progress: bool = False) -> Path:
    """An MP4 of the cameras side by side, each frame the latest of every camera."""
    import imageio_ffmpeg
    from tqdm import tqdm

    cams = sorted(images)
    ref_t = images[cams[0]][0]
    h, w = images[cams[0]][1].shape[1:3]
    size = (w * len(cams) * VIDEO_SCALE, h * VIDEO_SCALE)
    writer = imageio_ffmpeg.write_frames(str(path), size, fps=fps, codec="libx264",
                                         pix_fmt_out="yuv420p", macro_block_size=1,
                                         quality=8, ffmpeg_log_level="error")
    writer.send(None)
    for t in tqdm(ref_t, desc="video", unit="frame", disable=not progress):
        row = []
        for cam in cams:
            ts, frames = images[cam]
            i = max(0, int(np.searchsorted(ts, t + 1e-9, side="right")) - 1)
            f = frames[i] if frames[i].shape[:2] == (h, w) else np.zeros((h, w, 3), np.uint8)
            row.append(f)
        frame = np.concatenate(row, axis=1).repeat(VIDEO_SCALE, 0).repeat(VIDEO_SCALE, 1)
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    return path


def inspect_episode(path: str | os.PathLike, out: str | os.PathLike, video: bool = True,
                    robot=None, progress: bool = False) -> list[Path]:
    """Joint position and torque plots, a contact sheet and (video=True) an MP4, under out."""
    if robot is None:
        from humanoid_manip.robot import load_robot

        robot = load_robot()
    ep = read_episode(path)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = Path(path).stem
    t0 = ep.start_s
    written = [
        _group_plot(out / "joint_positions.png", f"{name}: joint positions", ep.t - t0,
                    ep.position, robot, "rad"),
        _group_plot(out / "torques.png", f"{name}: applied torques", ep.command_t - t0,
                    ep.command, robot, "N·m"),
    ]
    if ep.images:
        written.append(contact_sheet(out / "contact_sheet.png", ep.images, t0))
        if video:
            written.append(camera_video(out / "cameras.mp4", ep.images,
                                        robot.rates.camera_hz, progress))
    return written
