"""Running a task's expert through whole episodes: the loop the CLI and benchmarks share.

With a takeover, the test of a re-entrant expert: the expert acts until `takeover_after`
seconds, then for PERTURB_S smooth random torques (control.TorqueNoise, the DART process of the
collect path) perturb what is executed, as a policy's errors would, and then a newly built
expert, which knows nothing of the first, takes over from the state it finds.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from humanoid_manip.control.noise import TorqueNoise
from humanoid_manip.sim.core import Simulation

PERTURB_S = 0.5  # how long the takeover test's noise acts
PERTURB_FRACTION = 0.1  # its size, as a fraction of each joint's effort limit
PERTURB_MODES = ("add", "replace")  # noise on top of the expert's command, or instead of it


@dataclass(frozen=True)
class EpisodeResult:
    seed: int
    success: bool
    progress: float  # in [0, 1] at the episode's end
    duration: float  # simulated seconds
    wall_s: float  # wall-clock seconds it took here
    takeover_s: float | None = None  # when the fresh expert took over (None: no takeover)

    def as_dict(self) -> dict:
        return asdict(self)


def run_expert_episode(sim: Simulation, seed: int,
                       on_frame: Callable[[dict[str, np.ndarray]], None] | None = None,
                       takeover_after: float | None = None, perturb: str = "add",
                       noise_fraction: float = PERTURB_FRACTION) -> EpisodeResult:
    """Reset to `seed` and let the task's expert act until it is done or time runs out.

    With on_frame, the cameras are rendered at the camera rate and handed to it. With
    `takeover_after`, the takeover test of the module docstring: `perturb` "add" puts the noise
    on the expert's torque, "replace" sends the noise alone (no gravity compensation either).
    """
    if perturb not in PERTURB_MODES:
        raise ValueError(f"perturb must be one of {PERTURB_MODES}, got {perturb!r}")
    sim.reset(seed)
    expert = sim.task.expert(sim)
    robot = sim.robot
    every = max(1, int(round(robot.rates.physics_hz / robot.rates.policy_hz)))
    noise = TorqueNoise(robot, noise_fraction, [seed, 11])
    t0 = time.perf_counter()
    took_over: float | None = None
    k, kick = 0, np.zeros(robot.n)
    if on_frame is not None and sim.camera_due():
        on_frame(sim.render())
    while not sim.timed_out():
        perturbing = takeover_after is not None and took_over is None and \
            sim.time + 1e-9 >= takeover_after
        if perturbing and sim.time + 1e-9 >= takeover_after + PERTURB_S:
            expert = sim.task.expert(sim)  # fresh: no memory of the first expert's episode
            took_over = sim.time
            perturbing = False
        if not perturbing and expert.done(sim) and (takeover_after is None or took_over):
            break  # a takeover test runs on past the first expert's end: the second must hold
        if perturbing:
            if k % every == 0:
                kick = noise.sample()
            tau = kick if perturb == "replace" else expert.act(sim) + kick
            tau = np.clip(tau, -robot.effort_limit, robot.effort_limit)
        else:
            tau = expert.act(sim)
        sim.step(tau)
        k += 1
        if on_frame is not None and sim.camera_due():
            on_frame(sim.render())
    return EpisodeResult(seed=int(seed), success=sim.success(), progress=round(sim.progress(), 4),
                         duration=round(sim.time, 4), wall_s=round(time.perf_counter() - t0, 3),
                         takeover_s=None if took_over is None else round(took_over, 4))
