"""Export a dataset to the LeRobot dataset format, codebase version v2.1, so the data can go to
that ecosystem (LeRobotDataset loads it; lerobot >= 0.4 converts v2.1 to v3.0 with its own
script).

Layout written (https://github.com/huggingface/lerobot, datasets/utils.py of lerobot 0.3):

    meta/info.json              codebase_version, fps, features, path templates, totals
    meta/episodes.jsonl         {"episode_index", "tasks": [task], "length"} per episode
    meta/tasks.jsonl            {"task_index", "task"} per task
    meta/episodes_stats.jsonl   {"episode_index", "stats": {feature: {min, max, mean, std, count}}}
    meta/stats.json             the same statistics over the whole dataset
    data/chunk-000/episode_000000.parquet            one row per frame
    videos/chunk-000/observation.images.<camera>/episode_000000.mp4

One row per camera frame (fps = the camera rate unless given): observation.state is the
latest joint state (positions then velocities, canonical order), action the latest applied
torque (in DAgger episodes the expert's torque request, the label). Torque labels recorded
faster than fps are subsampled: LeRobot has one rate per dataset.
"""
from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from humanoid_manip.data.cache import label_topic
from humanoid_manip.data.episode import Episode, EpisodeFileError, read_episode
from humanoid_manip.data.validate import DatasetError, find_episodes

CODEBASE_VERSION = "v2.1"
CHUNKS_SIZE = 1000
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
VIDEO_CODEC = ("libx264", "h264")  # (ffmpeg encoder, codec name LeRobot records)
SCALARS = {"timestamp": "float32", "frame_index": "int64", "episode_index": "int64",
           "index": "int64", "task_index": "int64"}


def video_key(camera: str) -> str:
    return f"observation.images.{camera}"


def features(robot, fps: int) -> dict[str, dict[str, Any]]:
    """The `features` of info.json: videos, state, action and LeRobot's index columns."""
    h, w = robot.image.height, robot.image.width
    out: dict[str, dict[str, Any]] = {}
    for cam in robot.camera_names:
        out[video_key(cam)] = {
            "dtype": "video", "shape": [h, w, 3], "names": ["height", "width", "channels"],
            "info": {"video.height": h, "video.width": w, "video.codec": VIDEO_CODEC[1],
                     "video.pix_fmt": "yuv420p", "video.is_depth_map": False,
                     "video.fps": fps, "video.channels": 3, "has_audio": False}}
    names = list(robot.names)
    out["observation.state"] = {"dtype": "float32", "shape": [2 * robot.n],
                                "names": [f"{n}.pos" for n in names]
                                + [f"{n}.vel" for n in names]}
    out["action"] = {"dtype": "float32", "shape": [robot.n], "names": [f"{n}.torque"
                                                                       for n in names]}
    for key, dtype in SCALARS.items():
        out[key] = {"dtype": dtype, "shape": [1], "names": None}
    return out


def _hold(t: np.ndarray, at: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(t, at + 1e-9, side="right") - 1, 0, len(t) - 1)


def episode_rows(ep: Episode, cameras, fps: int,
                 size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Frames, state and action of one episode on a fps grid from its start."""
    if not len(ep.t) or not len(ep.command_t):
        raise DatasetError(f"{ep.path.name}: no joint states or no applied torques")
    missing = [c for c in cameras if c not in ep.images]
    if missing:
        raise DatasetError(f"{ep.path.name}: no frames from {', '.join(missing)}")
    h, w = size
    wrong = [c for c in cameras if ep.images[c][1].shape[1:] != (h, w, 3)]
    if wrong:
        raise DatasetError(f"{ep.path.name}: {', '.join(wrong)} frames are not {w}x{h} rgb8")
    n = int(math.floor(ep.duration_s * fps + 1e-6)) + 1
    at = ep.start_s + np.arange(n) / fps
    ji, ci = _hold(ep.t, at), _hold(ep.command_t, at)
    state = np.concatenate([ep.position[ji], ep.velocity[ji]], axis=1).astype(np.float32)
    action = ep.command[ci]
    if label_topic(ep.metadata) == "/policy/torque_request" and len(ep.request_t):
        action = ep.request[_hold(ep.request_t, at)]
    rows = {"state": state, "action": action.astype(np.float32),
            "timestamp": (np.arange(n) / fps).astype(np.float32)}
    for cam in cameras:
        ts, frames = ep.images[cam]
        rows[cam] = frames[_hold(ts, at)]
    return rows


def _stats(a: np.ndarray, image: bool = False) -> dict[str, list]:
    """LeRobot's per-feature statistics: images per channel in [0, 1], shape (3, 1, 1)."""
    if image:
        x = a.reshape(-1, 3).astype(np.float64) / 255.0
        shape = (3, 1, 1)
    else:
        x = a.reshape(len(a), -1).astype(np.float64)
        shape = (x.shape[1],)
    return {"min": x.min(0).reshape(shape).tolist(), "max": x.max(0).reshape(shape).tolist(),
            "mean": x.mean(0).reshape(shape).tolist(), "std": x.std(0).reshape(shape).tolist(),
            "count": [int(len(a))]}


def _write_video(path: Path, frames: np.ndarray, fps: int) -> None:
    import imageio_ffmpeg

    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames.shape[1:3]
    writer = imageio_ffmpeg.write_frames(
        str(path), (w, h), fps=fps, codec=VIDEO_CODEC[0], pix_fmt_out="yuv420p",
        macro_block_size=1, quality=None, ffmpeg_log_level="error",
        output_params=["-g", "2", "-crf", "18"])  # short GOP: fast random access
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()


def _write_parquet(path: Path, columns: dict[str, np.ndarray]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays, names = [], []
    for key, a in columns.items():
        if a.ndim == 2:
            flat = pa.array(a.reshape(-1), type=pa.float32())
            arrays.append(pa.FixedSizeListArray.from_arrays(flat, a.shape[1]))
        else:
            arrays.append(pa.array(a))
        names.append(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_arrays(arrays, names=names), path)


def _jsonl(path: Path, items: list[dict]) -> None:
    path.write_text("".join(json.dumps(i) + "\n" for i in items))


def export_lerobot(dataset: str | os.PathLike, out: str | os.PathLike,
                   fps: float | None = None, repo_id: str = "local/humanoid_manip",
                   robot=None, progress: bool = False) -> dict[str, Any]:
    """Write a LeRobot v2.1 dataset at `out` (which must not exist); returns its info.json.

    The dataset is built in a hidden folder beside `out` and renamed to `out` once complete:
    a failed or interrupted export leaves nothing that would block the retry.
    """
    if robot is None:
        from humanoid_manip.robot import load_robot

        robot = load_robot()
    out = Path(out)
    if out.exists():
        raise DatasetError(f"{out} exists; the export writes a new dataset root")
    rate = robot.rates.camera_hz if fps is None else float(fps)
    fps_i = int(round(rate)) if math.isfinite(rate) and rate > 0 else 0
    if fps_i <= 0:
        raise DatasetError(f"fps must be a positive number, got {fps}")
    files = find_episodes(dataset)
    work = out.with_name(f".{out.name}.partial")
    shutil.rmtree(work, ignore_errors=True)  # what a killed export left
    try:
        info = _export(files, dataset, work, fps_i, repo_id, robot, progress)
        os.replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return info


def _export(files: list[Path], dataset, out: Path, fps_i: int, repo_id: str, robot,
            progress: bool) -> dict[str, Any]:
    from tqdm import tqdm

    cameras = list(robot.camera_names)
    tasks: dict[str, int] = {}
    episodes, ep_stats, skipped = [], [], []
    totals: dict[str, list[np.ndarray]] = {"state": [], "action": []}
    image_stats: dict[str, list[np.ndarray]] = {c: [] for c in cameras}
    index = 0
    out.mkdir(parents=True)
    (out / "meta").mkdir()
    for f in tqdm(files, desc="export", unit="ep", disable=not progress):
        try:
            ep = read_episode(f)
            rows = episode_rows(ep, cameras, fps_i, (robot.image.height, robot.image.width))
        except (EpisodeFileError, DatasetError) as exc:
            skipped.append(str(exc))
            continue
        task = str(ep.metadata.get("task") or "unknown")
        ti = tasks.setdefault(task, len(tasks))
        ei = len(episodes)
        n = len(rows["timestamp"])
        chunk = ei // CHUNKS_SIZE
        columns = {"observation.state": rows["state"], "action": rows["action"],
                   "timestamp": rows["timestamp"],
                   "frame_index": np.arange(n, dtype=np.int64),
                   "episode_index": np.full(n, ei, np.int64),
                   "index": np.arange(index, index + n, dtype=np.int64),
                   "task_index": np.full(n, ti, np.int64)}
        _write_parquet(out / DATA_PATH.format(episode_chunk=chunk, episode_index=ei), columns)
        stats = {}
        for cam in cameras:
            key = video_key(cam)
            _write_video(out / VIDEO_PATH.format(episode_chunk=chunk, video_key=key,
                                                 episode_index=ei), rows[cam], fps_i)
            stats[key] = _stats(rows[cam], image=True)
            stats[key]["count"] = [n]
            image_stats[cam].append(rows[cam][:: max(1, n // 20)])
        for key, a in columns.items():
            stats[key] = _stats(a)
        episodes.append({"episode_index": ei, "tasks": [task], "length": n})
        ep_stats.append({"episode_index": ei, "stats": stats})
        totals["state"].append(rows["state"])
        totals["action"].append(rows["action"])
        index += n
    if not episodes:
        raise DatasetError(f"no episode of {dataset} could be exported: {'; '.join(skipped)}")
    _jsonl(out / "meta" / "episodes.jsonl", episodes)
    _jsonl(out / "meta" / "tasks.jsonl", [{"task_index": i, "task": t}
                                          for t, i in tasks.items()])
    _jsonl(out / "meta" / "episodes_stats.jsonl", ep_stats)
    stats = {"observation.state": _stats(np.concatenate(totals["state"])),
             "action": _stats(np.concatenate(totals["action"]))}
    for cam in cameras:
        stats[video_key(cam)] = _stats(np.concatenate(image_stats[cam]), image=True)
        stats[video_key(cam)]["count"] = [index]
    (out / "meta" / "stats.json").write_text(json.dumps(stats, indent=1))
    info = {"codebase_version": CODEBASE_VERSION, "robot_type": "humanoid_manip",
            "total_episodes": len(episodes), "total_frames": index,
            "total_tasks": len(tasks), "total_videos": len(episodes) * len(cameras),
            "total_chunks": (len(episodes) - 1) // CHUNKS_SIZE + 1,
            "chunks_size": CHUNKS_SIZE, "fps": fps_i,
            "splits": {"train": f"0:{len(episodes)}"},
            "data_path": DATA_PATH, "video_path": VIDEO_PATH,
            "features": features(robot, fps_i),
            "humanoid_manip": {"repo_id": repo_id, "source": str(Path(dataset).resolve()),
                               "skipped": skipped}}
    (out / "meta" / "info.json").write_text(json.dumps(info, indent=4))
    return info
