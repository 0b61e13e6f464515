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


# Marker colours of the safety monitor's event types in the plots; stops and faults in red.
EVENT_COLORS = {"mode": "0.35", "torque_limit": "tab:orange", "rate_limit": "tab:olive",
                "position_soft_limit": "tab:purple", "velocity_limit": "tab:cyan",
                "workspace": "tab:brown", "self_collision": "tab:pink",
                "request_rejected": "tab:gray", "request_timeout": "tab:gray"}
STOP_EVENTS = {"position_hard_limit", "joint_state_timeout", "foreign_publisher", "estop"}


def _short(joint: str, group: str) -> str:
    """left_index_pip -> index_pip in the left_hand panel (the side is in the panel's name)."""
    side = group.split("_")[0] + "_"
    return joint[len(side):] if joint.startswith(side) and side != "head_" else joint


def _mark_events(ax, events, times, group_joints: set[str], seen: dict) -> None:
    """Safety events as triangles along the panel's top edge: those naming a joint of this
    panel, and those naming none (mode changes, stops); colour by type."""
    trans = ax.get_xaxis_transform()  # x in data, y in axes fraction
    for e, t in zip(events, times):
        joints = set(e.get("joints") or [])
        if joints and not joints & group_joints:
            continue
        kind = str(e.get("type", "?"))
        color = "red" if kind in STOP_EVENTS else EVENT_COLORS.get(kind, "black")
        if kind in STOP_EVENTS:
            ax.axvline(t, color="red", linewidth=1.2, alpha=0.8)
        ax.plot([t], [0.97], marker="v", markersize=5, color=color, transform=trans,
                clip_on=False, linestyle="none")
        seen.setdefault(kind, color)


def _group_plot(path: Path, title: str, robot, unit: str, series, events=(),
                event_times=()) -> Path:
    import matplotlib.pyplot as plt

    fig = group_figure(title, robot, unit, series, events, event_times)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def group_figure(title: str, robot, unit: str, series, events=(), event_times=()):
    """One panel per joint group, a named line per joint, the y axis in `unit`; `series` is
    [(label, t, values T×n canonical, line style)]; safety events marked on top of each panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    groups = list(robot.groups)
    fig, axes = plt.subplots(len(groups), 1, figsize=(13, 2.6 * len(groups)), sharex=True)
    seen: dict[str, str] = {}
    for ax, g in zip(axes, groups):
        idx = robot.group_indices(g)
        names = [robot.names[i] for i in idx]
        colors = plt.get_cmap("tab20" if len(idx) > 10 else "tab10")(np.arange(len(idx)) % 20)
        for _label, t, values, style in series:
            if not values.size or values.ndim != 2 or values.shape[1] != robot.n:
                continue
            for k, i in enumerate(idx):
                ax.plot(t, values[:, i], linewidth=0.9, linestyle=style, color=colors[k],
                        label=_short(names[k], g) if style == "-" else None)
        _mark_events(ax, events, event_times, set(names), seen)
        ax.set_ylabel(f"{g}\n({unit})", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False,
                  ncol=2 if len(idx) > 8 else 1, title=g, title_fontsize=8)
    axes[-1].set_xlabel("time since the episode start (s)")
    handles = [Line2D([], [], color="k", linestyle=style, label=label)
               for label, _t, values, style in series if values.size]
    handles += [Line2D([], [], color=c, marker="v", linestyle="none",
                       label=f"safety: {k.replace('_', ' ')}") for k, c in sorted(seen.items())]
    if handles:
        fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 5), fontsize=8,
                   frameon=False, bbox_to_anchor=(0.45, 0.985))
    fig.suptitle(title, y=0.998)
    fig.tight_layout(rect=(0, 0, 1, 0.975))
    return fig


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
    """Joint position, velocity and torque plots (one panel per joint group, a named line per
    joint, safety events marked), a contact sheet and (video=True) an MP4, under out."""
    if robot is None:
        from humanoid_manip.robot import load_robot

        robot = load_robot()
    ep = read_episode(path)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = Path(path).stem
    t0 = ep.start_s
    ev = (ep.events, np.asarray(ep.event_t) - t0)
    written = [
        _group_plot(out / "joint_positions.png", f"{name}: joint positions", robot, "rad",
                    [("position", ep.t - t0, ep.position, "-")], *ev),
        _group_plot(out / "joint_velocities.png", f"{name}: joint velocities", robot, "rad/s",
                    [("velocity", ep.t - t0, ep.velocity, "-")], *ev),
        _group_plot(out / "torques.png", f"{name}: torques", robot, "N·m",
                    [("applied (solid)", ep.command_t - t0, ep.command, "-"),
                     ("requested (dashed)", ep.request_t - t0, ep.request, "--")], *ev),
    ]
    if ep.images:
        written.append(contact_sheet(out / "contact_sheet.png", ep.images, t0))
        if video:
            written.append(camera_video(out / "cameras.mp4", ep.images,
                                        robot.rates.camera_hz, progress))
    return written
