"""The drivers: the expert (plainly, or as a device through the teleop path), a policy file,
DAgger (one driver acts, another labels), DART noise around any driver, recorded torques.

Experts are used only through `sim.tasks.base.Expert`: `command(sim)` for the teleop path,
`act(sim)` (IK at the measured state, PD, gravity compensation) for the plain expert, `done`.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from humanoid_manip.control.noise import NOISE_TAU_S, TorqueNoise
from humanoid_manip.loop.driver import Action, Driver, LoopError, Observation

if TYPE_CHECKING:
    from humanoid_manip.policy import PolicyRuntime
    from humanoid_manip.sim import Expert, Simulation
    from humanoid_manip.teleop.controller import TeleopController
    from humanoid_manip.teleop.types import TeleopInput


class TeleopExpertDriver(Driver):
    """The task's expert as a teleop device: each tick its command becomes palm targets, hand
    keypoints (the robot hand's forward kinematics of its finger targets), its extra torque and
    a held deadman; the teleop controller (IK, retargeting, PD + gravity) makes the torque."""

    def __init__(self, controller: TeleopController):
        self.controller = controller
        self.expert: Expert | None = None

    def reset(self, sim: Simulation) -> None:
        self.controller.reset(sim.joint_state().position)
        self.expert = sim.task.expert(sim)

    def teleop_input(self, sim: Simulation, t: float) -> TeleopInput:
        """The expert's command in the state the simulation is in now, as a device sends it."""
        from humanoid_manip.teleop.types import SIDES, HandSample, TeleopInput

        cmd = self.expert.command(sim)
        hands = {}
        for side in SIDES:
            target = cmd.palms.get(side)
            q_hand = cmd.hands.get(side)
            kp = None if q_hand is None else self.controller.hands[side].robot_keypoints(q_hand)
            hands[side] = HandSample(None if target is None else target.position,
                                     None if target is None else target.quat, kp)
        return TeleopInput(t, hands, deadman=True, extra_torque=cmd.extra_torque)

    def act(self, sim: Simulation, obs: Observation) -> Action:
        inp = self.teleop_input(sim, obs.t)
        self.controller.feed(inp)
        return Action(self.controller.torque(obs.t, obs.position, obs.velocity), teleop=inp)

    def done(self, sim: Simulation) -> bool:
        return self.expert.done(sim)

    def source(self) -> dict[str, Any]:
        return {"type": "expert", "device": "scripted_expert", "operator": "", "path": "teleop"}


class ExpertDriver(Driver):
    """The task's expert acting directly: `Expert.act` (IK at the measured state, PD, gravity
    compensation); a fresh expert for every episode, so it decides from the state it finds.
    `rate_hz`: None ticks it at the control rate; the physics rate runs its PD every step."""

    def __init__(self, rate_hz: float | None = None):
        self.rate_hz = rate_hz
        self.expert: Expert | None = None

    def reset(self, sim: Simulation) -> None:
        self.expert = sim.task.expert(sim)

    def act(self, sim: Simulation, obs: Observation) -> Action:
        return Action(np.asarray(self.expert.act(sim), dtype=float))

    def done(self, sim: Simulation) -> bool:
        return self.expert.done(sim)

    def source(self) -> dict[str, Any]:
        return {"type": "expert", "device": "scripted_expert", "operator": "", "path": "direct"}


class PolicyDriver(Driver):
    """A policy file through the policy runtime (ONNX Runtime, the class the policy node runs),
    at the file's control rate, on the camera images and the measured joint state."""

    def __init__(self, runtime: PolicyRuntime, policy_id: str = ""):
        self.runtime = runtime
        self.rate_hz = float(runtime.contract.control_rate_hz)
        self.policy_id = policy_id or str(runtime.contract.lineage.get("id") or "")

    def reset(self, sim: Simulation) -> None:
        self.runtime.reset()

    def act(self, sim: Simulation, obs: Observation) -> Action:
        if self.runtime.is_teacher:  # a privileged-state teacher: the simulator's object state
            tau = self.runtime.step(None, obs.position, obs.velocity, sim.privileged_state())
            return Action(np.asarray(tau, dtype=float))
        if obs.images is None:
            raise LoopError("a policy driver needs camera images: run the episode with "
                            "rendering on")
        tau = self.runtime.step(obs.images, obs.position, obs.velocity)
        return Action(np.asarray(tau, dtype=float))

    def source(self) -> dict[str, Any]:
        return {"type": "policy", "policy": self.policy_id, "file": str(self.runtime.source)}


class DaggerDriver(Driver):
    """DAgger: `learner` acts, `labeler` (by default a fresh plain expert per episode; for
    distillation a privileged-state teacher's PolicyDriver) is ticked at the same measured state
    every tick and only labels; its output is never executed.

    With `stall_s`, an episode whose task progress has not risen for that long is over for the
    learner: `on_stall="end"` ends it there (a bottle knocked over, a door shut against its
    latch: dead ends no expert leaves, whose labels would only teach noise), "takeover" lets the
    labeler act from there on (it still labels): the way out of a state the learner got stuck
    in, where there is one.
    """

    PROGRESS_STEP = 0.01  # a rise in progress smaller than this is not progress
    ON_STALL = ("end", "takeover")

    def __init__(self, learner: Driver, labeler: Driver | None = None,
                 stall_s: float | None = None, on_stall: str = "end"):
        if on_stall not in self.ON_STALL:
            raise LoopError(f"on_stall must be one of {self.ON_STALL}, got {on_stall!r}")
        self.learner = learner
        self.labeler = labeler if labeler is not None else ExpertDriver()
        if self.labeler.rate_hz not in (None, learner.rate_hz):
            raise LoopError(f"the labeler ticks at {self.labeler.rate_hz} Hz, the learner at "
                            f"{learner.rate_hz} Hz: a label must answer the tick it labels")
        self.rate_hz = learner.rate_hz
        self.stall_s, self.on_stall = stall_s, on_stall
        self.stalled_s: float | None = None
        self.took_over_s: float | None = None

    def reset(self, sim: Simulation) -> None:
        self.learner.reset(sim)
        self.labeler.reset(sim)
        self._best, self._since = sim.progress(), sim.time
        self.stalled_s = self.took_over_s = None

    def act(self, sim: Simulation, obs: Observation) -> Action:
        label = self.labeler.act(sim, obs).recorded_label
        if self.stall_s and self.stalled_s is None:
            p = sim.progress()
            if p > self._best + self.PROGRESS_STEP:
                self._best, self._since = p, sim.time
            elif sim.time - self._since > self.stall_s:
                self.stalled_s = sim.time
                if self.on_stall == "takeover":
                    self.took_over_s = sim.time
        if self.took_over_s is not None:
            return Action(label, label=label)
        return Action(self.learner.act(sim, obs).torque, label=label)

    def done(self, sim: Simulation) -> bool:
        return self.on_stall == "end" and self.stalled_s is not None

    def source(self) -> dict[str, Any]:
        learner = self.learner.source()
        out = {**learner, "type": "dagger", "learner": learner,
               "labeler": self.labeler.source(),
               "label": "/policy/torque_request is the labeler's torque at the visited state; "
                        "/effort_controller/commands is the learner's, through the monitor"}
        if self.stall_s:
            out["stall"] = {"seconds": self.stall_s, "then": self.on_stall}
        return out


class FrozenImages(Driver):
    """The ablation that shows whether a policy uses its eyes: the inner driver sees one frame
    per camera at every tick, while the joint state stays live. `scene` "own": the episode's
    first frame (what moves during the episode is hidden); "next_seed": the first frame of the
    next seed's episode (another layout: what the cameras say of where things are is wrong)."""

    SCENES = ("own", "next_seed")

    def __init__(self, inner: Driver, scene: str = "own"):
        if scene not in self.SCENES:
            raise LoopError(f"scene must be one of {self.SCENES}, got {scene!r}")
        self.inner = inner
        self.scene = scene
        self.rate_hz = inner.rate_hz
        self._first: dict[str, np.ndarray] | None = None

    def reset(self, sim: Simulation) -> None:
        self.inner.reset(sim)
        self._first = None
        if self.scene == "next_seed":
            from humanoid_manip.sim import Simulation as Sim

            with Sim(sim.task.name, seed=sim.seed + 1, robot=sim.robot) as other:
                self._first = other.render()

    def act(self, sim: Simulation, obs: Observation) -> Action:
        if obs.images is not None:
            if self._first is None:
                self._first = {k: np.array(v, copy=True) for k, v in obs.images.items()}
            obs = replace(obs, images=self._first)
        return self.inner.act(sim, obs)

    def done(self, sim: Simulation) -> bool:
        return self.inner.done(sim)

    def source(self) -> dict[str, Any]:
        seen = ("the episode's first frame" if self.scene == "own"
                else "the next seed's first frame")
        return {**self.inner.source(), "images": f"frozen at {seen} (ablation)"}


class DartNoise(Driver):
    """DART (Laskey et al. 2017): smooth noise on what is executed, never on the label.

    `control.TorqueNoise` (an Ornstein-Uhlenbeck process, `fraction` of each joint's effort
    limit, one draw per control tick), seeded by the episode's seed, is added to the inner
    driver's request before the safety monitor, so the episode shows the driver correcting the
    drift it causes.
    """

    def __init__(self, inner: Driver, fraction: float, tau_s: float = NOISE_TAU_S):
        self.inner = inner
        self.fraction = float(fraction)
        self.tau_s = float(tau_s)
        self.rate_hz = inner.rate_hz

    def reset(self, sim: Simulation) -> None:
        self.inner.reset(sim)
        self._limit = sim.robot.effort_limit
        self._noise = TorqueNoise(sim.robot, self.fraction, [sim.seed, 7], self.tau_s)

    def act(self, sim: Simulation, obs: Observation) -> Action:
        a = self.inner.act(sim, obs)
        run = np.clip(a.torque + self._noise.sample(), -self._limit, self._limit)
        return Action(run, label=a.recorded_label, teleop=a.teleop)

    def done(self, sim: Simulation) -> bool:
        return self.inner.done(sim)

    def source(self) -> dict[str, Any]:
        return {**self.inner.source(),
                "torque_noise": {"fraction_of_effort": self.fraction, "tau_s": self.tau_s,
                                 "label": "the driver's request, clean"}}


class TakeoverDriver(Driver):
    """The takeover test of a re-entrant expert: the expert acts until `after_s`; for
    `perturb_s` smooth random torques (control.TorqueNoise, `fraction` of each joint's effort
    limit) are added to its torque ("add") or sent instead of it ("replace", no gravity
    compensation either), as a policy's errors would; then a newly built expert, which knows
    nothing of the first, takes over from the state it finds and runs the episode out."""

    PERTURB_MODES = ("add", "replace")
    PERTURB_S = 0.5  # how long the noise acts
    FRACTION = 0.1  # its size: a fraction of each joint's effort limit

    def __init__(self, after_s: float, perturb: str = "add", fraction: float = FRACTION,
                 perturb_s: float = PERTURB_S, rate_hz: float | None = None):
        if perturb not in self.PERTURB_MODES:
            raise LoopError(f"perturb must be one of {self.PERTURB_MODES}, got {perturb!r}")
        self.after_s, self.perturb, self.fraction = float(after_s), perturb, float(fraction)
        self.perturb_s, self.rate_hz = float(perturb_s), rate_hz
        self.expert: Expert | None = None
        self.took_over_s: float | None = None

    def reset(self, sim: Simulation) -> None:
        self.expert = sim.task.expert(sim)
        self.took_over_s = None
        self._noise = TorqueNoise(sim.robot, self.fraction, [sim.seed, 11])
        self._kick = np.zeros(sim.robot.n)
        self._next_kick = 0.0
        self._limit = sim.robot.effort_limit

    def act(self, sim: Simulation, obs: Observation) -> Action:
        t = obs.t + 1e-9
        if self.took_over_s is None and t >= self.after_s + self.perturb_s:
            self.expert = sim.task.expert(sim)  # fresh: no memory of the first expert
            self.took_over_s = obs.t
        if self.took_over_s is None and t >= self.after_s:
            if t >= self._next_kick:  # one draw per control period, as a policy's torque
                self._kick = self._noise.sample()
                self._next_kick = obs.t + 1.0 / sim.robot.rates.policy_hz
            tau = self._kick if self.perturb == "replace" else self.expert.act(sim) + self._kick
            return Action(np.clip(tau, -self._limit, self._limit))
        return Action(np.asarray(self.expert.act(sim), dtype=float))

    def done(self, sim: Simulation) -> bool:
        """Only the second expert ends the episode: the first must be taken over."""
        return self.took_over_s is not None and self.expert.done(sim)

    def source(self) -> dict[str, Any]:
        return {"type": "expert", "device": "scripted_expert", "operator": "", "path": "direct",
                "takeover": {"after_s": self.after_s, "perturb": self.perturb,
                             "fraction_of_effort": self.fraction, "perturb_s": self.perturb_s}}


class ReplayDriver(Driver):
    """Recorded applied torques (/effort_controller/commands, one per physics step) played open
    loop from the recorded initial state: ticked every physics step, done when they run out."""

    def __init__(self, commands: np.ndarray, initial_state: dict | None = None):
        self.commands = np.asarray(commands, dtype=float)
        self.initial_state = initial_state
        self._i = 0

    def reset(self, sim: Simulation) -> None:
        self.rate_hz = float(sim.robot.rates.physics_hz)
        self._i = 0
        if self.initial_state is not None:
            sim.data.qpos[:] = self.initial_state["qpos"]
            sim.data.qvel[:] = self.initial_state["qvel"]

    def act(self, sim: Simulation, obs: Observation) -> Action:
        tau = self.commands[self._i]
        self._i += 1
        return Action(tau)

    def done(self, sim: Simulation) -> bool:
        return self._i >= len(self.commands)

    def source(self) -> dict[str, Any]:
        return {"type": "replay"}
