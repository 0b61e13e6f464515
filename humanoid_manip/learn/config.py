"""config/train.yaml as dataclasses: training hyperparameters, apart from environment settings."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace

from humanoid_manip import paths
from humanoid_manip.config import from_dict, load_yaml
from humanoid_manip.errors import ConfigError

TRAIN_YAML = "train.yaml"
SECTIONS = ("flywheel", "eval")  # the commands' own sections of train.yaml


@dataclass(frozen=True)
class ModelConfig:
    """The network's shape; robot-given sizes (joints, cameras, image) are not here."""

    channels: tuple[int, ...] = (8, 16, 32, 32)  # conv layers, stride 2 each
    groups: int = 4  # GroupNorm groups per conv layer
    image_features: int = 64  # per camera
    task_dim: int = 16
    hidden: int = 256
    memory: int = 128  # GRU state size = the policy file's S
    clip_to_effort: bool = True
    # What the head predicts. "torque": N·m directly. "pd": a joint-position target q* and a
    # bias torque b; the graph outputs kp·(q* − q) − kd·q̇ + b with config/robot.yaml's gains,
    # the law the teleop path's experts use, so the labels decompose exactly.
    # "residual": the same law, the target predicted as Δq* = q* − q in units of its own
    # spread (small, centred steps), instead of an absolute q* in units of the joints' ranges.
    action: str = "torque"
    # "pd" only: auxiliary targets q*(t + h) for these horizons (ticks), trained but not
    # exported, so the features must say where the motion is going, not only where it is.
    horizons: tuple[int, ...] = ()
    # "pd"/"residual": targets for this many ticks t, t+1, … predicted each tick (ACT's action
    # chunk). With `ensemble`, the executed target is the weighted mean of every chunk's
    # prediction for this tick, kept in the recurrent state (weights exp(−ensemble_m · age) with
    # the oldest first, as ACT); without, the newest chunk's first target is executed.
    chunk: int = 1
    ensemble: bool = False
    ensemble_m: float = 0.1
    # What the network sees beside the joints: "pixels" (the cameras: the shipped policy) or
    # "privileged" (the task's object state, sim.privileged_state(): the teacher, sim only).
    observation: str = "pixels"
    privileged_size: int = 96  # the teacher's object-state input (sim.tasks.PRIVILEGED_SIZE)
    # "pixels" only: the camera features are first turned into an estimate of the teacher's
    # object state (trained against it: an auxiliary loss, not an output of the file), which
    # the rest of the network reads as the teacher reads the true state, so a student can
    # start from the teacher's weights. aux_weight: that loss's weight (0 = none).
    state_estimate: bool = False
    aux_weight: float = 1.0

    def __post_init__(self):
        if not self.channels or any(c < 1 or c % self.groups for c in self.channels):
            raise ValueError(f"channels {self.channels} must be non-empty and each divisible "
                             f"by groups={self.groups}")
        if min(self.image_features, self.task_dim, self.hidden, self.memory) < 1:
            raise ValueError("image_features, task_dim, hidden and memory must be >= 1")
        if self.action not in ("torque", "pd", "residual"):
            raise ValueError(f"action must be torque, pd or residual, got {self.action!r}")
        if any(h < 1 for h in self.horizons) or (self.horizons and self.action != "pd"):
            raise ValueError("horizons must be >= 1 ticks and need action: pd")
        if self.chunk < 1 or (self.chunk > 1 and self.action == "torque"):
            raise ValueError("chunk must be >= 1, and > 1 needs action pd or residual")
        if self.ensemble and self.chunk < 2:
            raise ValueError("ensemble needs chunk >= 2")
        if self.state_estimate and self.observation != "pixels":
            raise ValueError("state_estimate is for observation: pixels")
        if self.observation not in ("pixels", "privileged") or self.privileged_size < 1:
            raise ValueError(f"observation must be pixels or privileged (privileged_size >= 1), "
                             f"got {self.observation!r}")


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time image and proprio augmentation (never in the exported graph)."""

    shift_px: int = 4
    brightness: float = 0.15
    contrast: float = 0.15
    proprio_noise: float = 0.01

    def __post_init__(self):
        if self.shift_px < 0 or min(self.brightness, self.contrast, self.proprio_noise) < 0:
            raise ValueError("augmentation amounts must be >= 0")


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    steps: int = 3000
    batch_size: int = 8
    window: int = 24  # ticks with a loss per sequence
    burn_in: int = 8  # ticks before the window that only warm the memory
    lr: float = 3e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    log_every: int = 25
    checkpoint_every: int = 500
    threads: int = 0
    device: str = "cpu"  # cpu, cuda, or auto (cuda when torch sees a GPU)
    # > 0: the checkpoint (what is exported, scored and evaluated) holds an exponential moving
    # average of the weights with this decay per step, not the last step's weights, which
    # wander with the last batches; training itself goes on with the raw weights.
    ema: float = 0.0
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self):
        for name in ("steps", "batch_size", "window", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.burn_in < 0 or self.warmup_steps < 0 or self.threads < 0 or self.seed < 0:
            raise ValueError("burn_in, warmup_steps, threads and seed must be >= 0")
        if self.device not in ("cpu", "cuda", "auto"):
            raise ValueError(f"device must be cpu, cuda or auto, got {self.device!r}")
        if self.lr <= 0 or not 0 <= self.min_lr_ratio <= 1 or self.grad_clip <= 0:
            raise ValueError("lr and grad_clip must be > 0 and min_lr_ratio in [0, 1]")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1) (0: off), got {self.ema}")

    def to_dict(self) -> dict:
        return asdict(self)

    def with_overrides(self, **kw) -> TrainConfig:
        """A copy with some fields changed (tests, the flywheel's small rounds)."""
        return replace(self, **kw)


def load_train_config(path: str | os.PathLike | None = None, **overrides) -> TrainConfig:
    """Read config/train.yaml (or `path`); non-None overrides replace top-level keys."""
    p = paths.resolve(path) if path else paths.config_path(TRAIN_YAML)
    data = load_yaml(p)
    for section in SECTIONS:  # read by their own loaders
        data.pop(section, None)
    for k, v in overrides.items():
        if v is not None:
            data[k] = v
    cfg = from_dict(TrainConfig, data, str(p))
    if not isinstance(cfg.model, ModelConfig) or not isinstance(cfg.augment, AugmentConfig):
        raise ConfigError(f"{p}: model and augment must be mappings")
    return cfg


@dataclass(frozen=True)
class FlywheelConfig:
    """The `flywheel:` section of config/train.yaml (the `flywheel` command's settings)."""

    tasks: tuple[str, ...] = ("dryer_open",)  # collected and evaluated, each round
    rounds: int = 2
    expert_episodes: int = 8  # round 0, per task: the experts through the teleop path, seeds 0..
    expert_noise: float = 0.0  # DART noise (fraction of effort) on odd seeds' demonstrations
    # several DART levels instead: seed i of round 0 gets expert_noise_levels[i % n]
    expert_noise_levels: tuple[float, ...] = ()
    # how round 0's experts drive: "teleop" (through the teleop path, what an operator's
    # device does) or "expert" (directly: IK at the measured state, the DAgger labeller's own
    # law, so demonstrations and DAgger labels agree)
    expert_driver: str = "teleop"
    heldout_episodes: int = 0  # per task: expert episodes never trained on (offline error)
    render: bool = True  # cameras on (a pixel policy); a privileged-state teacher needs none
    dagger_episodes: int = 4  # each later round, per task: the policy acts, the expert labels
    # > 0: a DAgger episode whose progress has not risen for this long is over for the learner:
    # dagger_on_stall "end" ends it (its dead ends no expert leaves teach nothing), "takeover"
    # lets the expert act from there (recoveries from the learner's states, where there are any)
    dagger_stall_s: float = 0.0
    dagger_on_stall: str = "end"
    # a policy file that labels the DAgger rounds instead of the tasks' experts (distillation:
    # the student drives, a privileged-state teacher such as policies/teacher.onnx labels)
    dagger_labeler: str = ""
    eval_episodes: int = 5  # per task and round, on seeds from learn.evaluate.EVAL_SEED
    train_steps: int = 1500  # per round
    train_budget_s: float = 0.0  # > 0: fewer steps if they would not fit this many seconds
    warm_start: bool = False  # later rounds start from the previous round's weights
    # a checkpoint round 0 starts from, its normalization kept (a student from its teacher:
    # paths/runs/... relative to the working directory); later rounds too unless warm_start
    init_from: str = ""
    time_limit_s: float = 0.0  # 0 = the task's own time limit (config/tasks.yaml)
    delay_steps: int = 1  # DAgger and evaluation requests: the sim stack's timing

    def __post_init__(self):
        if not self.tasks:
            raise ValueError("tasks must name at least one task")
        if self.rounds < 1 or self.expert_episodes < 1 or self.eval_episodes < 1:
            raise ValueError("rounds, expert_episodes and eval_episodes must be >= 1")
        if self.dagger_episodes < 0 or self.train_steps < 1 or self.time_limit_s < 0 or \
                self.dagger_stall_s < 0:
            raise ValueError("dagger_episodes >= 0, train_steps >= 1, time_limit_s >= 0, "
                             "dagger_stall_s >= 0")
        if self.expert_noise < 0 or self.train_budget_s < 0 or self.delay_steps < 0:
            raise ValueError("expert_noise, train_budget_s and delay_steps must be >= 0")
        if any(x < 0 for x in self.expert_noise_levels) or self.heldout_episodes < 0:
            raise ValueError("expert_noise_levels and heldout_episodes must be >= 0")
        if self.dagger_on_stall not in ("end", "takeover"):
            raise ValueError(f"dagger_on_stall must be end or takeover, got "
                             f"{self.dagger_on_stall!r}")
        if self.expert_driver not in ("teleop", "expert"):
            raise ValueError(f"expert_driver must be teleop or expert, got "
                             f"{self.expert_driver!r}")


@dataclass(frozen=True)
class EvalConfig:
    """The `eval:` section of config/train.yaml (the `eval` command's settings)."""

    episodes: int = 10
    videos: int = 1  # MP4s of the first episodes, when an output folder is given
    delay_steps: int = 1  # physics steps from a state to its request at the monitor (the stack)

    def __post_init__(self):
        if self.episodes < 1 or self.videos < 0 or self.delay_steps < 0:
            raise ValueError("episodes >= 1, videos >= 0 and delay_steps >= 0")


def _section(cls, name: str, path, overrides: dict):
    p = paths.resolve(path) if path else paths.config_path(TRAIN_YAML)
    data = dict(load_yaml(p).get(name) or {})
    for k, v in overrides.items():
        if v is not None:
            data[k] = v
    return from_dict(cls, data, f"{p}: {name}")


def load_flywheel_config(path: str | os.PathLike | None = None, **overrides) -> FlywheelConfig:
    """The `flywheel:` section of config/train.yaml (or `path`), with non-None overrides."""
    return _section(FlywheelConfig, "flywheel", path, overrides)


def load_eval_config(path: str | os.PathLike | None = None, **overrides) -> EvalConfig:
    """The `eval:` section of config/train.yaml (or `path`), with non-None overrides."""
    return _section(EvalConfig, "eval", path, overrides)
