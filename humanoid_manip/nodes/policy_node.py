"""policy_node: runs one ONNX policy at a fixed rate on the latest images and joint state.

With `tick_on_joint_state` (the sim stack) a tick is driven by the first joint state stamped at
or after it (ticks at episode start + k / rate), uses that state and the images that came
before it, and stamps its request with that state's stamp: the same inputs the evaluation loop
gives the policy, whatever the scheduling.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from humanoid_manip.data.cdr import header_stamp
from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.nodes import convert
from humanoid_manip.nodes._run import run_node, take_waiting
from humanoid_manip.policy import LatencyStats, PolicyRuntime, TickMonitor, load_policy_config
from humanoid_manip.robot import load_robot

SENSOR_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
REQUEST_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
EPISODE_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)


class PolicyNode(Node):
    """Subscribes cameras + /joint_states, publishes /policy/torque_request at the policy rate."""

    def __init__(self):
        super().__init__("policy_node")
        p = {name: self.declare_parameter(name, default).value for name, default in (
            ("config", ""), ("model", ""), ("provider", ""), ("threads", 0), ("task", ""),
            ("rate_hz", 0.0), ("log_period_s", 5.0), ("tick_on_joint_state", False))}
        cfg = load_policy_config(p["config"] or None, model=p["model"] or None,
                                 provider=p["provider"] or None, threads=p["threads"] or None,
                                 task=p["task"] or None, rate_hz=p["rate_hz"] or None)
        self.cfg = cfg
        self.runtime = PolicyRuntime.from_config(cfg, load_robot())
        rt, c = self.runtime, self.runtime.contract
        self.rate_hz = cfg.rate_hz or c.control_rate_hz
        log = self.get_logger()
        log.info(f"policy {rt.source}: {len(c.joint_names)} joints, cameras "
                 f"{list(c.camera_names)} at {c.image_width}x{c.image_height}, task "
                 f"{rt.task!r} of {list(c.task_names)}, state size {c.state_size}")
        clock = "simulated" if self.get_parameter("use_sim_time").value else "wall"
        note = "" if self.rate_hz == c.control_rate_hz else \
            f" (the file says {c.control_rate_hz:g} Hz)"
        log.info(f"running on {rt.provider_reason}; {self.rate_hz:g} Hz{note} on {clock} time")
        for w in rt.warnings:
            log.warning(w)

        self.joints = convert.JointOrder(c.joint_names)
        self.n_cams = len(c.camera_names)
        self.images = np.zeros((self.n_cams, c.image_height, c.image_width, 3), np.uint8)
        self.image_arrival = np.full(self.n_cams, np.nan)  # perf_counter at arrival
        self.image_stamp = np.full(self.n_cams, np.nan)  # node clock (s) at arrival
        self.image_fresh = np.zeros(self.n_cams, bool)
        self.last_joint_state: bytes | None = None  # serialized: decoded only when used
        self.joint_state_time = -np.inf
        self.counts = {"published": 0, "no_joint_state": 0, "no_image": 0, "nonfinite": 0,
                       "episode_resets": 0, "image_errors": 0}
        self.inference = LatencyStats()
        self.image_to_torque = LatencyStats()
        self.ticks = TickMonitor(self.rate_hz)
        self._warned_resize = False
        self.tick_on_state = bool(p["tick_on_joint_state"])
        self.next_tick = -np.inf  # tick_on_joint_state: the stamp the next tick waits for
        self.episode_known = False  # tick_on_joint_state: an /episode/start has come
        self.last_request = None  # tick_on_joint_state: the last request and its state's stamp
        self.last_request_stamp = -np.inf

        qos = REQUEST_QOS if self.tick_on_state else SENSOR_QOS  # in lockstep: every state
        self.image_subs = [
            self.create_subscription(Image, f"{cam}/image_raw",
                                     lambda msg, i=i: self._on_image(i, msg), qos)
            for i, cam in enumerate(c.camera_names)]
        # 500 Hz joint states, 100 Hz ticks: keep the bytes, decode the one a tick uses
        self.create_subscription(JointState, "joint_states", self._on_joint_state, qos,
                                 raw=True)
        self.episode_sub = self.create_subscription(String, "episode/start", self._on_episode,
                                                    EPISODE_QOS)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.pub = self.create_publisher(JointState, "policy/torque_request", REQUEST_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, "diagnostics", 10)
        if not self.tick_on_state:
            self.create_timer(1.0 / self.rate_hz, self._tick)
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(cfg.diagnostics_period_s, self._publish_diagnostics, clock=steady)
        self._log_period = float(p["log_period_s"])
        if self._log_period > 0:
            self.create_timer(self._log_period, self._log_status, clock=steady)

    # -- inputs ------------------------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_image(self, i: int, msg: Image) -> None:
        try:
            a = convert.image_to_array(msg)
        except HumanoidManipError as exc:
            self.counts["image_errors"] += 1
            self.get_logger().error(str(exc), throttle_duration_sec=5.0)
            return
        h, w = self.images.shape[1:3]
        if a.shape[:2] != (h, w):
            if not self._warned_resize:
                self.get_logger().warning(f"camera images are {a.shape[1]}x{a.shape[0]}, the "
                                          f"policy wants {w}x{h}: resizing (nearest)")
                self._warned_resize = True
            a = convert.resize_nearest(a, h, w)
        self.images[i] = a
        self.image_arrival[i] = time.perf_counter()
        self.image_stamp[i] = self._now()
        self.image_fresh[i] = True

    def _on_joint_state(self, msg: bytes) -> None:
        self.last_joint_state = msg
        if not self.tick_on_state:
            self.joint_state_time = self._now()
            return
        stamp = header_stamp(msg)
        self.joint_state_time = stamp
        take_waiting(self.episode_sub, self._on_episode)  # announced before its first state
        if stamp == self.last_request_stamp and self.last_request is not None:
            self.pub.publish(self.last_request)  # the sim repeats a state: for a late monitor
            return
        if not self.episode_known or stamp < self.next_tick - convert.STAMP_TOLERANCE_S:
            return  # ticks count from the episode's announced start
        for i, sub in enumerate(self.image_subs):  # frames published before this state
            take_waiting(sub, lambda m, i=i: self._on_image(i, m))
        if self._tick(stamp):  # else (no images yet) the next state tries again
            # the next tick: the first whole period after this state (a late state skips)
            period = 1.0 / self.rate_hz
            behind = stamp - self.next_tick if np.isfinite(self.next_tick) else 0.0
            self.next_tick = stamp - behind + period * (
                np.floor((behind + convert.STAMP_TOLERANCE_S) / period) + 1)

    def _on_episode(self, msg: String) -> None:
        self.runtime.reset()
        try:
            self.next_tick = float(json.loads(msg.data).get("start_time", -np.inf))
        except (ValueError, AttributeError):
            self.next_tick = -np.inf
        self.episode_known = True
        self.counts["episode_resets"] += 1
        self.get_logger().info(f"episode start {msg.data}: recurrent state cleared")

    def _on_reset(self, _req, resp):
        self.runtime.reset()
        self.counts["episode_resets"] += 1
        resp.success, resp.message = True, "recurrent state cleared"
        return resp

    # -- the fixed-rate tick -----------------------------------------------------------------
    def _tick(self, now: float | None = None) -> bool:
        """One policy step on the newest inputs; True when a request was published."""
        now = self._now() if now is None else now
        if self.last_joint_state is None or \
                now - self.joint_state_time > self.cfg.max_joint_state_age_s:
            self.counts["no_joint_state"] += 1
            return False
        if np.isnan(self.image_arrival).any():
            self.counts["no_image"] += 1
            return False
        state = deserialize_message(self.last_joint_state, JointState)
        qdq = self.joints.read(state)
        if qdq is None:
            self.counts["no_joint_state"] += 1
            self.get_logger().error(
                f"/joint_states lacks joints {self.joints.missing(state.name)[:6]}",
                throttle_duration_sec=5.0)
            return False
        t0 = time.perf_counter()
        torque = self.runtime.step(self.images, *qdq)
        t1 = time.perf_counter()
        if not np.all(np.isfinite(torque)):
            self.counts["nonfinite"] += 1
            self.get_logger().error("policy output is not finite; state reset, nothing sent",
                                    throttle_duration_sec=5.0)
            return False
        stamp = convert.seconds_to_time(now) if self.tick_on_state else \
            self.get_clock().now().to_msg()
        request = convert.torque_request_msg(self.joints.names, torque, stamp)
        self.pub.publish(request)
        if self.tick_on_state:
            self.last_request, self.last_request_stamp = request, now
        done = time.perf_counter()
        self.counts["published"] += 1
        self.inference.add(t1 - t0)
        if self.image_fresh.any():
            self.image_to_torque.add(done - np.nanmax(self.image_arrival[self.image_fresh]))
            self.image_fresh[:] = False
        # the deadline is on the node's clock: simulated time in the sim, so that a slow CPU
        # that slows the sim as much is not counted as missing
        self.ticks.tick(now, max(0.0, self._now() - now))
        return True

    # -- reporting ---------------------------------------------------------------------------
    def stats(self) -> dict:
        inf, i2t = self.inference.summary(), self.image_to_torque.summary()
        age = self._now() - np.nanmin(self.image_stamp) if not np.isnan(
            self.image_stamp).any() else float("nan")
        return {"provider": self.runtime.provider, "model": self.runtime.source,
                "task": self.runtime.task, "rate_target_hz": self.rate_hz,
                "rate_achieved_hz": self.ticks.achieved_hz(), "ticks": self.ticks.ticks,
                "deadline_misses": self.ticks.misses,
                "inference_p50_ms": inf["p50_ms"], "inference_p99_ms": inf["p99_ms"],
                "image_to_torque_p50_ms": i2t["p50_ms"], "image_to_torque_p99_ms": i2t["p99_ms"],
                "oldest_image_age_s": age, **self.counts}

    def _publish_diagnostics(self) -> None:
        s = self.stats()
        level, msg = "OK", "running"
        if self.counts["published"] == 0:
            level, msg = "WARN", "waiting for joint states and images"
        elif not s["oldest_image_age_s"] <= self.cfg.max_image_age_s:
            level, msg = "WARN", f"images are {s['oldest_image_age_s']:.2f} s old"
        elif s["rate_achieved_hz"] < 0.9 * self.rate_hz:
            level, msg = "WARN", f"rate {s['rate_achieved_hz']:.1f} Hz < {self.rate_hz:g} Hz"
        arr = DiagnosticArray()
        arr.header.stamp = self.get_clock().now().to_msg()
        arr.status = [convert.diagnostic_status(f"{self.get_name()}: policy", "policy", level,
                                                msg, s)]
        self.diag_pub.publish(arr)

    def _log_status(self) -> None:
        s = self.stats()
        if self.counts["published"] == 0:
            self.get_logger().info(f"waiting: {self.counts['no_joint_state']} ticks without a "
                                   f"joint state, {self.counts['no_image']} without images")
            return
        self.get_logger().info(
            f"{s['rate_achieved_hz']:.1f}/{self.rate_hz:g} Hz, {s['published']} torque "
            f"requests, {s['deadline_misses']} deadline misses; inference p50 "
            f"{s['inference_p50_ms']:.2f} ms p99 {s['inference_p99_ms']:.2f} ms; image→torque "
            f"p50 {s['image_to_torque_p50_ms']:.1f} ms p99 {s['image_to_torque_p99_ms']:.1f} ms")


def main(args=None) -> int:
    return run_node(PolicyNode, "policy_node", args)


if __name__ == "__main__":
    sys.exit(main())
