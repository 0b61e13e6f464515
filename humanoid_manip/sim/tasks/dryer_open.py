"""dryer_open: pull a front-loading dryer's latched door open, whichever side its hinge is on."""
from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from humanoid_manip.control import WristIK
from humanoid_manip.control.command import PalmHandCommand
from humanoid_manip.sim.latch import ForceLatch
from humanoid_manip.sim.tasks._dryer import (
    CABINET_WIDTH,
    DryerLayout,
    build_dryer,
    door_angle,
)
from humanoid_manip.sim.tasks._reactive import ReactiveExpert, quat_angle, rotate_z
from humanoid_manip.sim.tasks.base import Expert, Range, Task, TaskConfig, register, uniform


@dataclasses.dataclass(frozen=True)
class DryerSceneConfig(TaskConfig):
    """The dryer's placement, hinge side and wall: the ranges both dryer tasks draw from."""

    front_x: Range
    lateral_offset: Range
    center_z: Range
    door_width: Range
    handle_standoff: Range
    hinge_right_probability: float
    wall_probability: float
    wall_gap: Range
    wall_front: Range


@dataclasses.dataclass(frozen=True)
class DryerOpenConfig(DryerSceneConfig):
    latch_force_n: Range
    door_mass_kg: Range
    hinge_damping: Range
    success_angle_deg: float


def dryer_layout(c: DryerSceneConfig, rng: np.random.Generator) -> DryerLayout:
    """Draw the dryer's placement, hinge side and wall (shared with dryer_unload)."""
    sign = 1 if rng.random() < c.hinge_right_probability else -1
    width = uniform(rng, c.door_width)
    center_y = -sign * uniform(rng, c.lateral_offset)
    wall = bool(rng.random() < c.wall_probability)
    wall_y = center_y - sign * (CABINET_WIDTH / 2 + uniform(rng, c.wall_gap))
    return DryerLayout(front_x=uniform(rng, c.front_x), center_y=center_y,
                       center_z=uniform(rng, c.center_z), opening=width - 0.04,
                       door_width=width, hinge_sign=sign,
                       handle_standoff=uniform(rng, c.handle_standoff), wall=wall,
                       wall_y=wall_y, wall_front=uniform(rng, c.wall_front))


def layout_conditions(lay: DryerLayout) -> dict[str, str]:
    """The dryer's layout an evaluation breaks success down by: hinge side, wall."""
    return {"hinge": "right" if lay.hinge_sign > 0 else "left",
            "wall": "wall" if lay.wall else "no wall"}


@register
class DryerOpen(Task):
    """Open the dryer door at least 70 degrees; a magnetic latch holds it until pulled hard."""

    name = "dryer_open"
    Config = DryerOpenConfig

    def build_scene(self, spec: mujoco.MjSpec, rng: np.random.Generator) -> None:
        c = self.config
        self.layout = dryer_layout(c, rng)
        self.latch_force = uniform(rng, c.latch_force_n)
        build_dryer(spec, self.layout, uniform(rng, c.door_mass_kg), uniform(rng, c.hinge_damping))
        lay = self.layout
        # The magnet: the door's free edge held to the cabinet until the pull exceeds the force.
        spec.add_equality(name="latch", type=mujoco.mjtEq.mjEQ_CONNECT,
                          objtype=mujoco.mjtObj.mjOBJ_BODY, name1="door", name2="dryer",
                          data=[0, lay.hinge_sign * (lay.door_width - 0.02), 0] + [0] * 9,
                          solref=[0.01, 1.0])

    def initialize_episode(self, model, data, rng) -> None:
        self.latch = ForceLatch(model, "latch", self.latch_force, joint="door_hinge")

    def after_step(self, model, data) -> None:
        self.latch.update(model, data)

    def angle(self, model, data) -> float:
        return door_angle(model, data)

    def success(self, model, data) -> bool:
        return self.angle(model, data) >= np.deg2rad(self.config.success_angle_deg)

    def progress(self, model, data) -> float:
        if self.success(model, data):
            return 1.0
        opened = max(self.angle(model, data), 0.0) / np.deg2rad(self.config.success_angle_deg)
        unlatched = 0.0 if self.latch.engaged(data) else 0.1
        return float(min(unlatched + 0.85 * opened, 0.99))

    def debug(self, sim):
        return (f"door={np.rad2deg(self.angle(sim.model, sim.data)):.1f} "
                f"latch={int(self.latch.engaged(sim.data))} peak={self.latch.peak_force:.1f}")

    def conditions(self) -> dict[str, str]:
        return layout_conditions(self.layout)

    def privileged_state(self, model, data) -> np.ndarray:
        """Door angle, its speed, latch engaged; handle, hinge and free edge (world); hinge side,
        door width, handle standoff; wall present, its inner face (y) and front (x)."""
        lay = self.layout
        dof = model.jnt_dofadr[model.joint("door_hinge").id]
        return np.concatenate([
            [self.angle(model, data), data.qvel[dof], float(self.latch.engaged(data))],
            data.site("handle").xpos, lay.hinge, data.site("door_edge").xpos,
            [lay.hinge_sign, lay.door_width, lay.handle_standoff, float(lay.wall),
             lay.wall_y if lay.wall else lay.hinge[1],
             lay.front_x - lay.wall_front if lay.wall else lay.front_x]])

    def expert(self, sim) -> Expert:
        return DoorHookExpert(sim)


class DoorHookExpert(ReactiveExpert):
    """The hand on the hinge's side hooks the handle bar and pulls it along the door's arc;
    decided each tick from the door angle, the bar in the palm's frame and the fingers.

    The hand on the hinge's side works (the right hand when the hinge is on the right), so the
    arm swings outward, not across the body; the other hand parks. Every palm goal is a pose in
    the door's frame at a door angle: the hook pose (the bar against the palm, the curled fingers
    around it) at the door's measured angle, or a little ahead of it while pulling, so the pull is
    always tangent to the arc, never the straight pull the wall on the hinge side would stop. The
    hand turns only HAND_TURN of the door's angle (the arm's reach is limited); the curled fingers
    keep the bar either way. Approach: from PRE_BACK behind the hook pose along the fingers, the
    fingers beside the bar; a hand near the bar but out of that corridor first backs off.
    """

    def __init__(self, sim):
        super().__init__(sim)
        self.task: DryerOpen = sim.task
        lay = self.lay = self.task.layout
        self.sg = lay.hinge_sign
        self.hand = "right" if self.sg > 0 else "left"
        self.other = "left" if self.sg > 0 else "right"
        self.home_q = WristIK.home_quat(sim.robot, self.hand)
        self.grip_off = np.array([GRIP[0], self.sg * GRIP[1], GRIP[2]])  # bar from palm, door shut
        self.handle_geom = sim.model.geom("handle").id
        self.arm_idx = sim.robot.group_indices(f"{self.hand}_arm")
        self.door_dof = sim.model.jnt_dofadr[sim.model.joint("door_hinge").id]
        success = np.deg2rad(self.task.config.success_angle_deg)
        self.enough = success + np.deg2rad(ENOUGH_DEG)
        self.open_to = success + np.deg2rad(OPEN_TO_DEG)

    # -- geometry ------------------------------------------------------------------------------
    def angle(self, sim) -> float:
        return door_angle(sim.model, sim.data)

    def hand_rot(self, angle: float) -> np.ndarray:
        """The working hand's turn about z when the door is open by `angle`."""
        a = self.sg * HAND_TURN * angle
        c, s = np.cos(a), np.sin(a)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    def hook_pose(self, angle: float) -> tuple[np.ndarray, np.ndarray]:
        """Palm position and orientation holding the bar when the door is open by `angle`."""
        origin, rot = self.lay.door_frame(angle)
        handle = origin + rot @ self.lay.handle_local
        return handle - self.hand_rot(angle) @ self.grip_off, \
            rotate_z(self.home_q, self.sg * HAND_TURN * angle)

    def hand_axes(self, sim) -> np.ndarray:
        """The measured hand's yaw frame, columns: up (along the bar), out of the palm's face,
        from the fingertips toward the wrist; level, whatever the hand's tilt."""
        rot = sim.data.site(f"{self.hand}_palm").xmat.reshape(3, 3)
        back = np.array([rot[0, 2], rot[1, 2], 0.0])
        back /= max(np.linalg.norm(back), 1e-9)
        face = self.sg * np.array([back[1], -back[0], 0.0])
        return np.column_stack([[0.0, 0.0, 1.0], face, back])

    def bar_in_palm(self, sim) -> np.ndarray:
        """The handle bar's centre from the palm in the hand's yaw frame (`hand_axes`)."""
        d = sim.data.site("handle").xpos - self.palm(sim, self.hand)[0]
        return self.hand_axes(sim).T @ d

    def palm_for_bar(self, sim, rel: np.ndarray) -> np.ndarray:
        """Where the palm must be, turned as it is now, to see the bar at `rel`."""
        return sim.data.site("handle").xpos - self.hand_axes(sim) @ rel

    def to_door(self, angle: float, p: np.ndarray) -> np.ndarray:
        origin, rot = self.lay.door_frame(angle)
        return rot.T @ (p - origin)

    def from_door(self, angle: float, local: np.ndarray) -> np.ndarray:
        origin, rot = self.lay.door_frame(angle)
        return origin + rot @ local

    def closed(self, sim) -> float:
        return self.closure(sim, self.hand, "hook")

    def turned(self, sim, angle: float) -> float:
        """How far (rad) the measured palm is turned from the hook pose's orientation."""
        return quat_angle(self.palm(sim, self.hand)[1], self.hook_pose(angle)[1])

    @staticmethod
    def in_grip(rel: np.ndarray, reach: float = 0.06) -> bool:
        """The bar between the palm's face and where the curled fingertips reach (the
        fingers pulling a latched bar may push the palm off it by `reach`)."""
        return bool(abs(rel[0] - HOOK_REL[0]) < 0.06 and -0.005 < rel[1] < reach
                    and -0.085 < rel[2] < 0.01)

    @staticmethod
    def at_hook(rel: np.ndarray) -> bool:
        """The bar where curling the fingers wraps them round it (the fingertips may already
        touch the door: the hook pose is seldom reached exactly)."""
        e = rel - HOOK_REL
        return bool(abs(e[0]) < 0.035 and abs(e[1]) < 0.015 and abs(e[2]) < 0.02)

    @staticmethod
    def in_corridor(rel: np.ndarray, slack: float = 0.0) -> bool:
        """The bar straight ahead of the hook place, beside the fingers: sliding in is clear."""
        e = rel - HOOK_REL
        return bool(abs(e[0]) < 0.025 + slack and abs(e[1]) < 0.015 + slack
                    and -PRE_BACK - 0.03 - slack < e[2] < 0.02)

    @staticmethod
    def near_fingers(rel: np.ndarray) -> bool:
        """The bar beside or behind the fingers: moving toward the approach could hit it."""
        return bool(abs(rel[0] - HOOK_REL[0]) < 0.13 and -0.12 < rel[1] < 0.02
                    and -0.17 < rel[2] < 0.04)

    def at_limits(self, sim) -> int:
        """How many of the working arm's joints are at (within 0.03 rad of) a limit."""
        q = sim.joint_state().position[self.arm_idx]
        r = self.robot
        return int(np.sum((q < r.lower[self.arm_idx] + 0.03) | (q > r.upper[self.arm_idx] - 0.03)))

    def hooked(self, sim) -> bool:
        return self.closed(sim) >= HOOKED_CLOSURE and self.in_grip(self.bar_in_palm(sim))

    # -- decisions -----------------------------------------------------------------------------
    def decide(self, sim, mode):
        a = self.angle(sim)
        hooked = self.hooked(sim)
        if a >= self.enough or (mode in ("hold", "idle") and a >= self.enough - HOLD_SLACK):
            return "hold" if hooked else "idle"
        if hooked:
            return "pull"
        rel = self.bar_in_palm(sim)
        closed = self.closed(sim)
        if mode in ("curl", None) and self.in_grip(rel, 0.075) and closed < CURLED:
            return "curl"  # closing round the bar
        if self.at_hook(rel) and closed < 0.3:
            return "curl"
        # An arm wound up against its limits (after a shove) cannot be steered to the door
        # by small palm steps: unwind it toward its parking spot, palm orientation free.
        turned, limits = self.turned(sim, a), self.at_limits(sim)
        # Only while wound up: a hand merely turned, or caught behind the bar, backs off
        # instead (the spring home would drag the bar, and the door, with it).
        if turned > TANGLED_RAD or limits >= 3:
            return "unwind"
        if closed > 0.3 or (mode == "release" and closed > 0.1):
            return "release"  # curled on nothing: open first
        square = turned < (0.45 if mode == "insert" else 0.35)
        if square and self.in_corridor(rel, 0.01 if mode == "insert" else 0.0):
            return "insert"
        if self.near_fingers(rel) or (mode == "backoff" and self.near_fingers(rel * 0.85)):
            return "backoff"
        return "reach"

    def enter(self, sim, mode):
        a = self.angle(sim)
        # held in the door's frame: the palm stays put relative to a door that swings
        self.anchor["palm"] = self.to_door(a, self.palm(sim, self.hand)[0])

    def steer(self, sim, mode):
        a = self.angle(sim)
        hand = self.hand
        palm, quat_now = self.palm(sim, hand)
        hook = 0.0
        step = None
        quat = self.hook_pose(a)[1]
        if mode in ("pull", "hold"):
            hook = 1.0
            target = min(a + self.lead(sim, a), self.open_to) if mode == "pull" \
                else float(np.clip(a, self.enough, self.open_to))
            goal, quat = self.hook_pose(target)
            step = PULL_STEP
        elif mode == "curl":
            hook = 1.0
            goal = self.from_door(a, self.anchor["palm"])
        elif mode == "insert":  # the bar to its hook place, seen from the palm as it is turned
            goal = self.palm_for_bar(sim, HOOK_REL)
        elif mode == "reach":
            pos, quat = self.hook_pose(a)
            goal = pos - self.hand_rot(a) @ np.array([PRE_BACK, 0.0, 0.0])
        elif mode == "backoff":  # straight back along the fingers, a little off the bar
            axes = self.hand_axes(sim)
            away = -1.0 if self.bar_in_palm(sim)[1] > 0.0 else 1.0
            goal = palm + 0.05 * axes[:, 2] + away * 0.015 * axes[:, 1]
            quat = quat_now
        elif mode == "unwind":  # joint space: the arm's own spring toward home, palm free
            q = sim.joint_state().position[self.arm_idx]
            r = self.robot
            extra = np.zeros(r.n)
            lim = UNWIND_TORQUE * r.effort_limit[self.arm_idx]
            extra[self.arm_idx] = np.clip(UNWIND_GAIN * r.kp[self.arm_idx]
                                          * (r.home[self.arm_idx] - q), -lim, lim)
            return PalmHandCommand(
                {self.other: self.park(sim, self.other, PARKED[self.other])},
                {hand: self.grip(sim, hand, "hook", 0.0),
                 self.other: self.grip(sim, self.other, "hook", 0.0)}, extra)
        else:  # release, idle: open the hand where it is
            goal, quat = self.from_door(a, self.anchor["palm"]), quat_now
        return PalmHandCommand(
            {hand: self.toward(sim, hand, goal, quat, step),
             self.other: self.park(sim, self.other, PARKED[self.other])},
            {hand: self.grip(sim, hand, "hook", hook),
             self.other: self.grip(sim, self.other, "hook", 0.0)})

    def speed(self, sim) -> float:
        """The door's opening speed (rad/s, negative while it swings shut)."""
        return float(sim.data.qvel[self.door_dof])

    def lead(self, sim, angle: float) -> float:
        """How far ahead of the door the pull aims: less as the door speeds up and as it nears
        `enough`, so the hand keeps the bar instead of flinging the door past its reach."""
        fast = np.clip((PULL_FAST - self.speed(sim)) / (PULL_FAST - PULL_SLOW), 0.15, 1.0)
        return float(min(PULL_LEAD * fast, max(self.enough + 0.05 - angle, 0.03)))

    def done(self, sim) -> bool:
        return self.mode in ("hold", "idle") and self.angle(sim) >= self.enough \
            and self.speed(sim) > -0.2

    def info(self, sim) -> str:
        a = self.angle(sim)
        return (f"closure={self.closed(sim):.2f} bar={np.round(self.bar_in_palm(sim), 3)} "
                f"turned={np.rad2deg(self.turned(sim, a)):.0f} "
                f"touch={sorted(self.touching(sim, self.hand, self.handle_geom))}")


GRIP = np.array([0.05, 0.035, -0.03])  # the bar from the hook pose's palm, door shut (world)
HOOK_REL = np.array([GRIP[2], GRIP[1], -GRIP[0]])  # the same in the palm frame (x up, z back)
HAND_TURN = 0.35  # the hand turns this fraction of the door's angle (the arm's reach is limited)
PRE_BACK = 0.12  # the approach starts this far behind the hook pose, along the fingers
PULL_LEAD = 0.2  # rad the pull's goal runs ahead of the door (how hard the latch is pulled)
PULL_SLOW, PULL_FAST = 1.0, 2.5  # rad/s: the lead shrinks from full to 15 % between these
PULL_STEP = 0.06  # m: the pulling palm's carrot (bigger than the default: the latch needs force)
HOOKED_CLOSURE = 0.75  # measured hook closure from which a bar in the grip counts as hooked
CURLED = 0.95  # a curl that reached this closure without holding the bar missed it
ENOUGH_DEG = 6.0  # pull this far past the success angle, then hold
OPEN_TO_DEG = 15.0  # the farthest the pull's goal goes past the success angle
TANGLED_RAD = 1.0  # a palm turned this far from the hook pose's orientation is wound up
UNWIND_GAIN = 0.5  # the unwinding spring, as a fraction of the arm's PD stiffness
UNWIND_TORQUE = 0.4  # and at most this fraction of each joint's effort limit
HOLD_SLACK = np.deg2rad(3.0)  # hysteresis: hold on until the door falls this far below `enough`
PARKED = {"left": np.array([0.30, 0.38, 1.22]), "right": np.array([0.30, -0.38, 1.22])}
