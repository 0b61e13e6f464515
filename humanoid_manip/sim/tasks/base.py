"""The task interface every household task implements, and the one registry of tasks."""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import mujoco
import numpy as np

from humanoid_manip import paths
from humanoid_manip.config import from_dict, load_yaml
from humanoid_manip.control.command import CommandTracker, PalmHandCommand
from humanoid_manip.errors import ConfigError, UnknownNameError

if TYPE_CHECKING:
    from humanoid_manip.sim.core import Simulation

TASKS_YAML = "tasks.yaml"
PRIVILEGED_SIZE = 96  # the teacher's state input: the palms, then the task's vector, padded
TASK_PRIVILEGED_SIZE = 72  # the most a task's own vector may hold (the palms take the rest)


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """Fields every task section of config/tasks.yaml has; subclasses add their ranges."""

    time_limit_s: float  # episode length; an episode ends unsuccessful after it


class Expert(ABC):
    """A demonstrator for data collection: privileged state in, a palm/hand command out.

    `command` says what to do in the state the simulation is in now (palm targets, hand joint
    targets, extra torque); the teleop path (as a device) and `act` (directly: IK from the
    measured joints, PD, gravity compensation) both turn it into torque. Call `command` at the
    control rate; `act` may be called every physics step and refreshes the command itself.
    """

    def __init__(self, sim: Simulation):
        self.robot = sim.robot
        self.tracker = CommandTracker(sim.robot)
        self.control_period_s = 1.0 / sim.robot.rates.policy_hz
        self._q_des: np.ndarray | None = None
        self._extra: np.ndarray | None = None
        self._next_command_t = -np.inf

    @abstractmethod
    def command(self, sim: Simulation) -> PalmHandCommand:
        """What the expert wants now, from the state it finds."""

    def done(self, sim: Simulation) -> bool:
        """True once the expert has nothing left to do (the episode may stop early)."""
        return False

    def act(self, sim: Simulation) -> np.ndarray:
        """Torque for the next physics step (canonical order, N·m): the command, refreshed at
        the control rate and solved at the measured state, tracked by PD every step."""
        js = sim.joint_state()
        if sim.time + 1e-9 >= self._next_command_t:
            cmd = self.command(sim)
            self._q_des = self.tracker.targets(js.position, cmd)
            self._extra = cmd.extra_torque
            self._next_command_t = sim.time + self.control_period_s
        bias = sim.data.qfrc_bias[sim.index.dof]
        return self.tracker.torque(js.position, js.velocity, self._q_des, bias, self._extra)


class Task(ABC):
    """A household task: builds its scene into the robot's MjSpec, resets, judges, demonstrates.

    Everything random is drawn from the generator it is handed, so a seed fixes the episode.
    Structural randomization (which side a hinge is on, whether a wall stands there) goes in
    build_scene, because it changes the model; state randomization goes in initialize_episode.
    success() and progress() may read privileged state: they are the referee, not the policy.
    """

    name: ClassVar[str]
    Config: ClassVar[type[TaskConfig]] = TaskConfig

    def __init__(self, config: TaskConfig | None = None):
        self.config = config if config is not None else load_task_config(self.name, self.Config)

    @property
    def time_limit_s(self) -> float:
        return self.config.time_limit_s

    @abstractmethod
    def build_scene(self, spec: mujoco.MjSpec, rng: np.random.Generator) -> None:
        """Add the arena and objects to the robot's spec (world frame: x forward, z up)."""

    @abstractmethod
    def initialize_episode(self, model: mujoco.MjModel, data: mujoco.MjData,
                           rng: np.random.Generator) -> None:
        """Set the objects' initial state; the robot is already at its home pose."""

    @abstractmethod
    def success(self, model: mujoco.MjModel, data: mujoco.MjData) -> bool:
        """Whether the task is accomplished in this state."""

    @abstractmethod
    def progress(self, model: mujoco.MjModel, data: mujoco.MjData) -> float:
        """A dense measure of how far the task has come, in [0, 1]; 1 when successful."""

    def privileged_state(self, model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
        """The task's object state a privileged policy (the teacher) sees, beside the joints:
        a fixed-length float vector (at most TASK_PRIVILEGED_SIZE values) of object poses, layout
        and progress, in SI units. Empty for a task that defines none."""
        return np.zeros(0)

    def conditions(self) -> dict[str, str]:
        """The layout of this episode that success may depend on (which side the hinge is,
        whether a wall stands there, …), as names: evaluation reports success per value."""
        return {}

    def after_step(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:  # noqa: B027
        """Called after every physics step (latches, seals that break under force)."""

    def expert(self, sim: Simulation) -> Expert:
        """The scripted expert for the episode sim has just reset to."""
        raise NotImplementedError(f"task {self.name!r} has no scripted expert")

    def describe(self) -> dict:
        """The task's name, time limit and randomization ranges (for `humanoid-manip tasks`)."""
        return {"name": self.name, "doc": (type(self).__doc__ or "").strip().splitlines()[0],
                "config": dataclasses.asdict(self.config)}


TASKS: dict[str, type[Task]] = {}


def register(cls: type[Task]) -> type[Task]:
    """Class decorator: add a task to the registry under its `name`."""
    if not getattr(cls, "name", None):
        raise TypeError(f"{cls.__name__} needs a class attribute `name`")
    if cls.name in TASKS and TASKS[cls.name] is not cls:
        raise ValueError(f"task {cls.name!r} is registered twice")
    TASKS[cls.name] = cls
    return cls


def make_task(name: str, config: TaskConfig | None = None) -> Task:
    """A task by name, configured from config/tasks.yaml unless a config is given."""
    from humanoid_manip.sim import tasks as _all  # noqa: F401 - registers every task module

    if name not in TASKS:
        raise UnknownNameError("task", name, TASKS)
    return TASKS[name](config)


def task_names() -> tuple[str, ...]:
    from humanoid_manip.sim import tasks as _all  # noqa: F401

    return tuple(sorted(TASKS))


def tasks_yaml() -> dict:
    return load_yaml(paths.config_path(TASKS_YAML))


def load_task_config(name: str, cls: type[TaskConfig]) -> TaskConfig:
    """The task's section of config/tasks.yaml as its config dataclass; unknown keys fail."""
    data = tasks_yaml()
    tasks = data.get("tasks") or {}
    if name not in tasks:
        raise ConfigError(f"{paths.config_path(TASKS_YAML)}: no section tasks.{name}; "
                          f"sections: {sorted(tasks)}")
    return from_dict(cls, tasks[name], f"tasks.yaml: tasks.{name}")


Range = tuple[float, float]


def touching_bodies(model: mujoco.MjModel, data: mujoco.MjData, geoms) -> set[int]:
    """Ids of the bodies whose geoms touch any of `geoms` (ids) now: what a referee, an expert
    or a teacher's state reads about contact."""
    if data.ncon == 0:
        return set()
    ids = np.atleast_1d(np.asarray(geoms, dtype=np.int64))
    g1, g2 = data.contact.geom1, data.contact.geom2
    other = np.concatenate([g2[np.isin(g1, ids)], g1[np.isin(g2, ids)]])
    return {int(model.geom_bodyid[g]) for g in other}


def uniform(rng: np.random.Generator, r: Range) -> float:
    """One draw from a [low, high] range of config/tasks.yaml."""
    return float(rng.uniform(r[0], r[1]))
