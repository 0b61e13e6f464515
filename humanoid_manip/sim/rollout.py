"""Running a scripted expert through whole episodes: the loop the CLI and benchmarks share."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from humanoid_manip.sim.core import Simulation


@dataclass(frozen=True)
class EpisodeResult:
    seed: int
    success: bool
    progress: float  # in [0, 1] at the episode's end
    duration: float  # simulated seconds
    wall_s: float  # wall-clock seconds it took here

    def as_dict(self) -> dict:
        return asdict(self)


def run_expert_episode(sim: Simulation, seed: int,
                       on_frame: Callable[[dict[str, np.ndarray]], None] | None = None
                       ) -> EpisodeResult:
    """Reset to `seed` and let the task's expert act until it is done or time runs out.

    With on_frame, the cameras are rendered at the camera rate and handed to it.
    """
    sim.reset(seed)
    expert = sim.task.expert(sim)
    t0 = time.perf_counter()
    if on_frame is not None and sim.camera_due():
        on_frame(sim.render())
    while not sim.timed_out() and not expert.done(sim):
        sim.step(expert.act(sim))
        if on_frame is not None and sim.camera_due():
            on_frame(sim.render())
    return EpisodeResult(seed=int(seed), success=sim.success(), progress=round(sim.progress(), 4),
                         duration=round(sim.time, 4), wall_s=round(time.perf_counter() - t0, 3))
