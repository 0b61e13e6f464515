"""Training data for the trainer: episodes at the policy rate, normalization, sequence batches.

The trainer takes any source of `Batch`es that can produce the batch for a given step (so a
resumed run sees the very batches an uninterrupted one would). `WindowSampler` draws windows
from in-memory `EpisodeArrays`; `IterableSource` adapts any iterable of batch mappings (a cache
reader, for instance); `episode_arrays` turns an episode file (data/episode.py) into arrays.
Numpy only: no torch here.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from humanoid_manip.errors import HumanoidManipError

# Standard-deviation floors: a joint that never moved (or a torque that never changed) in the
# data must not be divided by ~0, or a small deviation at run time becomes a huge input.
PROPRIO_STD_FLOOR = 0.05  # rad and rad/s
TORQUE_STD_FLOOR = 1e-3  # N·m
RESIDUAL_STD_FLOOR = 1e-3  # rad: a joint the expert never moved
PRIVILEGED_STD_FLOOR = 1e-3  # SI units: a constant entry (padding, a fixed layout value)


class TrainingDataError(HumanoidManipError):
    """Training data that is empty, inconsistent, or does not fit the robot."""


@dataclass
class EpisodeArrays:
    """One episode at the policy rate, with each distinct camera frame stored once.

    Cameras run slower than the policy (30 Hz vs 100 Hz), so tick t sees frames[frame_of[t]].
    """

    frames: np.ndarray  # uint8 [F, N_cams, H, W, 3]
    frame_of: np.ndarray  # int64 [T], non-decreasing index into frames
    proprio: np.ndarray  # float32 [T, 2J]: positions (rad) then velocities (rad/s)
    torque: np.ndarray  # float32 [T, J]: the expert's torque (label), N·m
    task: int  # index into the task names
    id: str = ""  # the episode's lineage id
    seed: int | None = None  # the simulation seed it was recorded with (None: real robot)
    # float32 [T, J]: gravity + Coriolis torque at each tick's state (add_bias); with it the
    # torque label splits into the PD law's target and bias (ModelConfig.action "pd")
    bias: np.ndarray | None = None
    # float32 [T, P]: the task's privileged object state per tick (simulated episodes that
    # recorded /sim/privileged_state): the teacher's observation
    privileged: np.ndarray | None = None

    def __post_init__(self):
        t = len(self.proprio)
        if self.privileged is not None and len(self.privileged) != len(self.proprio):
            raise TrainingDataError(f"episode {self.id!r}: {len(self.privileged)} privileged "
                                    f"states for {len(self.proprio)} ticks")
        if self.bias is not None and np.shape(self.bias) != np.shape(self.torque):
            raise TrainingDataError(f"episode {self.id!r}: bias {np.shape(self.bias)} must be "
                                    f"shaped like the torque {np.shape(self.torque)}")
        if t == 0 or len(self.torque) != t or len(self.frame_of) != t:
            raise TrainingDataError(f"episode {self.id!r}: proprio, torque and frame_of must "
                                    f"have the same non-zero length, got {len(self.proprio)}, "
                               f"{len(self.torque)}, {len(self.frame_of)}")
        if self.frames.dtype != np.uint8 or self.frames.ndim != 5 or self.frames.shape[-1] != 3:
            raise TrainingDataError(f"episode {self.id!r}: frames must be uint8 [F, N, H, W, 3], "
                                    f"got {self.frames.dtype} {self.frames.shape}")
        if self.proprio.shape[1] != 2 * self.torque.shape[1]:
            raise TrainingDataError(f"episode {self.id!r}: proprio has {self.proprio.shape[1]} "
                                    f"columns, expected 2 x {self.torque.shape[1]} joints")
        fo = np.asarray(self.frame_of)
        if fo.min() < 0 or fo.max() >= len(self.frames) or np.any(np.diff(fo) < 0):
            raise TrainingDataError(f"episode {self.id!r}: frame_of must be non-decreasing "
                                    f"indices into {len(self.frames)} frames")

    def __len__(self) -> int:
        return len(self.proprio)


@dataclass(frozen=True)
class NormStats:
    """Means and standard deviations the model bakes in (normalization inside the graph)."""

    proprio_mean: np.ndarray
    proprio_std: np.ndarray
    torque_mean: np.ndarray
    torque_std: np.ndarray
    bias_mean: np.ndarray | None = None  # of EpisodeArrays.bias, when the episodes have it
    bias_std: np.ndarray | None = None
    residual_mean: np.ndarray | None = None  # [K, J]: q*(t+k) − q(t), for action "residual"
    residual_std: np.ndarray | None = None
    privileged_mean: np.ndarray | None = None  # of EpisodeArrays.privileged
    privileged_std: np.ndarray | None = None

    FIELDS = ("proprio_mean", "proprio_std", "torque_mean", "torque_std", "bias_mean",
              "bias_std", "residual_mean", "residual_std", "privileged_mean", "privileged_std")

    def to_dict(self) -> dict[str, list]:
        return {k: np.asarray(getattr(self, k), float).tolist() for k in self.FIELDS
                if getattr(self, k) is not None}

    @classmethod
    def from_dict(cls, d: Mapping) -> NormStats:
        return cls(**{k: np.asarray(d[k], np.float32) for k in cls.FIELDS if k in d})


def pd_targets(e: EpisodeArrays, kp: np.ndarray, kd: np.ndarray) -> np.ndarray:
    """The PD law's target behind each torque label: q* = q + (τ − b + kd·q̇)/kp, [T, J]."""
    if e.bias is None:
        raise TrainingDataError(f"episode {e.id!r} has no bias torque (learn.dataset.add_bias)")
    j = e.torque.shape[1]
    q, dq = e.proprio[:, :j].astype(np.float64), e.proprio[:, j:].astype(np.float64)
    return q + (e.torque - e.bias + kd * dq) / kp


def compute_stats(episodes: Sequence[EpisodeArrays], kp=None, kd=None,
                  chunk: int = 1) -> NormStats:
    """Per-column mean and (floored) std over every tick of every episode; with kp, kd (and
    the episodes' bias) also of the residual targets q*(t+k) − q(t), k < chunk."""
    if not episodes:
        raise TrainingDataError("no episodes to compute normalization statistics from")
    p = np.concatenate([e.proprio for e in episodes]).astype(np.float64)
    u = np.concatenate([e.torque for e in episodes]).astype(np.float64)
    extra = {}
    if all(e.bias is not None for e in episodes):
        b = np.concatenate([e.bias for e in episodes]).astype(np.float64)
        extra = {"bias_mean": b.mean(0).astype(np.float32),
                 "bias_std": np.maximum(b.std(0), TORQUE_STD_FLOOR).astype(np.float32)}
        if kp is not None and kd is not None:
            j = u.shape[1]
            per_k = [[], []]
            res = [[] for _ in range(chunk)]
            for e in episodes:
                qs, q = pd_targets(e, kp, kd), e.proprio[:, :j]
                for k in range(chunk):
                    ahead = qs[np.minimum(np.arange(len(q)) + k, len(q) - 1)]
                    res[k].append(ahead - q)
            for k in range(chunk):
                r = np.concatenate(res[k])
                per_k[0].append(r.mean(0))
                per_k[1].append(np.maximum(r.std(0), RESIDUAL_STD_FLOOR))
            extra["residual_mean"] = np.array(per_k[0], np.float32)
            extra["residual_std"] = np.array(per_k[1], np.float32)
    if all(e.privileged is not None for e in episodes):
        x = np.concatenate([e.privileged for e in episodes]).astype(np.float64)
        extra["privileged_mean"] = x.mean(0).astype(np.float32)
        extra["privileged_std"] = np.maximum(x.std(0), PRIVILEGED_STD_FLOOR).astype(np.float32)
    return NormStats(p.mean(0).astype(np.float32),
                     np.maximum(p.std(0), PROPRIO_STD_FLOOR).astype(np.float32),
                     u.mean(0).astype(np.float32),
                     np.maximum(u.std(0), TORQUE_STD_FLOOR).astype(np.float32), **extra)


def add_bias(episodes: Sequence[EpisodeArrays], robot) -> list[EpisodeArrays]:
    """Give each episode its gravity + Coriolis torque per tick (robot.RobotDynamics, MuJoCo).

    The teleop path's torque request is kp·(q* − q) − kd·q̇ + bias(q, q̇), clipped; with the bias
    known, the target q* of every tick follows from the label exactly.
    """
    from dataclasses import replace

    from humanoid_manip.robot import RobotDynamics

    dyn = RobotDynamics(robot)
    j = robot.n
    out = []
    for e in episodes:
        if e.bias is None:
            b = np.empty(e.torque.shape, np.float32)
            for k, row in enumerate(np.asarray(e.proprio, np.float64)):
                dyn.set_state(row[:j], row[j:])
                b[k] = dyn.bias_torque()
            e = replace(e, bias=b)
        out.append(e)
    return out


@dataclass
class Batch:
    """B sequences of T ticks; the memory starts at zero on each sequence's first tick."""

    frames: np.ndarray  # uint8 [B, F, N, H, W, 3]
    frame_of: np.ndarray  # int64 [B, T]: tick -> index into that sequence's frames
    proprio: np.ndarray  # float32 [B, T, 2J]
    torque: np.ndarray  # float32 [B, T, J]
    task: np.ndarray  # int64 [B]
    mask: np.ndarray  # float32 [B, T]: 1 where the tick counts in the loss
    episode_ids: list[str] = field(default_factory=list)
    bias: np.ndarray | None = None  # float32 [B, T, J] when the episodes carry it
    privileged: np.ndarray | None = None  # float32 [B, T, P] when the episodes carry it

    @property
    def size(self) -> int:
        """Ticks that count in the loss (the unit of samples/s)."""
        return int(self.mask.sum())


def as_batch(m: Batch | Mapping) -> Batch:
    """A Batch from a mapping: `frames` + `frame_of`, or per-tick `images` [B, T, N, H, W, 3].

    Single-tick batches (images [B, N, H, W, 3], proprio [B, 2J], torque [B, J], as the data
    cache's CacheReader.batches() serves them) become sequences of one tick.
    """
    if isinstance(m, Batch):
        return m
    if "images" in m and np.ndim(m["proprio"]) == 2:
        m = {**m, "images": np.asarray(m["images"])[:, None],
             "proprio": np.asarray(m["proprio"])[:, None],
             "torque": np.asarray(m["torque"])[:, None]}
    try:
        if "frames" in m:
            frames, frame_of = np.asarray(m["frames"]), np.asarray(m["frame_of"], np.int64)
        else:
            images = np.asarray(m["images"])
            frames = images
            frame_of = np.broadcast_to(np.arange(images.shape[1]), images.shape[:2]).copy()
        proprio = np.asarray(m["proprio"], np.float32)
        torque = np.asarray(m["torque"], np.float32)
        task = np.asarray(m["task"], np.int64).reshape(-1)
    except KeyError as exc:
        raise TrainingDataError(f"a batch needs frames+frame_of (or images), proprio, torque and "
                                f"task; missing {exc}") from None
    mask = np.asarray(m.get("mask", np.ones(proprio.shape[:2])), np.float32)
    if frames.dtype != np.uint8 or frames.ndim != 6:
        raise TrainingDataError(f"batch frames must be uint8 [B, F, N, H, W, 3], got "
                                f"{frames.dtype} {frames.shape}")
    b, t = proprio.shape[:2]
    if torque.shape[:2] != (b, t) or frame_of.shape != (b, t) or task.shape != (b,):
        raise TrainingDataError(f"batch shapes disagree: proprio {proprio.shape}, torque "
                                f"{torque.shape}, frame_of {frame_of.shape}, task {task.shape}")
    bias = m.get("bias")
    bias = None if bias is None else np.asarray(bias, np.float32).reshape(torque.shape)
    priv = m.get("privileged")
    priv = None if priv is None else np.asarray(priv, np.float32).reshape(b, t, -1)
    return Batch(frames, frame_of, proprio, torque, task, mask, list(m.get("episode_ids", [])),
                 bias, priv)


class WindowSampler:
    """Random training windows from in-memory episodes; batch(step) is a pure function of step.

    Each sequence is `burn_in + window` ticks ending at a random tick. The memory starts at zero
    on its first tick; burn-in ticks only warm it and carry no loss, except when the sequence
    starts at the episode's first tick, where zero is the true memory, as at run time.
    """

    def __init__(self, episodes: Sequence[EpisodeArrays], batch_size: int, window: int,
                 burn_in: int = 0, seed: int = 0):
        if not episodes:
            raise TrainingDataError("no episodes to sample from")
        self.episodes = list(episodes)
        shapes = {e.frames.shape[1:] for e in self.episodes}
        joints = {e.torque.shape[1] for e in self.episodes}
        if len(shapes) != 1 or len(joints) != 1:
            raise TrainingDataError(f"episodes disagree on camera/image shape {shapes} or joint "
                                    f"count {joints}")
        self.batch_size, self.window, self.burn_in, self.seed = batch_size, window, burn_in, seed
        lengths = np.array([len(e) for e in self.episodes], float)
        self._weights = lengths / lengths.sum()

    def windows(self, step: int) -> list[tuple[int, int, int]]:
        """(episode index, first tick, end tick exclusive) of each sequence of step's batch."""
        rng = np.random.default_rng([self.seed, step])
        span = self.burn_in + self.window
        picks = rng.choice(len(self.episodes), size=self.batch_size, p=self._weights)
        out = []
        for i in picks:
            end = int(rng.integers(1, len(self.episodes[i]) + 1))  # exclusive
            out.append((int(i), max(0, end - span), end))
        return out

    def batch(self, step: int) -> Batch:
        span = self.burn_in + self.window
        seqs = [(self.episodes[i], s, e) for i, s, e in self.windows(step)]
        n_frames = max(int(ep.frame_of[e - 1] - ep.frame_of[s]) + 1 for ep, s, e in seqs)
        first = self.episodes[0]
        b = self.batch_size
        frames = np.zeros((b, n_frames, *first.frames.shape[1:]), np.uint8)
        frame_of = np.zeros((b, span), np.int64)
        proprio = np.zeros((b, span, first.proprio.shape[1]), np.float32)
        torque = np.zeros((b, span, first.torque.shape[1]), np.float32)
        mask = np.zeros((b, span), np.float32)
        task = np.zeros(b, np.int64)
        with_bias = all(ep.bias is not None for ep, _, _ in seqs)
        bias = np.zeros_like(torque) if with_bias else None
        with_priv = all(ep.privileged is not None for ep, _, _ in seqs)
        priv = np.zeros((b, span, first.privileged.shape[1]), np.float32) if with_priv else None
        ids = []
        for k, (ep, s, e) in enumerate(seqs):
            n = e - s
            f0, f1 = int(ep.frame_of[s]), int(ep.frame_of[e - 1]) + 1
            frames[k, :f1 - f0] = ep.frames[f0:f1]
            frame_of[k, :n] = ep.frame_of[s:e] - f0
            frame_of[k, n:] = frame_of[k, n - 1]
            proprio[k, :n], torque[k, :n] = ep.proprio[s:e], ep.torque[s:e]
            proprio[k, n:], torque[k, n:] = proprio[k, n - 1], torque[k, n - 1]
            if bias is not None:
                bias[k, :n], bias[k, n:] = ep.bias[s:e], ep.bias[e - 1]
            if priv is not None:
                priv[k, :n], priv[k, n:] = ep.privileged[s:e], ep.privileged[e - 1]
            lo = 0 if s == 0 else self.burn_in
            mask[k, lo:n] = 1.0
            task[k] = ep.task
            ids.append(ep.id)
        return Batch(frames, frame_of, proprio, torque, task, mask, ids, bias, priv)


class IterableSource:
    """Adapts any iterable of batches (Batch or mappings) to batch(step), for any reader.

    Steps must be asked in order; a resumed run skips the batches of the steps already done.
    Iterables are re-started (by calling `factory` again) when they run out.
    """

    def __init__(self, factory):
        self._factory = factory
        self._it: Iterator | None = None
        self._next = 0

    @classmethod
    def of(cls, iterable: Iterable) -> IterableSource:
        """From a re-iterable object (a list, a reader whose __iter__ starts over)."""
        return cls(lambda: iter(iterable))

    def _pull(self) -> Batch:
        if self._it is None:
            self._it = iter(self._factory())
        try:
            return as_batch(next(self._it))
        except StopIteration:
            self._it = iter(self._factory())
            try:
                return as_batch(next(self._it))
            except StopIteration:
                raise TrainingDataError("the batch iterable is empty") from None

    def batch(self, step: int) -> Batch:
        if step < self._next:
            raise TrainingDataError(f"IterableSource cannot go back to step {step} "
                                    f"(at {self._next})")
        while self._next < step:
            self._pull()
            self._next += 1
        self._next += 1
        return self._pull()


def _latest(times: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Index of the last sample at or before each time (clamped to the first sample)."""
    return np.clip(np.searchsorted(times, at + 1e-9, side="right") - 1, 0, len(times) - 1)


def episode_arrays(ep, task_names: Sequence[str], camera_names: Sequence[str],
                   joint_names: Sequence[str], rate_hz: float,
                   label: str = "request", privileged: bool = False) -> EpisodeArrays:
    """An episode file (data.episode.read_episode) resampled to the policy rate.

    Ticks run from the first torque label at 1/rate_hz; each tick takes the latest joint state
    and the latest frame of each camera at or before it, and the latest label: the torque
    request (what the expert or teleoperator asked for) or, with label="command", the torque the
    safety monitor applied.
    """
    name = str(getattr(ep, "path", "episode"))
    if list(ep.joint_names) != list(joint_names):
        raise TrainingDataError(f"{name}: joint names differ from the robot's canonical order")
    lt, lv = (ep.request_t, ep.request) if label == "request" else (ep.command_t, ep.command)
    if len(lt) == 0 or len(ep.t) == 0:
        raise TrainingDataError(f"{name}: no joint states or no {label} torques to learn from")
    missing = [c for c in camera_names if c not in ep.images]
    if missing:
        raise TrainingDataError(f"{name}: no images from {missing}; it has {sorted(ep.images)}")
    task = ep.metadata.get("task")
    if task not in task_names:
        raise TrainingDataError(f"{name}: task {task!r} is not one of {list(task_names)}")
    ticks = np.arange(lt[0], lt[-1] + 1e-9, 1.0 / rate_hz)
    js = _latest(np.asarray(ep.t), ticks)
    proprio = np.concatenate([ep.position[js], ep.velocity[js]], 1).astype(np.float32)
    torque = np.asarray(lv)[_latest(np.asarray(lt), ticks)].astype(np.float32)
    if camera_names:
        per_cam = np.stack([_latest(np.asarray(ep.images[c][0]), ticks)
                            for c in camera_names], 1)
        change = np.ones(len(ticks), bool)
        change[1:] = np.any(per_cam[1:] != per_cam[:-1], axis=1)
        keys = per_cam[change]
        frames = np.stack([np.stack([ep.images[c][1][k[i]] for i, c in enumerate(camera_names)])
                           for k in keys]).astype(np.uint8)
        frame_of = np.cumsum(change) - 1
    else:  # a teacher's data: no pixels
        frames = np.zeros((1, 0, 1, 1, 3), np.uint8)
        frame_of = np.zeros(len(ticks), np.int64)
    priv = None
    if privileged:
        from humanoid_manip.sim.tasks.base import PRIVILEGED_SIZE

        if len(ep.privileged_t) == 0:
            raise TrainingDataError(f"{name}: no /sim/privileged_state (recorded by simulated "
                                    f"episodes of tasks that define one) for a teacher")
        rows = np.asarray(ep.privileged)[_latest(np.asarray(ep.privileged_t), ticks)]
        priv = np.zeros((len(ticks), PRIVILEGED_SIZE), np.float32)
        priv[:, :rows.shape[1]] = rows
    lineage = ep.metadata.get("lineage") or {}
    return EpisodeArrays(frames, frame_of.astype(np.int64), proprio, torque,
                         list(task_names).index(task),
                         str(lineage.get("id", "")) if isinstance(lineage, dict) else "",
                         _seed(ep.metadata.get("seed")), privileged=priv)


def _seed(value) -> int | None:
    return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) \
        else None


def episodes_from_cache(cache, task_names: Sequence[str] | None = None,
                        rate_hz: float | None = None,
                        ) -> tuple[list[EpisodeArrays], list[str]]:
    """The episodes of a training cache (data/cache.py), memory-mapped, and their task names.

    The cache serves single samples; a recurrent policy trains on windows, so this reads its
    per-episode arrays instead. `rate_hz`, when given, must be the cache's sample rate: the
    memory is stepped once per sample, exactly as once per control tick at run time.
    """
    from humanoid_manip.data.cache import CacheReader

    reader = cache if isinstance(cache, CacheReader) else CacheReader(cache, task_names)
    index_hz = _cache_sample_hz(reader)
    if rate_hz is not None and index_hz is not None and abs(index_hz - rate_hz) > 1e-6 * rate_hz:
        raise TrainingDataError(
            f"{reader.cache} was sampled at {index_hz:g} Hz but the policy runs at {rate_hz:g} Hz"
            f"; rebuild it with config/data.yaml cache.sample_hz = {rate_hz:g}")
    dagger = [e["file"] for e in reader.entries
              if isinstance(e.get("source"), dict) and e["source"].get("type") == "dagger"]
    if dagger:
        raise TrainingDataError(
            f"{len(dagger)} cached episode(s) are DAgger rounds ({dagger[:3]}): the cache's "
            f"label is the applied torque, theirs is the expert's /policy/torque_request; read "
            f"them with episode_arrays(label='request') (the flywheel does)")
    out = []
    for entry, arrays, task in zip(reader.entries, reader.arrays, reader.task_of):
        out.append(EpisodeArrays(arrays["images"], np.asarray(arrays["frame"], np.int64),
                                 arrays["proprio"], arrays["torque"], int(task),
                                 str(entry.get("lineage_id") or entry.get("sha256", "")),
                                 _seed(entry.get("seed"))))
    return out, list(reader.task_names)


def _cache_sample_hz(reader) -> float | None:
    import json

    try:
        return float(json.loads((reader.cache / "index.json").read_text())["sample_hz"])
    except (OSError, KeyError, ValueError, TypeError):
        return None
