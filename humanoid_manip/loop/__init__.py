"""The one in-process episode loop, its drivers and recorder, and episodes as jobs.

`run_episode(sim, driver, monitor, recorder=None, ...)` steps the simulation at 500 Hz, ticks
the driver at the control rate (100 Hz; its request is held between ticks), the safety monitor
core every physics step (the request reaches it `delay_steps` steps after the state it answers:
1 is the sim stack's timing), and records the standard topics. `collect`, `eval`, DAgger, the
flywheel and the tests all run it; see loop/episode.py for the order of one step.

The driver contract (loop/driver.py):
- `reset(sim)` at the episode's start (after sim.reset(seed)); drivers keep their own state;
- `act(sim, obs) -> Action` each control tick, with privileged access to `sim` (experts,
  teachers) and the `Observation` a robot would have (time, stamp, measured q, q̇, efforts,
  the latest camera images when rendering). `Action.torque` is executed (through the
  monitor); `Action.label` is recorded as /policy/torque_request (default: the torque);
  `Action.teleop` the teleop inputs to record when the command went through the teleop path;
- `done(sim)`: the episode settles for SETTLE_S and ends; `source()`: the file's lineage;
- `rate_hz`: None (the control rate) or the rate it must be ticked at (a 500 Hz replay).
Wrappers compose (DartNoise(DaggerDriver(...))): they call the inner driver and change what
is executed, what is labelled, or both; FrozenImages changes what the inner driver sees.
"""
from humanoid_manip.loop.driver import Action, Driver, LoopError, Observation
from humanoid_manip.loop.drivers import (
    DaggerDriver,
    DartNoise,
    ExpertDriver,
    FrozenImages,
    PolicyDriver,
    ReplayDriver,
    TakeoverDriver,
    TeleopExpertDriver,
)
from humanoid_manip.loop.episode import (
    SETTLE_S,
    SUCCESS_HOLD_S,
    EpisodeReport,
    replay_torques,
    run_episode,
    run_expert,
)
from humanoid_manip.loop.jobs import EpisodeJob, run_job
from humanoid_manip.loop.recorder import EpisodeRecorder
from humanoid_manip.loop.runner import JobResult, JobResults, Workers, default_workers, run_jobs

__all__ = ["SETTLE_S", "SUCCESS_HOLD_S", "Action", "DaggerDriver", "DartNoise", "Driver",
           "EpisodeJob", "EpisodeRecorder", "EpisodeReport", "ExpertDriver", "FrozenImages",
           "JobResult", "JobResults", "LoopError", "Observation", "PolicyDriver", "ReplayDriver",
           "TakeoverDriver", "TeleopExpertDriver", "Workers", "default_workers", "replay_torques",
           "run_episode", "run_expert", "run_job", "run_jobs"]
