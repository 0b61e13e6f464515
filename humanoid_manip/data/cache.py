"""The dataset index and the training cache: MCAP episodes decoded once into arrays that a
reader memory-maps and serves as shuffled batches.

Layout of a cache folder (default DATASET/.cache):

    index.json                 one entry per episode: file, sha256, size, mtime, task, seed,
                               source, outcome, duration, lineage id, samples, entry folder
    episodes/<sha256[:16]>/    images.npy    uint8 [F, C, H, W, 3]  frames, cameras in robot order
                               proprio.npy   float32 [S, 2J]        positions then velocities
                               torque.npy    float32 [S, J]         the label: applied torque
                                                                  (DAgger: the expert's request)
                               frame.npy     int32 [S]              latest frame of each sample
                               t.npy         float64 [S]            sample times, s
                               meta.json     source file, sha256, task, …

An entry is named by the content hash of its source file, so a rebuild decodes only episodes
that are new or changed, and a renamed file costs nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from humanoid_manip.data.episode import Episode, EpisodeFileError, read_episode
from humanoid_manip.data.validate import DatasetError, find_episodes
from humanoid_manip.errors import HumanoidManipError

INDEX = "index.json"
INDEX_VERSION = 1
ARRAYS = ("images", "proprio", "torque", "frame", "t")


class CacheError(HumanoidManipError):
    """A training cache that is missing, stale or damaged."""


def file_sha256(path: Path, block: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def _hold_index(t: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Index of the latest sample at or before each time (the first sample before it)."""
    return np.clip(np.searchsorted(t, at + 1e-9, side="right") - 1, 0, max(len(t) - 1, 0))


def label_topic(metadata: dict) -> str:
    """Where an episode's torque labels are: the applied torques, except in DAgger episodes
    (a policy drove, the expert's torque at each visited state is the label)."""
    source = metadata.get("source") or {}
    if isinstance(source, dict) and source.get("type") == "dagger":
        return "/policy/torque_request"
    return "/effort_controller/commands"


def episode_arrays(ep: Episode, cameras: Sequence[str], sample_hz: float) -> dict[str, np.ndarray]:
    """Training samples of one episode at the label times, at most sample_hz."""
    if not len(ep.command_t) or not len(ep.t):
        raise CacheError(f"{ep.path.name}: no applied torques or no joint states")
    missing = [c for c in cameras if c not in ep.images]
    if missing:
        raise CacheError(f"{ep.path.name}: no frames from {', '.join(missing)}")
    sizes = {ep.images[c][1].shape[1:] for c in cameras}
    if len(sizes) > 1:
        raise CacheError(f"{ep.path.name}: cameras have different image sizes {sorted(sizes)}")
    grid = np.arange(ep.command_t[0], ep.command_t[-1] + 1e-9, 1.0 / sample_hz)
    ci = np.unique(np.clip(np.searchsorted(ep.command_t, grid - 1e-9), 0,
                           len(ep.command_t) - 1))
    ts = ep.command_t[ci]
    ji = _hold_index(ep.t, ts)
    proprio = np.concatenate([ep.position[ji], ep.velocity[ji]], axis=1).astype(np.float32)
    if label_topic(ep.metadata) == "/policy/torque_request" and len(ep.request_t):
        torque = ep.request[_hold_index(ep.request_t, ts)].astype(np.float32)
    else:
        torque = ep.command[ci].astype(np.float32)
    ref_t = ep.images[cameras[0]][0]
    images = np.stack([ep.images[c][1][_hold_index(ep.images[c][0], ref_t)] for c in cameras],
                      axis=1)
    frame = _hold_index(ref_t, ts).astype(np.int32)
    ok = np.all(np.isfinite(proprio), axis=1) & np.all(np.isfinite(torque), axis=1)
    return {"images": images, "proprio": proprio[ok], "torque": torque[ok],
            "frame": frame[ok], "t": ts[ok]}


@dataclass
class BuildResult:
    """What a cache build did, and how long it took."""

    cache: Path
    built: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    removed: int = 0
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    samples: int = 0

    def summary(self) -> str:
        lines = [f"cache {self.cache}: {len(self.built)} episode(s) decoded, {len(self.reused)} "
                 f"unchanged, {self.removed} stale removed, {len(self.failed)} failed; "
                 f"{self.samples} samples; {self.seconds:.1f} s"]
        lines += [f"  failed: {f}" for f in self.failed]
        return "\n".join(lines)


def _load_index(cache: Path) -> dict[str, Any]:
    p = cache / INDEX
    if not p.is_file():
        return {"version": INDEX_VERSION, "episodes": []}
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError:
        return {"version": INDEX_VERSION, "episodes": []}
    if data.get("version") != INDEX_VERSION:
        return {"version": INDEX_VERSION, "episodes": []}
    return data


def _write_entry(folder: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ARRAYS:
        np.save(tmp / f"{name}.npy", arrays[name])
    (tmp / "meta.json").write_text(json.dumps(meta, sort_keys=True))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)  # an entry is complete or absent


def build_cache(dataset: str | os.PathLike, cache: str | os.PathLike | None = None,
                rebuild: bool = False, progress: bool = False, robot=None,
                sample_hz: float | None = None) -> BuildResult:
    """Build or update the index and cache of a dataset folder; only new or changed episodes
    (by content hash) are decoded."""
    from tqdm import tqdm

    if robot is None:
        from humanoid_manip.robot import load_robot

        robot = load_robot()
    if sample_hz is None:
        from humanoid_manip.data.settings import load_data_config

        sample_hz = load_data_config().cache.sample_hz
    t_start = time.perf_counter()
    root = Path(dataset)
    if not root.is_dir():
        raise DatasetError(f"the cache is built from a dataset folder; {root} is not one")
    cache = Path(cache) if cache else root / ".cache"
    (cache / "episodes").mkdir(parents=True, exist_ok=True)
    old = {} if rebuild else {e["file"]: e for e in _load_index(cache)["episodes"]}
    result = BuildResult(cache)
    entries = []
    cameras = list(robot.camera_names)
    for f in tqdm(find_episodes(root), desc="cache", unit="ep", disable=not progress):
        rel = str(f.relative_to(root))
        st = f.stat()
        prev = old.get(rel)
        if prev and prev["size"] == st.st_size and prev["mtime_ns"] == st.st_mtime_ns:
            sha = prev["sha256"]
        else:
            sha = file_sha256(f)
        folder = cache / "episodes" / sha[:16]
        if not rebuild and (folder / "meta.json").is_file():
            meta = json.loads((folder / "meta.json").read_text())
            result.reused.append(rel)
        else:
            try:
                ep = read_episode(f)
                arrays = episode_arrays(ep, cameras, sample_hz)
            except (EpisodeFileError, CacheError) as exc:
                result.failed.append(f"{rel}: {exc}")
                continue
            m = ep.metadata
            meta = {"source_file": rel, "sha256": sha, "task": m.get("task"),
                    "seed": m.get("seed"), "source": m.get("source"), "sim": m.get("sim"),
                    "outcome": m.get("outcome"),
                    "lineage_id": (m.get("lineage") or {}).get("id"),
                    "duration_s": ep.duration_s, "samples": int(len(arrays["t"])),
                    "frames": int(len(arrays["images"])), "cameras": cameras,
                    "joint_names": list(ep.joint_names), "sample_hz": sample_hz,
                    "label": label_topic(m)}
            _write_entry(folder, arrays, meta)
            result.built.append(rel)
        entry = {k: meta[k] for k in ("sha256", "task", "seed", "source", "sim", "outcome",
                                      "lineage_id", "duration_s", "samples", "frames")}
        entry.update(file=rel, size=st.st_size, mtime_ns=st.st_mtime_ns, entry=sha[:16])
        entries.append(entry)
        result.samples += meta["samples"]
    keep = {e["entry"] for e in entries}
    for folder in (cache / "episodes").iterdir():
        if folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)
            result.removed += 1
    tmp = cache / (INDEX + ".tmp")
    tmp.write_text(json.dumps({"version": INDEX_VERSION, "dataset": str(root.resolve()),
                               "sample_hz": sample_hz, "cameras": cameras,
                               "episodes": entries}, indent=1))
    tmp.replace(cache / INDEX)
    result.seconds = time.perf_counter() - t_start
    return result


class CacheReader:
    """Shuffled batches from a training cache, memory-mapped: what a training loop iterates.

    A batch is a dict of numpy arrays shaped as the policy file's inputs (docs/DESIGN.md):
    images uint8 [B, C, H, W, 3], proprio float32 [B, 2J], task int64 [B], torque float32
    [B, J] (the label).
    """

    def __init__(self, cache: str | os.PathLike, task_names: Sequence[str] | None = None,
                 episodes: Sequence[str] | None = None):
        self.cache = Path(cache)
        index = _load_index(self.cache)
        entries = [e for e in index["episodes"] if episodes is None or e["file"] in episodes]
        if not entries:
            raise CacheError(f"{self.cache} holds no cached episodes; run "
                             "'humanoid-manip data cache DATASET' first")
        self.entries = entries
        tasks = sorted({e["task"] for e in entries})
        self.task_names = list(task_names) if task_names is not None else tasks
        unknown = set(tasks) - set(self.task_names)
        if unknown:
            raise CacheError(f"cached tasks {sorted(unknown)} are not among {self.task_names}")
        self.arrays: list[dict[str, np.ndarray]] = []
        for e in entries:
            folder = self.cache / "episodes" / e["entry"]
            try:
                self.arrays.append({n: np.load(folder / f"{n}.npy", mmap_mode="r")
                                    for n in ARRAYS})
            except (OSError, ValueError) as exc:
                raise CacheError(f"cache entry of {e['file']} is damaged ({exc}); rebuild "
                                 "with --rebuild") from None
        counts = np.array([len(a["t"]) for a in self.arrays])
        self.offsets = np.concatenate([[0], np.cumsum(counts)])
        self.task_of = np.array([self.task_names.index(e["task"]) for e in entries], np.int64)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def gather(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """The samples with these global indices, as one batch (in the order given)."""
        idx = np.asarray(idx, dtype=np.int64)
        ep = np.searchsorted(self.offsets, idx, side="right") - 1
        first = self.arrays[0]
        b = len(idx)
        out = {"images": np.empty((b, *first["images"].shape[1:]), np.uint8),
               "proprio": np.empty((b, first["proprio"].shape[1]), np.float32),
               "torque": np.empty((b, first["torque"].shape[1]), np.float32),
               "task": self.task_of[ep]}
        for e in np.unique(ep):
            rows = np.flatnonzero(ep == e)
            local = idx[rows] - self.offsets[e]
            order = np.argsort(local)  # ascending reads from the memory map
            rows, local = rows[order], local[order]
            a = self.arrays[e]
            out["proprio"][rows] = a["proprio"][local]
            out["torque"][rows] = a["torque"][local]
            out["images"][rows] = a["images"][a["frame"][local]]
        return out

    def batches(self, batch_size: int, shuffle: bool = True, seed: int = 0,
                drop_last: bool = True, prefetch: int = 2) -> Iterator[dict[str, np.ndarray]]:
        """One epoch of batches; a background thread gathers `prefetch` batches ahead."""
        n = len(self)
        order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
        stops = range(0, n - batch_size + 1 if drop_last else n, batch_size)
        chunks = [order[s:s + batch_size] for s in stops]
        if prefetch <= 0:
            for c in chunks:
                yield self.gather(c)
            return
        q: queue.Queue = queue.Queue(maxsize=prefetch)
        stop = threading.Event()

        def work():
            try:
                for c in chunks:
                    if stop.is_set():
                        return
                    q.put(self.gather(c))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                q.put(exc)
                return
            q.put(None)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        try:
            while True:
                item = q.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while thread.is_alive():
                try:
                    q.get_nowait()
                except queue.Empty:
                    thread.join(timeout=0.05)
