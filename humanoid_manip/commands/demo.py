"""`humanoid-manip demo`: the simulated robot held by the safety monitor in HOLD, reported."""
from __future__ import annotations

import time

from humanoid_manip.commands._args import positive_float

HELP = ("simulate the humanoid held still by the safety monitor in HOLD (gravity compensation + "
        "damping) and report what happened")


def add_arguments(p) -> None:
    p.add_argument("--duration", type=positive_float, default=5.0,
                   help="simulated seconds (default 5)")


def run(args) -> int:
    import mujoco
    import numpy as np

    from humanoid_manip.robot import RobotIndex, build_model, load_robot
    from humanoid_manip.safety import JointState, SafetyMonitor, load_safety_config

    robot = load_robot()
    model = build_model(robot)
    data = mujoco.MjData(model)
    idx = RobotIndex.of(model, robot)
    # the monitor has its own model of the robot, as a controller on hardware would have
    monitor = SafetyMonitor(robot, load_safety_config())
    data.qpos[idx.qpos] = robot.home
    mujoco.mj_forward(model, data)
    start = {s: data.site(f"{s}_palm").xpos.copy() for s in ("left", "right")}
    steps = int(round(args.duration * robot.rates.physics_hz))
    print(f"robot: {robot.n} joints from {robot.urdf_path.name}; physics at "
          f"{robot.rates.physics_hz:.0f} Hz; the safety monitor holds the home pose for "
          f"{args.duration:g} s (no policy, not enabled)")
    t0 = time.perf_counter()
    peak, tick_s, modes, events = 0.0, [], set(), []
    for _ in range(steps):
        now = data.time + model.opt.timestep
        state = JointState(robot.names, data.qpos[idx.qpos].copy(), data.qvel[idx.dof].copy(),
                           now)
        t1 = time.perf_counter()
        result = monitor.tick(now, None, state)
        tick_s.append(time.perf_counter() - t1)
        modes.add(result.mode.value)
        events.extend(result.events)
        data.ctrl[idx.actuator] = result.torque
        peak = max(peak, float(np.max(np.abs(result.torque) / robot.effort_limit)))
        mujoco.mj_step(model, data)
    wall = time.perf_counter() - t0
    for side in ("left", "right"):
        drift = np.linalg.norm(data.site(f"{side}_palm").xpos - start[side]) * 1000
        print(f"  {side} palm drift: {drift:.3f} mm")
    print(f"  peak torque: {peak * 100:.1f}% of the URDF effort limit")
    print(f"  {steps} steps in {wall:.2f} s wall: {args.duration / wall:.1f}x real time")
    print(f"  safety monitor: mode {' -> '.join(sorted(modes))}; tick p50 "
          f"{np.median(tick_s) * 1e6:.0f} µs")
    counts = monitor.status()["counts"]
    if counts:
        print("  interventions (ticks): " + ", ".join(f"{k} {v}" for k, v in sorted(
            counts.items())))
    else:
        print("  interventions: none")
    for event in events[:5]:
        joints = f" [{', '.join(event.joints[:4])}{' …' if len(event.joints) > 4 else ''}]"
        print(f"    t={event.time:.3f} s {event.type}: {event.reason}"
              f"{joints if event.joints else ''}")
    return 0
