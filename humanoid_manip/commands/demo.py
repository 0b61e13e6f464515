"""`humanoid-manip demo`: the simulated robot held in place by gravity compensation, reported."""
from __future__ import annotations

import time

HELP = "simulate the humanoid held still (gravity compensation + damping) and report what happened"


def add_arguments(p) -> None:
    p.add_argument("--duration", type=float, default=5.0, help="simulated seconds (default 5)")


def run(args) -> int:
    import mujoco
    import numpy as np

    from humanoid_manip.robot import RobotDynamics, RobotIndex, build_model, load_robot

    robot = load_robot()
    model = build_model(robot)
    data = mujoco.MjData(model)
    idx = RobotIndex.of(model, robot)
    hold = RobotDynamics(robot)  # a separate model, as a controller on hardware would have
    data.qpos[idx.qpos] = robot.home
    mujoco.mj_forward(model, data)
    start = {s: data.site(f"{s}_palm").xpos.copy() for s in ("left", "right")}
    steps = int(round(args.duration * robot.rates.physics_hz))
    print(f"robot: {robot.n} joints from {robot.urdf_path.name}; physics at "
          f"{robot.rates.physics_hz:.0f} Hz; holding the home pose for {args.duration:g} s")
    t0 = time.perf_counter()
    peak = 0.0
    for _ in range(steps):
        q, dq = data.qpos[idx.qpos], data.qvel[idx.dof]
        hold.set_state(q, dq)
        tau = hold.bias_torque() - robot.kd * dq
        data.ctrl[idx.actuator] = np.clip(tau, -robot.effort_limit, robot.effort_limit)
        peak = max(peak, float(np.max(np.abs(tau) / robot.effort_limit)))
        mujoco.mj_step(model, data)
    wall = time.perf_counter() - t0
    for side in ("left", "right"):
        drift = np.linalg.norm(data.site(f"{side}_palm").xpos - start[side]) * 1000
        print(f"  {side} palm drift: {drift:.3f} mm")
    print(f"  peak torque: {peak * 100:.1f}% of the URDF effort limit")
    print(f"  {steps} steps in {wall:.2f} s wall: {args.duration / wall:.1f}x real time")
    return 0
