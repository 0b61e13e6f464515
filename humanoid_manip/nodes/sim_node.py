"""sim_node: the MuJoCo simulation on ROS, the clock of every node in the sim stack."""
from __future__ import annotations

import hashlib
import json
import sys
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray, Header, String
from std_srvs.srv import Trigger

from humanoid_manip.data.cdr import header_stamp
from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.nodes import convert
from humanoid_manip.nodes._run import run_node
from humanoid_manip.policy.stats import LatencyStats

# reliable: lockstep needs every state delivered (a lost one stalls the step for
# lockstep_timeout_s); keep-last 10 lets a slower reader (a recorder) lag without gaps; best-effort
# readers (rviz) still connect
SENSOR_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
COMMAND_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
CLOCK_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
EPISODE_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
MAX_LAG_S = 0.05  # behind the real-time schedule by more: give up catching up (RTF stays <= cap)
# record_sync: how far the world may run ahead of the newest state the recorder has written.
# Below the joint states' keep-last depth, so a state the recorder has not taken yet is still
# in the publisher's history (a reliable reader that fell behind gets it retransmitted).
RECORD_WINDOW_STEPS = SENSOR_QOS.depth - 2


def state_digest(sim) -> str:
    """A short hash of the world's state: two runs of one seed can be compared by their logs."""
    return hashlib.sha256(sim.data.qpos.tobytes() + sim.data.qvel.tobytes()).hexdigest()[:12]


class SimNode(Node):
    """Steps physics at 500 Hz, paced to real_time_factor × wall time (never faster).

    Publishes /clock every physics step, /joint_states every `joint_state_every` steps, the
    cameras at the camera rate, and applies the latest /effort_controller/commands (held, as
    ros2_control's forward_command_controller holds it). In lockstep (the default), once a
    controller has sent a command, each step waits for the command that answers the previous
    step's joint state (up to lockstep_timeout_s of wall time), as a 500 Hz ros2_control loop
    would see it: one period of delay, however slow the CPU, instead of a delay that grows
    with rendering and scheduling hiccups. Commands that stop for a second end the lockstep.
    Until the first command arrives the robot's joints are braked at their start pose (as a
    real arm's brakes hold it until its drives are enabled); the rest of the world moves.

    With `policy_sync` (the sim stack) the policy is in the lockstep too: an episode's world
    stays at its reset state until the policy's first request, and at each policy tick (every
    physics_hz / policy_hz steps from the episode's start) the next step also waits until the
    safety monitor holds the request stamped at that state (/safety/request_held); a state's
    camera frames are published before it. With the monitor and the policy ticking on joint
    states, each request then acts from the next physics step and each command answers the state
    it follows: the same seed is the same episode, the one `humanoid-manip eval --delay-steps 1`
    runs in one process.

    With `record_sync` (the teleop stack) the recorder is in the loop instead: an episode's
    world waits at its reset state until the recorder says (/recorder/recorded, the stamp of
    the newest joint state it wrote) that it records the episode, and never runs more than
    RECORD_WINDOW_STEPS physics steps ahead of what the recorder has written. So the recording
    starts at the reset and holds every step however the processes are scheduled; the recorder
    writes the applied torques from the measured efforts of those states.
    """

    def __init__(self):
        super().__init__("sim_node")
        p = {name: self.declare_parameter(name, default).value for name, default in (
            ("task", "pick_place"), ("seed", 0), ("real_time_factor", 1.0), ("render", True),
            ("steps_per_tick", 1), ("joint_state_every", 1), ("auto_reset", True),
            ("lockstep", True), ("lockstep_timeout_s", 2.0), ("brake_until_command", True),
            ("policy_sync", False), ("record_sync", False), ("log_period_s", 5.0),
            ("diagnostics_period_s", 1.0))}
        from humanoid_manip.sim import CLOCK_START_S, Simulation

        self.p = p
        self.rtf_cap = float(p["real_time_factor"])
        if not self.rtf_cap >= 0 or p["steps_per_tick"] < 1 or p["joint_state_every"] < 1:
            raise HumanoidManipError("real_time_factor must be >= 0 (0 = no cap), steps_per_tick "
                                     "and joint_state_every >= 1")
        for key in ("lockstep_timeout_s", "diagnostics_period_s", "log_period_s"):
            value = float(p[key])
            if not (value > 0 or key == "log_period_s" and value == 0) or value == float("inf"):
                raise HumanoidManipError(f"parameter {key}: a time > 0 s expected, got {value!r}")
        if p["record_sync"] and p["joint_state_every"] != 1:
            raise HumanoidManipError("record_sync needs a joint state every physics step "
                                     "(joint_state_every 1): the recorder takes each step's "
                                     "applied torque from it")
        self.sim = Simulation(p["task"], seed=int(p["seed"]), render=bool(p["render"]))
        self._seed_param_used = int(p["seed"])
        robot = self.sim.robot
        self.robot = robot
        self.dt = self.sim.dt
        self.command = np.zeros(robot.n)
        self.commands_received = 0
        self.command_wall_time = -np.inf
        self.command_errors = 0
        self.waiting = False  # lockstep: the last step's answer has not come yet
        self.policy_sync = bool(p["policy_sync"])
        self.policy_every = max(1, round(robot.rates.physics_hz / robot.rates.policy_hz))
        self.held_wall_time = -np.inf  # policy_sync: when the monitor last said it holds one
        self.waiting_request = False  # policy_sync: this state's request has not come yet
        self.record_sync = bool(p["record_sync"])
        self.recorded_stamp = -np.inf  # record_sync: the newest state the recorder has written
        self.recorded_wall_time = -np.inf  # record_sync: when the recorder last said so
        self.waiting_record = False  # record_sync: RECORD_WINDOW_STEPS ahead of the recorder
        self.await_policy = self.policy_sync  # the world waits for the policy's first request
        self.await_recorder = self.record_sync  # the world waits until the recorder records
        self._waiting_logged = time.perf_counter()
        self.episode_steps = 0
        self._republish_wall = -np.inf
        self.answered = False
        self.last_step_wall = time.perf_counter()
        self.lockstep_timeouts = 0
        self._episode_timeouts0 = 0
        self.clock_offset = CLOCK_START_S  # /clock keeps rising across episodes
        self.episode = 0
        self.steps = 0
        self.render_time = LatencyStats(300)
        log = self.get_logger()

        self.clock_pub = self.create_publisher(ClockMsg, "/clock", CLOCK_QOS)
        self.js_pub = self.create_publisher(JointState, "joint_states", SENSOR_QOS)
        self.cam_pubs = {c: (self.create_publisher(Image, f"{c}/image_raw", SENSOR_QOS),
                             self.create_publisher(CameraInfo, f"{c}/camera_info", SENSOR_QOS))
                         for c in robot.camera_names}
        self.episode_pub = self.create_publisher(String, "episode/start", EPISODE_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, "diagnostics", 10)
        self.create_subscription(Float64MultiArray, "effort_controller/commands",
                                 self._on_command, COMMAND_QOS)
        self.create_service(Trigger, "~/reset", self._on_reset)
        if self.policy_sync:
            self.create_subscription(Header, "safety/request_held", self._on_request_held,
                                     COMMAND_QOS, raw=True)
        if self.record_sync:
            self.create_subscription(Header, "recorder/recorded", self._on_recorded,
                                     COMMAND_QOS, raw=True)

        steady = Clock(clock_type=ClockType.STEADY_TIME)
        period = self.dt / self.rtf_cap if self.rtf_cap > 0 else 1e-4
        self.create_timer(period, self._tick, clock=steady)
        self.create_timer(p["diagnostics_period_s"], self._publish_diagnostics, clock=steady)
        if p["log_period_s"] > 0:
            self.create_timer(p["log_period_s"], self._log_status, clock=steady)
        self.brake_pose = self.sim.joint_state().position
        self._anchor()
        self._rtf_window = (time.perf_counter(), self.sim_time)
        self.rtf = float("nan")
        self._announce_episode()
        self._publish_state()  # the reset state, the policy's first input
        log.info(f"task {self.sim.task.name!r} seed {self.sim.seed}: {robot.n} joints, physics "
                 f"{1 / self.dt:g} Hz, cameras {list(robot.camera_names)} "
                 f"{self.sim.image_width}x{self.sim.image_height} at {robot.rates.camera_hz:g} Hz"
                 f"{'' if p['render'] else ' (rendering off)'}; speed cap "
                 f"{f'{self.rtf_cap:g}x real time' if self.rtf_cap else 'none'}"
                 f"{'; lockstep with the torque commands' if p['lockstep'] else ''}"
                 f"{' and the policy' if self.policy_sync else ''}"
                 f"{'; the recorder records every step' if self.record_sync else ''}")

    @property
    def sim_time(self) -> float:
        return self.clock_offset + self.sim.time

    def _anchor(self) -> None:
        self._wall0, self._sim0 = time.perf_counter(), self.sim_time

    @property
    def started(self) -> bool:
        """The episode's world runs (it waits at its reset state for the policy, the recorder)."""
        return not (self.await_policy or self.await_recorder)

    # -- stepping ----------------------------------------------------------------------------
    def _tick(self) -> None:
        if not self.started:  # repeat the reset state until the policy / the recorder answers
            now = time.perf_counter()
            if now - self._republish_wall > 0.2:
                self._publish_state(frames=True, repeat=True)  # for nodes that start late
            if now - self._waiting_logged > 10.0:
                self._waiting_logged = now
                self.get_logger().info(f"episode {self.episode} waits at its reset state for "
                                       f"{self._awaited()}")
            return
        if self.waiting or self.waiting_request or self.waiting_record:
            if time.perf_counter() - self.last_step_wall < self.p["lockstep_timeout_s"]:
                return
            self.lockstep_timeouts += 1  # no answer: step on with the held command
            if self.waiting_record:
                self.recorded_wall_time = -np.inf  # the recorder stopped answering
            self.waiting = self.waiting_request = self.waiting_record = False
        self._advance(1 if self.p["lockstep"] else self.p["steps_per_tick"])

    def _awaited(self) -> str:
        return " and ".join(w for w, on in (("the policy's first request", self.await_policy),
                                            ("the recorder", self.await_recorder)) if on)

    def _recorder_flowing(self, now: float) -> bool:
        return self.record_sync and now - self.recorded_wall_time < \
            self.p["lockstep_timeout_s"] + 1.0

    def _steps_ahead_of_recorder(self) -> int:
        return int(round((self.sim_time - self.recorded_stamp) / self.dt))

    def _advance(self, n: int) -> None:
        """Up to n physics steps, as many as the real-time schedule allows."""
        if self.rtf_cap > 0:
            due = self._sim0 + self.rtf_cap * (time.perf_counter() - self._wall0)
            behind = due - self.sim_time
            if behind > MAX_LAG_S:
                self._anchor()  # fell behind (slow rendering): never race to catch up
                behind = self.dt
            n = min(n, int(behind / self.dt + 1e-9))
        if self._recorder_flowing(time.perf_counter()):
            n = min(n, RECORD_WINDOW_STEPS - self._steps_ahead_of_recorder())
        for _ in range(n):
            self._step()
        if n > 0:
            now = time.perf_counter()
            self.last_step_wall = now
            # a node that stopped answering (for longer than one timeout) is not waited for
            flowing = self.p["lockstep_timeout_s"] + 1.0
            self.waiting = bool(self.p["lockstep"]) and now - self.command_wall_time < flowing
            self.waiting_request = (self.policy_sync and now - self.held_wall_time < flowing
                                    and self.episode_steps % self.policy_every == 0)
        self.waiting_record = self._recorder_flowing(time.perf_counter()) and \
            self._steps_ahead_of_recorder() >= RECORD_WINDOW_STEPS

    def _step(self) -> None:
        sim = self.sim
        sim.step(self.command)
        if self.commands_received == 0 and self.p["brake_until_command"]:
            sim.data.qpos[sim.index.qpos] = self.brake_pose
            sim.data.qvel[sim.index.dof] = 0.0
        self.steps += 1
        self.episode_steps += 1
        if self.p["auto_reset"] and (sim.timed_out() or sim.success()):
            self.reset()
        else:
            self._publish_state(self.steps % self.p["joint_state_every"] == 0)

    def _publish_state(self, joint_state: bool = True, frames: bool | None = None,
                       repeat: bool = False) -> None:
        """/clock, then the cameras (when due, or `frames`), then /joint_states: a state's
        frames are published before it. A `repeat` (same stamp) is not answered again."""
        sim = self.sim
        self._republish_wall = time.perf_counter()
        if not repeat:
            self.answered = False  # no command has answered this state yet
        stamp = convert.seconds_to_time(self.sim_time)
        self.clock_pub.publish(ClockMsg(clock=stamp))
        if self.p["render"] and (sim.camera_due() if frames is None else frames):
            t0 = time.perf_counter()
            images = sim.render()
            self.render_time.add(time.perf_counter() - t0)
            for name, img in images.items():
                cam = self.robot.camera(name)
                image_pub, info_pub = self.cam_pubs[name]
                image_pub.publish(convert.array_to_image(img, stamp, cam.link))
                info_pub.publish(convert.camera_info(img.shape[1], img.shape[0], cam.fovy_deg,
                                                     stamp, cam.link))
        if joint_state:
            js = sim.joint_state()
            self.js_pub.publish(convert.joint_state_msg(self.robot.names, js.position,
                                                        js.velocity, js.effort, stamp))

    def _on_command(self, msg: Float64MultiArray) -> None:
        tau = np.asarray(msg.data, float)
        if tau.shape != (self.robot.n,) or not np.all(np.isfinite(tau)):
            self.command_errors += 1
            self.get_logger().error(
                f"/effort_controller/commands needs {self.robot.n} finite values in canonical "
                f"order (config/ros2_controllers.yaml), got {tau.size}; ignored",
                throttle_duration_sec=5.0)
            return
        self.command = tau
        self.commands_received += 1
        self.answered = True
        self.command_wall_time = time.perf_counter()
        if self.waiting:
            self.waiting = False
            if not (self.waiting_request or self.waiting_record):
                self._advance(1)

    def _on_request_held(self, msg: bytes) -> None:
        """policy_sync: the safety monitor holds the request stamped so."""
        self.held_wall_time = time.perf_counter()
        if header_stamp(msg) < self.sim_time - 0.5 * self.dt:
            return  # answers an earlier state
        if self.await_policy:
            self.await_policy = False
            self._on_awaited("the monitor holds the policy's first request")
        elif self.waiting_request:
            self.waiting_request = False
            if not (self.waiting or self.waiting_record):
                self._advance(1)

    def _on_recorded(self, msg: bytes) -> None:
        """record_sync: the recorder has written the state stamped so (a zero stamp: it stopped
        recording, so the world no longer waits for it)."""
        stamp = header_stamp(msg)
        if stamp <= 0.0:
            self.recorded_wall_time = -np.inf
            self.recorded_stamp = -np.inf
        else:
            self.recorded_wall_time = time.perf_counter()
            self.recorded_stamp = max(self.recorded_stamp, stamp)
        if self.await_recorder:
            if stamp >= self.sim_time - 0.5 * self.dt:  # it has this episode's reset state
                self.await_recorder = False
                self._on_awaited("the recorder records it")
        elif self.waiting_record and (stamp <= 0.0 or
                                      self._steps_ahead_of_recorder() < RECORD_WINDOW_STEPS):
            self.waiting_record = False
            if not (self.waiting or self.waiting_request):
                self._advance(1)

    def _on_awaited(self, what: str) -> None:
        """One of the things the episode's world waits for has come; start once all have."""
        if not self.started:
            self.get_logger().info(f"{what}; episode {self.episode} waits for {self._awaited()}")
            return
        self.waiting_request = self.waiting_record = False
        # policy_sync: the first step, too, takes the monitor's answer to the reset state
        self.waiting = self.policy_sync and not self.answered
        self._anchor()
        self.get_logger().info(f"{what}: episode {self.episode} runs")

    # -- episodes ----------------------------------------------------------------------------
    def reset(self) -> str:
        """Next episode: the `task`/`seed` parameters if changed since last used, else seed+1."""
        from humanoid_manip.sim import Simulation

        sim = self.sim
        outcome = ("success" if sim.success() else f"unstable ({sim.unstable})" if sim.unstable
                   else "timeout" if sim.timed_out() else "reset")
        done = (f"episode {self.episode} ({sim.task.name}, seed {sim.seed}) ended: {outcome}, "
                f"progress {sim.progress():.2f} after {sim.time:.3f} s, state "
                f"{state_digest(sim)}, lockstep timeouts "
                f"{self.lockstep_timeouts - self._episode_timeouts0}")
        self._episode_timeouts0 = self.lockstep_timeouts
        self.clock_offset += sim.time
        task = self.get_parameter("task").value
        seed_param = int(self.get_parameter("seed").value)
        seed = seed_param if seed_param != self._seed_param_used else sim.seed + 1
        self._seed_param_used = seed_param
        if task != sim.task.name:
            sim.close()
            self.sim = Simulation(task, seed=seed, render=bool(self.p["render"]))
        else:
            sim.reset(seed)
        self.episode += 1
        self.episode_steps = 0
        self.command = np.zeros(self.robot.n)  # nothing held over from the last episode
        self.await_policy, self.await_recorder = self.policy_sync, self.record_sync
        self.waiting = self.waiting_request = self.waiting_record = False
        self._waiting_logged = time.perf_counter()
        self._announce_episode()
        self._publish_state()
        self.get_logger().info(f"{done}; episode {self.episode}: {self.sim.task.name}, seed "
                               f"{self.sim.seed}")
        return done

    def _announce_episode(self) -> None:
        self.episode_pub.publish(String(data=json.dumps(
            {"episode": self.episode, "task": self.sim.task.name, "seed": self.sim.seed,
             "start_time": self.sim_time})))

    def _on_reset(self, _req, resp):
        try:
            resp.message = self.reset()
            resp.success = True
        except HumanoidManipError as exc:
            resp.success, resp.message = False, str(exc)
        return resp

    # -- reporting ---------------------------------------------------------------------------
    def stats(self) -> dict:
        r = self.render_time.summary()
        return {"real_time_factor": self.rtf, "real_time_factor_cap": self.rtf_cap,
                "sim_time_s": self.sim_time, "episode": self.episode,
                "task": self.sim.task.name, "seed": self.sim.seed,
                "episode_time_s": self.sim.time, "progress": self.sim.progress(),
                "success": self.sim.success(), "physics_steps": self.steps,
                "render_p50_ms": r["p50_ms"], "render_p99_ms": r["p99_ms"],
                "commands_received": self.commands_received,
                "command_age_s": time.perf_counter() - self.command_wall_time,
                "command_errors": self.command_errors, "lockstep": self.p["lockstep"],
                "lockstep_timeouts": self.lockstep_timeouts,
                "command_abs_max_nm": float(np.max(np.abs(self.command)))}

    def _publish_diagnostics(self) -> None:
        now, sim_now = time.perf_counter(), self.sim_time
        w0, s0 = self._rtf_window
        if now > w0:
            self.rtf = (sim_now - s0) / (now - w0)
        self._rtf_window = (now, sim_now)
        s = self.stats()
        level, msg = "OK", f"{self.rtf:.2f}x real time"
        if self.commands_received == 0:
            level, msg = "WARN", f"{msg}; no torque commands yet (zero torque applied)"
        arr = DiagnosticArray()
        arr.header.stamp = convert.seconds_to_time(sim_now)
        arr.status = [convert.diagnostic_status(f"{self.get_name()}: simulation", "mujoco",
                                                level, msg, s)]
        self.diag_pub.publish(arr)

    def close(self) -> None:
        """Free the renderer's GL context before the node goes."""
        self.sim.close()

    def _log_status(self) -> None:
        s = self.stats()
        self.get_logger().info(
            f"t={s['sim_time_s']:.2f} s sim, {self.rtf:.2f}x real time, episode {self.episode} "
            f"progress {s['progress']:.2f}; {self.commands_received} torque commands "
            f"(max |τ| {s['command_abs_max_nm']:.1f} N·m); render p50 {s['render_p50_ms']:.1f} ms")


def main(args=None) -> int:
    return run_node(SimNode, "sim_node", args)


if __name__ == "__main__":
    sys.exit(main())
