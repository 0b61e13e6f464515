"""The simulation core, no ROS: robot + task scene in MuJoCo; torques in, joints and images out."""
from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco's first import: offscreen, no display

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from humanoid_manip.errors import HumanoidManipError  # noqa: E402
from humanoid_manip.robot import RobotIndex, RobotSpec, load_robot, robot_mjspec  # noqa: E402
from humanoid_manip.sim.domain import (  # noqa: E402
    DomainConfig,
    add_arena,
    load_domain_config,
    randomize_scene,
)
from humanoid_manip.sim.render import CameraRenderer  # noqa: E402
from humanoid_manip.sim.tasks.base import Task, make_task  # noqa: E402

# Stacks per sphere, capsule and cylinder in the rendered images (MuJoCo's default is 16). With
# the floor's rendering grid (sim/domain.py) the settings that change pixels for speed; README
# "Rendering on the CPU" says by how much.
NUM_STACKS = 8

# Where every simulated clock starts (the sim stack's /clock, the evaluation and collection
# loops' monitor time): ROS reads a zero stamp as unset, and the safety monitor refuses those.
CLOCK_START_S = 1.0


def ros_time(t: float) -> float:
    """`t` as a ROS stamp carries it (whole nanoseconds, read back as sec + nanosec·1e-9): the
    in-process loops give the safety monitor the very times the sim stack's messages do."""
    ns = int(round(t * 1e9))
    return ns // 1_000_000_000 + (ns % 1_000_000_000) * 1e-9


class SimulationError(HumanoidManipError):
    """The simulation was asked something it cannot do (a bad torque vector, a failed build)."""


class TorqueError(SimulationError, ValueError):
    """A torque vector of the wrong length, or with NaN or Inf in it."""


class RenderError(SimulationError):
    """No OpenGL backend could start, so the cameras cannot be rendered."""


# MuJoCo's own checks: a NaN, Inf or huge position, velocity or acceleration, after which it
# resets the whole state (time included) and steps on, as if nothing had happened.
_DIVERGED = {mujoco.mjtWarning.mjWARN_BADQPOS: "position", mujoco.mjtWarning.mjWARN_BADQVEL:
             "velocity", mujoco.mjtWarning.mjWARN_BADQACC: "acceleration"}


@dataclass(frozen=True)
class JointState:
    """Measured joint state in canonical order: rad, rad/s, and the applied torque in N·m."""

    position: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray


class Simulation:
    """One task episode at a time; reset(seed) rebuilds the world so a seed fixes everything.

    Physics steps at robot.rates.physics_hz (500 Hz); a caller renders the cameras at its own
    rate (30 Hz in the nodes), see `camera_due`. `model` and `data` are privileged state for
    experts, tests and the referee; a policy sees only joint_state() and render().
    """

    def __init__(self, task: str | Task, seed: int = 0, robot: RobotSpec | None = None,
                 render: bool = True, image_size: tuple[int, int] | None = None,
                 domain: DomainConfig | None = None):
        self.robot = robot if robot is not None else load_robot()
        self.task = make_task(task) if isinstance(task, str) else task
        self.domain = domain if domain is not None else load_domain_config()
        self.render_enabled = render
        w, h = image_size if image_size is not None else (self.robot.image.width,
                                                          self.robot.image.height)
        self.image_width, self.image_height = int(w), int(h)
        self.camera_names = self.robot.camera_names
        self.dt = 1.0 / self.robot.rates.physics_hz
        self.camera_period_s = 1.0 / self.robot.rates.camera_hz
        self._renderer: CameraRenderer | None = None
        self.model: mujoco.MjModel | None = None
        self.data: mujoco.MjData | None = None
        self.seed: int | None = None
        self.unstable: str | None = None  # why the physics diverged this episode, if it did
        self.reset(seed)

    # -- episode ---------------------------------------------------------------------------
    def build_spec(self, rng: np.random.Generator) -> mujoco.MjSpec:
        """Robot + arena + task scene, domain-randomized from rng."""
        spec = robot_mjspec(self.robot)
        spec.compiler.discardvisual = False  # the URDF's setting would drop textures, materials
        spec.visual.quality.offsamples = 0  # no multisampling: 96 px images, CPU rendering
        # Half MuJoCo's 16 stacks per sphere, capsule and cylinder: llvmpipe transforms every
        # vertex on the CPU and these shapes were most of them (README "Rendering on the CPU").
        spec.visual.quality.numstacks = NUM_STACKS
        robot_bodies = {b.name for b in spec.bodies}
        spec.visual.global_.offwidth = max(self.image_width, 640)
        spec.visual.global_.offheight = max(self.image_height, 480)
        add_arena(spec, self.domain, rng)
        self.task.build_scene(spec, rng)
        randomize_scene(spec, robot_bodies, self.domain, rng)
        if not any(light.castshadow for light in spec.lights):
            spec.visual.quality.shadowsize = 0  # no shadow map to allocate (64 MB at 4096²)
        return spec

    def reset(self, seed: int | None = None) -> None:
        """Start a new episode; the same seed gives the same episode bit for bit."""
        if seed is None:
            seed = 0 if self.seed is None else self.seed + 1
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise SimulationError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        rng = np.random.default_rng(self.seed)
        spec = self.build_spec(rng)
        try:
            self.model = spec.compile()
        except ValueError as exc:
            raise SimulationError(f"task {self.task.name!r}: MuJoCo cannot compile the scene "
                                  f"for seed {seed}: {exc}") from None
        self.data = mujoco.MjData(self.model)
        self.unstable = None
        self.index = RobotIndex.of(self.model, self.robot)
        self.data.qpos[self.index.qpos] = self.robot.home
        mujoco.mj_forward(self.model, self.data)
        self.task.initialize_episode(self.model, self.data, rng)
        mujoco.mj_forward(self.model, self.data)
        self._next_frame_time = 0.0
        self._camera_ids = {n: mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, n)
                            for n in self.camera_names}

    # -- acting and sensing ------------------------------------------------------------------
    def step(self, torque) -> None:
        """Apply a torque vector (canonical order, N·m) for one physics step (1/500 s).

        MuJoCo clips each torque to its actuator's control range (the URDF effort limit). If
        the physics diverges, MuJoCo resets the state; then the episode is over (`unstable`
        says why, `timed_out()` is true, it is no success) and the clock does not run back.
        """
        tau = np.asarray(torque, dtype=np.float64)
        if tau.shape != (self.robot.n,):
            raise TorqueError(f"torque must be a vector of {self.robot.n} values in canonical "
                              f"joint order, got shape {tau.shape}")
        if not np.all(np.isfinite(tau)):
            bad = [self.robot.names[i] for i in np.flatnonzero(~np.isfinite(tau))]
            raise TorqueError(f"torque has NaN or Inf for joint(s) {', '.join(bad)}")
        self.data.ctrl[self.index.actuator] = tau
        t, warned = self.data.time, [self.data.warning[w].number for w in _DIVERGED]
        mujoco.mj_step(self.model, self.data)
        for (w, what), before in zip(_DIVERGED.items(), warned):
            if self.data.warning[w].number > before and self.unstable is None:
                self.unstable = (f"the physics diverged at {t + self.dt:.3f} s (a bad {what} "
                                 f"at degree of freedom {self.data.warning[w].lastinfo}; "
                                 f"{self.task.name}, seed {self.seed}); MuJoCo reset the state")
        if self.unstable is not None:
            self.data.time = t + self.dt  # MuJoCo's reset set it to 0: the clock goes on
            return
        self.task.after_step(self.model, self.data)

    def joint_state(self) -> JointState:
        """Positions, velocities and applied (measured) torques, canonical order."""
        return JointState(self.data.qpos[self.index.qpos].copy(),
                          self.data.qvel[self.index.dof].copy(),
                          self.data.actuator_force[self.index.actuator].copy())

    @property
    def time(self) -> float:
        return float(self.data.time)

    def camera_due(self) -> bool:
        """True once per camera period (30 Hz): the caller should render now."""
        if self.data.time + 1e-9 >= self._next_frame_time:
            self._next_frame_time += self.camera_period_s
            return True
        return False

    def render(self) -> dict[str, np.ndarray]:
        """RGB images {camera name: uint8 H×W×3} from the head and both wrist cameras."""
        if not self.render_enabled:
            raise RenderError("this Simulation was made with render=False")
        if self._renderer is None:
            renderer = CameraRenderer(self.image_width, self.image_height)
            try:
                renderer.use(self.model)
            except Exception as exc:  # noqa: BLE001 - GL failures surface as many types
                renderer.close()
                raise RenderError(
                    f"no OpenGL backend could start (MUJOCO_GL="
                    f"{os.environ.get('MUJOCO_GL', '')!r}): {exc}. Offscreen rendering needs "
                    "MUJOCO_GL=egl (Mesa's EGL, works on CPU) or osmesa set before MuJoCo is "
                    "first imported; or run with render=False.") from None
            self._renderer = renderer
        return self._renderer.render(self.model, self.data, self._camera_ids)

    def privileged_state(self) -> np.ndarray:
        """What a privileged teacher sees beside the joints, never the policy: each palm's
        position and axes (where the hands are in the task's space: the experts decide there,
        and a network would otherwise have to learn the arms' forward kinematics to the
        centimetre), then the task's object state (Task.privileged_state)."""
        palms = []
        for side in ("left", "right"):
            site = self.data.site(f"{side}_palm")
            rot = site.xmat.reshape(3, 3)
            palms += [site.xpos, rot[:, 0], rot[:, 2]]
        task = np.asarray(self.task.privileged_state(self.model, self.data), dtype=np.float64)
        return np.concatenate([*palms, task])

    # -- the referee -------------------------------------------------------------------------
    def success(self) -> bool:
        return self.unstable is None and bool(self.task.success(self.model, self.data))

    def progress(self) -> float:
        if self.unstable is not None:  # the state is MuJoCo's reset, not the task's
            return 0.0
        return float(np.clip(self.task.progress(self.model, self.data), 0.0, 1.0))

    @property
    def time_limit_s(self) -> float:
        return self.task.time_limit_s

    def timed_out(self) -> bool:
        """The episode is over: its time limit, or the physics diverged (`unstable`)."""
        return self.unstable is not None or self.data.time >= self.task.time_limit_s - 1e-9

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> Simulation:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
