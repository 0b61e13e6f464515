"""zip_bag_open: peel open the zipper seal of a plastic bag of dates lying on the table."""
from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from humanoid_manip.control import WristIK, hand_targets
from humanoid_manip.control.command import PalmHandCommand
from humanoid_manip.robot import RobotSpec, build_model
from humanoid_manip.robot.mujoco_model import RobotIndex
from humanoid_manip.sim.seal import BreakableSeal
from humanoid_manip.sim.tasks._reactive import SIDES, ReactiveExpert
from humanoid_manip.sim.tasks.base import (
    Expert,
    Range,
    Task,
    TaskConfig,
    register,
    touching_bodies,
    uniform,
)

# Flex mesh of each sheet: vertices along the seal (corners included) x across the bag. Coarse
# on purpose: the whole scene must run faster than real time on one core (bench/bench_zip_bag.py).
SEAL_VERTS = 9
DEPTH_VERTS = 4
FILM_RADIUS = 0.002  # collision half-thickness of the flex triangles (m)
VERTEX_RADIUS = 0.003  # the sphere each vertex carries against the table and the fingers (m)
VERTEX_DAMPING = 1e-3  # N·s/m per vertex and axis: air drag, keeps the light film calm
# Soft-constraint stiffness in MuJoCo scales with the effective mass, which for film vertices of
# a fraction of a gram is tiny: at the default time constant the film would stretch centimetres
# under a pull of a newton and a date would press it into the table. Film, seal, tracks and the
# film's contacts use the shortest stable time constant (2 steps) and a high impedance.
STIFF_SOLREF = (0.004, 1.0)
STIFF_SOLIMP = (0.99, 0.995, 0.001, 0.5, 2.0)
FILM_SOLREF = (0.004, 1.0)
FILM_SOLIMP = (0.95, 0.99, 0.001, 0.5, 2.0)
DATE_SIZE = (0.018, 0.011, 0.009)  # ellipsoid semi-axes of a date (m)
DATE_SLOT_PITCH = 0.032  # dates lie in a row across the bag's middle, this far apart (m)
# The zipper tracks are stiff strips: a tendon from each lip vertex to the next but one may not
# shorten below this fraction of its straight length (about 30 degrees of bend per vertex), so
# a pull at one point peels the seal along the lip instead of tenting the film locally.
TRACK_MIN_CHORD = 0.965
# Grip tabs: a stiff block on each lip, welded to a lip vertex either side of the seal's middle
# (a tab keeps its orientation and pulls on that vertex). The top lip's reaches past the table's
# front edge, where a thumb and index can pinch it; the bottom lip's is a plate lying on the
# table beside the bag, where a hand can hold it down.
TAB_HALF = {"top": (0.03, 0.03, 0.004), "bottom": (0.035, 0.03, 0.004)}  # bag frame (m)
TAB_OFFSET = {"top": np.array([-0.03, 0.0, 0.0]),  # tab centre from its lip vertex
              "bottom": np.array([0.029, -0.11, 0.0])}
TAB_POINT = {"top": 4, "bottom": 2}  # seal point each tab sits on
FLANGE_HALF = (0.003, 0.03, 0.008)  # the top tab's turned-down free end (m)
TAB_MASS = 0.003
TAB_FRICTION = 1.2
# The tabs' contacts are stiffer than MuJoCo's default (0.02 s), and win the mix with the
# fingers' (TAB_SOLMIX): at the default a 3 g tab under the seal's 2-3 N sank a centimetre into
# the index holding it, more than its own thickness, and slid out of the pinch. The film's
# 0.004 s is too stiff here: a tab landing on the table then jerks its seal point open.
TAB_SOLREF = (0.008, 1.0)
TAB_SOLMIX = 100.0
TABLE_FRONT_X = 0.50  # the table's edge toward the robot
TABLE_HALF = (0.25, 0.5, 0.02)
OPEN_FRACTION_TO_SUCCEED = 0.8
MOUTH_WIDTH_TO_SUCCEED = 0.04

# Collision bits beside the robot's (1 world, 2/4/8 robot segments, see robot/mujoco_model.py).
# The film's triangles touch the dates and the fingers only: sheet-against-sheet contact is
# what makes a flex bag slow (a few hundred steps/s), and film-against-table contact makes
# three contacts per triangle; one sphere per vertex carries the table and finger
# contacts instead, and those spheres do not touch each other.
FILM_BIT, VERTEX_BIT = 16, 32
ROBOT_BITS = 2 | 4 | 8
TAB_AFFINITY = {"top": ROBOT_BITS, "bottom": 1 | ROBOT_BITS}  # the bottom one rests on the table


@dataclasses.dataclass(frozen=True)
class ZipBagConfig(TaskConfig):
    table_height: Range  # table top above the floor (m)
    bag_width: Range  # along the seal (m)
    bag_depth: Range  # from the seal to the bottom fold (m)
    mouth_x: Range  # the seal's centre (m); the seal faces the robot near the table's edge
    bag_y: Range
    bag_yaw: Range  # rad about z
    bag_mass_kg: Range  # film alone
    film_timeconst_s: Range  # edge-constraint time constant: smaller is a stiffer film
    seal_strength_n_per_m: Range  # tension per unit seal length that peels the seal open
    dates: tuple[int, int]  # how many dates are inside, inclusive range
    date_mass_kg: Range


@dataclasses.dataclass(frozen=True)
class BagParams:
    """One draw of the bag: size, pose, film and seal, how many dates."""

    table_z: float
    width: float
    depth: float
    x: float
    y: float
    yaw: float
    mass_kg: float
    film_timeconst_s: float
    seal_strength_n_per_m: float
    n_dates: int
    date_mass_kg: float

    @classmethod
    def draw(cls, c: ZipBagConfig, rng: np.random.Generator) -> BagParams:
        depth = uniform(rng, c.bag_depth)
        return cls(table_z=uniform(rng, c.table_height), width=uniform(rng, c.bag_width),
                   depth=depth, x=uniform(rng, c.mouth_x) + depth / 2,
                   y=uniform(rng, c.bag_y), yaw=uniform(rng, c.bag_yaw),
                   mass_kg=uniform(rng, c.bag_mass_kg),
                   film_timeconst_s=uniform(rng, c.film_timeconst_s),
                   seal_strength_n_per_m=uniform(rng, c.seal_strength_n_per_m),
                   n_dates=int(rng.integers(c.dates[0], c.dates[1] + 1)),
                   date_mass_kg=uniform(rng, c.date_mass_kg))


class ZipBag:
    """The bag as MuJoCo parts: one 2D flex for both sheets, a breakable seal, the dates.

    Both sheets are one flex that shares its vertices along the bottom fold and the two side
    seams (so nothing leaks there and no constraint is spent on them); the lips along the open
    edge are separate vertices joined by `connect` equalities, the seal. Self-collision is off,
    so the sheets pass through each other where nothing is between them; the dates collide with
    both sheets, which is what keeps them inside. The film's stretch is held by the flex's
    edge-length equalities (elastic2d needs the discrete integrator, and the robot model uses
    implicitfast); it has no bending stiffness, like a thin bag.
    Bag frame: origin at the bag's centre on the table, x from the seal to the fold, z up.
    """

    def __init__(self, params: BagParams, prefix: str = "bag", lift: float = 0.0):
        self.p = params
        self.prefix = prefix
        self.lift = lift  # start this high above the table (m): for drop tests
        nu, nv = SEAL_VERTS, DEPTH_VERTS
        # vid[sheet, i, j]: sheet 0 bottom, 1 top; i along the seal; j = 0 at the seal.
        self.vid = -np.ones((2, nu, nv), dtype=np.int64)
        pts = []
        for s in (0, 1):
            for j in range(nv):
                for i in range(nu):
                    if s == 1 and (j == nv - 1 or i in (0, nu - 1)):
                        self.vid[1, i, j] = self.vid[0, i, j]
                        continue
                    self.vid[s, i, j] = len(pts)
                    pts.append(self._rest_point(s, i, j))
        self.rest_local = np.array(pts)
        self.lip_bottom = self.vid[0, 1:nu - 1, 0]
        self.lip_top = self.vid[1, 1:nu - 1, 0]
        pitch = params.width / (nu - 1)
        self.segment_m = np.full(nu - 2, pitch)
        self.segment_m[[0, -1]] *= 1.5  # the end points also own the stretch up to the corner

    @property
    def n_verts(self) -> int:
        return len(self.rest_local)

    def _rest_point(self, s: int, i: int, j: int) -> np.ndarray:
        p = self.p
        u, v = i / (SEAL_VERTS - 1), j / (DEPTH_VERTS - 1)
        x = -p.depth / 2 + v * p.depth
        y = -p.width / 2 + u * p.width
        bulge = (2 * DATE_SIZE[2] + 0.02) * np.sin(np.pi * u) * np.sin(np.pi * v) if s else 0.0
        return np.array([x, y, VERTEX_RADIUS + bulge])

    def to_world(self, local: np.ndarray) -> np.ndarray:
        c, s = np.cos(self.p.yaw), np.sin(self.p.yaw)
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        return local @ rot.T + [self.p.x, self.p.y, self.p.table_z + self.lift]

    def date_slots(self) -> np.ndarray:
        """Bag-frame centres where the dates start: a row across the middle, centred."""
        n = self.p.n_dates
        y = (np.arange(n) - (n - 1) / 2) * DATE_SLOT_PITCH
        return np.stack([np.zeros(n), y, np.full(n, 2 * FILM_RADIUS + DATE_SIZE[2] + 0.002)], 1)

    # -- building ----------------------------------------------------------------------------
    def build(self, spec: mujoco.MjSpec) -> None:
        """Add the vertex bodies, the flex, its edge and seal equalities, and the dates."""
        p, pre = self.p, self.prefix
        world = spec.worldbody
        names = []
        vmass = p.mass_kg / self.n_verts
        for k, pos in enumerate(self.to_world(self.rest_local)):
            body = world.add_body(name=f"{pre}_v{k}", pos=pos)
            for a, axis in enumerate(np.eye(3)):
                body.add_joint(name=f"{pre}_v{k}_{'xyz'[a]}", type=mujoco.mjtJoint.mjJNT_SLIDE,
                               axis=axis, damping=VERTEX_DAMPING)
            body.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[VERTEX_RADIUS, 0, 0],
                          mass=vmass, contype=VERTEX_BIT, conaffinity=1 | ROBOT_BITS,
                          condim=3, friction=[0.8, 0.005, 0.0001], group=3,
                          solref=list(FILM_SOLREF), solimp=list(FILM_SOLIMP),
                          rgba=[0.8, 0.9, 1.0, 0.3])
            names.append(body.name)
        flex = spec.add_flex()
        flex.name = pre
        flex.dim = 2
        flex.vertbody = names
        flex.vert = np.zeros(3 * self.n_verts)
        flex.elem = self._triangles()
        flex.radius = FILM_RADIUS
        flex.selfcollide = mujoco.mjtFlexSelf.mjFLEXSELF_NONE
        flex.contype = FILM_BIT
        flex.conaffinity = FILM_BIT | ROBOT_BITS
        flex.condim = 3
        flex.friction = [1.0, 0.005, 0.0001]
        flex.solref = list(FILM_SOLREF)
        flex.solimp = list(FILM_SOLIMP)
        flex.rgba = [0.75, 0.85, 0.95, 0.55]
        film = spec.add_equality(name=f"{pre}_film", type=mujoco.mjtEq.mjEQ_FLEX, name1=pre)
        film.solref, film.solimp = [p.film_timeconst_s, 1.0], list(STIFF_SOLIMP)
        for k, (b, t) in enumerate(zip(self.lip_bottom, self.lip_top)):
            eq = spec.add_equality(name=f"{pre}_seal{k}", type=mujoco.mjtEq.mjEQ_CONNECT,
                                   objtype=mujoco.mjtObj.mjOBJ_BODY, name1=names[t],
                                   name2=names[b])
            eq.data = np.zeros(12)  # anchor at the top vertex (the spec's default is 0 1 0)
            eq.solref, eq.solimp = list(STIFF_SOLREF), list(STIFF_SOLIMP)
        self._add_tracks(spec, names)
        self._add_tabs(spec, names)
        for k, pos in enumerate(self.to_world(self.date_slots())):
            date = world.add_body(name=f"{pre}_date{k}", pos=pos, euler=[0, 0, p.yaw])
            date.add_freejoint(name=f"{pre}_date{k}_free")
            date.add_geom(name=f"{pre}_date{k}_geom", type=mujoco.mjtGeom.mjGEOM_ELLIPSOID,
                          size=list(DATE_SIZE), mass=p.date_mass_kg, condim=4,
                          contype=FILM_BIT, conaffinity=1 | FILM_BIT | ROBOT_BITS,
                          friction=[0.8, 0.01, 0.001], rgba=[0.42, 0.22, 0.1, 1.0])

    def _add_tracks(self, spec: mujoco.MjSpec, names: list[str]) -> None:
        """Bending limits along each lip, corner to corner: the zipper track's stiffness."""
        chord = 2 * self.p.width / (SEAL_VERTS - 1)
        for s in (0, 1):
            chain = self.vid[s, :, 0]
            for k in chain:
                site = f"{names[k]}_s"
                if spec.site(site) is None:
                    spec.body(names[k]).add_site(name=site, size=[0.001, 0, 0], group=4)
            for k in range(len(chain) - 2):
                ten = spec.add_tendon(name=f"{self.prefix}_track{s}_{k}", limited=True,
                                      range=[TRACK_MIN_CHORD * chord, 2 * chord])
                ten.solref_limit, ten.solimp_limit = list(STIFF_SOLREF), list(STIFF_SOLIMP)
                ten.wrap_site(f"{names[chain[k]]}_s")
                ten.wrap_site(f"{names[chain[k + 2]]}_s")

    def tab_point(self, lip: str) -> int:
        return TAB_POINT[lip] % len(self.lip_top)

    def _add_tabs(self, spec: mujoco.MjSpec, names: list[str]) -> None:
        """One grip tab per lip, welded to that lip's vertex at its seal point."""
        for lip, verts in (("top", self.lip_top), ("bottom", self.lip_bottom)):
            v = verts[self.tab_point(lip)]
            half, offset = TAB_HALF[lip], TAB_OFFSET[lip]
            local = self.rest_local[v] + offset + [0.0, 0.0, half[2] - VERTEX_RADIUS]
            tab = spec.worldbody.add_body(name=f"{self.prefix}_tab_{lip}",
                                          pos=self.to_world(local), euler=[0, 0, self.p.yaw])
            tab.add_freejoint(name=f"{self.prefix}_tab_{lip}_free")
            rgba = [0.2, 0.5, 0.9, 1] if lip == "top" else [0.9, 0.5, 0.2, 1]
            tab.add_geom(name=f"{self.prefix}_tab_{lip}_geom", type=mujoco.mjtGeom.mjGEOM_BOX,
                         size=list(half), mass=TAB_MASS, contype=VERTEX_BIT,
                         conaffinity=TAB_AFFINITY[lip], condim=4,
                         friction=[TAB_FRICTION, 0.01, 0.001], rgba=rgba,
                         solref=list(TAB_SOLREF), solmix=TAB_SOLMIX)
            if lip == "top":  # a lip turned down at the free end, which a finger can hook
                fl = FLANGE_HALF
                tab.add_geom(name=f"{self.prefix}_tab_{lip}_flange",
                             type=mujoco.mjtGeom.mjGEOM_BOX, size=list(fl), mass=0.0005,
                             pos=[-half[0] + fl[0], 0.0, -half[2] - fl[2] + 0.001],
                             contype=VERTEX_BIT, conaffinity=TAB_AFFINITY[lip], condim=4,
                             friction=[TAB_FRICTION, 0.01, 0.001], rgba=rgba,
                             solref=list(TAB_SOLREF), solmix=TAB_SOLMIX)
            weld = spec.add_equality(name=f"{self.prefix}_tab_{lip}_weld",
                                     type=mujoco.mjtEq.mjEQ_WELD,
                                     objtype=mujoco.mjtObj.mjOBJ_BODY, name1=tab.name,
                                     name2=names[v])
            # anchor at the vertex; relative pose from the reference configuration; torquescale 1
            weld.data = np.r_[np.zeros(10), 1.0, 0.0]
            weld.solref, weld.solimp = list(STIFF_SOLREF), list(STIFF_SOLIMP)

    def _triangles(self) -> list[int]:
        out = []
        for s in (0, 1):
            for j in range(DEPTH_VERTS - 1):
                for i in range(SEAL_VERTS - 1):
                    a, b = self.vid[s, i, j], self.vid[s, i + 1, j]
                    c, d = self.vid[s, i + 1, j + 1], self.vid[s, i, j + 1]
                    out += [a, b, c, a, c, d] if s == 0 else [a, c, b, a, d, c]
        return [int(v) for v in out]

    # -- after compiling ---------------------------------------------------------------------
    def bind(self, model: mujoco.MjModel) -> None:
        """Look up ids in the compiled model: flex vertices, seal equalities, dates."""
        pre = self.prefix
        self.flex_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_FLEX, pre)
        self.vert0 = int(model.flex_vertadr[self.flex_id])
        self.vert_body = model.flex_vertbodyid[self.vert0:self.vert0 + self.n_verts].copy()
        self.seal = BreakableSeal(model, [model.equality(f"{pre}_seal{k}").id
                                          for k in range(len(self.lip_top))],
                                  self.segment_m, self.p.seal_strength_n_per_m)
        self.date_body = np.array([model.body(f"{pre}_date{k}").id
                                   for k in range(self.p.n_dates)], dtype=np.int64)
        self.tab_body = {lip: model.body(f"{pre}_tab_{lip}").id for lip in ("top", "bottom")}
        self.date_qpos = np.array([model.jnt_qposadr[model.joint(f"{pre}_date{k}_free").id]
                                   for k in range(self.p.n_dates)], dtype=np.int64)

    def verts(self, data: mujoco.MjData) -> np.ndarray:
        return data.flexvert_xpos[self.vert0:self.vert0 + self.n_verts]

    def lips(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """World positions of the seal points on the bottom and the top lip."""
        v = self.verts(data)
        return v[self.lip_bottom], v[self.lip_top]

    def mouth_width(self, data: mujoco.MjData) -> float:
        """The widest gap between the two lips (m), over the seal points."""
        bottom, top = self.lips(data)
        return float(np.max(np.linalg.norm(top - bottom, axis=1)))

    def dates_inside(self, data: mujoco.MjData) -> np.ndarray:
        """Per date: whether its centre lies inside the convex hull of the bag's vertices."""
        from scipy.spatial import Delaunay

        hull = Delaunay(self.verts(data))
        return hull.find_simplex(data.xpos[self.date_body]) >= 0


def bag_scene(params: BagParams, lift: float = 0.0) -> tuple[mujoco.MjSpec, ZipBag]:
    """The bag alone on a table (no robot): for physics tests and the benchmark."""
    spec = mujoco.MjSpec()
    spec.modelname = "zip_bag"
    spec.option.timestep = 0.002
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[2, 2, 0.05])
    spec.worldbody.add_light(pos=[0.5, 0, 2.5], dir=[0, 0, -1])
    add_table(spec, params.table_z)
    bag = ZipBag(params, lift=lift)
    bag.build(spec)
    return spec, bag


def add_table(spec: mujoco.MjSpec, table_z: float) -> None:
    cx = TABLE_FRONT_X + TABLE_HALF[0]
    table = spec.worldbody.add_body(name="table", pos=[cx, 0.0, table_z - TABLE_HALF[2]])
    table.add_geom(name="table_top", type=mujoco.mjtGeom.mjGEOM_BOX, size=list(TABLE_HALF),
                   rgba=[0.55, 0.4, 0.25, 1])
    table.add_geom(name="table_leg", type=mujoco.mjtGeom.mjGEOM_BOX,
                   pos=[0.1, 0, -(table_z - 0.02) / 2], size=[0.05, 0.05, (table_z - 0.02) / 2],
                   rgba=[0.3, 0.3, 0.3, 1])


@register
class ZipBagOpen(Task):
    """Open a zip bag of dates on the table: pinch one lip with each hand and pull them apart."""

    name = "zip_bag_open"
    Config = ZipBagConfig

    def build_scene(self, spec: mujoco.MjSpec, rng: np.random.Generator) -> None:
        self.params = BagParams.draw(self.config, rng)
        add_table(spec, self.params.table_z)
        self.bag = ZipBag(self.params)
        self.bag.build(spec)

    def initialize_episode(self, model, data, rng) -> None:
        self.bag.bind(model)
        self.bag.seal.close(data)
        for adr in self.bag.date_qpos:  # each date a little off its slot, turned a little
            data.qpos[adr:adr + 2] += rng.uniform(-0.008, 0.008, 2)
            yaw = self.params.yaw + rng.uniform(-0.4, 0.4)
            data.qpos[adr + 3:adr + 7] = [np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]

    def after_step(self, model, data) -> None:
        self.bag.seal.update(data)

    def open_fraction(self, data) -> float:
        return self.bag.seal.open_fraction(data)

    def success(self, model, data) -> bool:
        return (self.bag.seal.open_fraction(data) >= OPEN_FRACTION_TO_SUCCEED - 1e-9
                and self.bag.mouth_width(data) >= MOUTH_WIDTH_TO_SUCCEED)

    def progress(self, model, data) -> float:
        return 1.0 if self.success(model, data) else self.bag.seal.open_fraction(data)

    def conditions(self) -> dict[str, str]:
        """The bag's yaw (turned toward the left hand, straight, toward the right: the pinch
        hand's reach differs) and how many dates weigh it down."""
        yaw = self.params.yaw
        turn = "left" if yaw > 0.02 else "right" if yaw < -0.02 else "straight"
        return {"yaw": turn, "dates": str(self.params.n_dates)}

    def privileged_state(self, model, data) -> np.ndarray:
        """Both tabs' poses (position, x and z axes); every seal point of the top lip (the one
        the hand lifts) and three of the bottom one (its ends and middle); which seal points are
        open, the open fraction and the mouth's width; the bag's layout (centre, yaw, width,
        depth) and the table's height; then the pinch as the expert reads it: the left index and
        thumb tips from the hook point in the top tab's frame (millimetres decide the pinch,
        more than a network learns from joint angles and the palm) and which of them, and
        whether the right hand, touch their tabs. 72 values."""
        bag, p = self.bag, self.params
        tabs = [np.concatenate([data.xpos[b], data.xmat[b].reshape(3, 3)[:, 0],
                                data.xmat[b].reshape(3, 3)[:, 2]])
                for b in (bag.tab_body["top"], bag.tab_body["bottom"])]
        bottom, top = bag.lips(data)
        mask = bag.seal.open_mask(data).astype(float)
        return np.concatenate([*tabs, top.ravel(), bottom[LIP_POINTS_SEEN].ravel(), mask,
                               [bag.seal.open_fraction(data), bag.mouth_width(data)],
                               [p.x, p.y, p.yaw, p.width, p.depth, p.table_z],
                               self.pinch_state(model, data)])

    def pinch_state(self, model, data) -> np.ndarray:
        """Left index and thumb tips from the hook, in the top tab's frame; contacts: left thumb
        and left index on the top tab, the right hand on the bottom tab."""
        hook, rot = self.hook(data)
        tips = [rot.T @ (data.site(f"left_{f}_tip").xpos - hook) for f in ("index", "thumb")]
        pre = self.bag.prefix
        on_top = [model.body(b).name for b in touching_bodies(
            model, data, [model.geom(f"{pre}_tab_top_{g}").id for g in ("geom", "flange")])]
        on_bottom = [model.body(b).name for b in touching_bodies(
            model, data, [model.geom(f"{pre}_tab_bottom_geom").id])]
        touch = [any(n.startswith(f) for n in names) for f, names in
                 (("left_thumb", on_top), ("left_index", on_top), ("right_", on_bottom))]
        return np.concatenate([*tips, np.asarray(touch, dtype=float)])

    def hook(self, data) -> tuple[np.ndarray, np.ndarray]:
        """Where the left index tip hooks the top tab now (world), and the tab's rotation."""
        pos, rot = self.tab_frame(data, "top")
        return pos + rot @ HOOK, rot

    def expert(self, sim) -> Expert:
        return ZipBagExpert(sim)

    def tab_frame(self, data, lip: str) -> tuple[np.ndarray, np.ndarray]:
        """A tab's measured centre and rotation (columns: its x toward the fold, y, z)."""
        b = self.bag.tab_body[lip]
        return data.xpos[b].copy(), data.xmat[b].reshape(3, 3).copy()

    def rest_tab(self, lip: str) -> np.ndarray:
        """Where a tab's centre lies in the closed bag: the layout, fixed for the episode."""
        bag = self.bag
        verts = bag.lip_top if lip == "top" else bag.lip_bottom
        local = bag.rest_local[verts[bag.tab_point(lip)]] + TAB_OFFSET[lip] \
            + [0.0, 0.0, TAB_HALF[lip][2] - VERTEX_RADIUS]
        return bag.to_world(local)

    def bag_axis(self) -> np.ndarray:
        """Unit vector (world) from the seal toward the bag's bottom fold: away from the robot."""
        return np.array([np.cos(self.params.yaw), np.sin(self.params.yaw), 0.0])

    def seal_direction(self) -> np.ndarray:
        """Unit vector along the seal (world), from the top tab toward the bottom tab's end."""
        c, s = np.cos(self.params.yaw), np.sin(self.params.yaw)
        return np.array([s, -c, 0.0])


LIP_POINTS_SEEN = [0, 3, 6]  # the bottom lip's seal points whose positions the teacher sees
# The left index tip hooks the top tab here, in the tab's frame (tab centre at 0, its free end
# with the turned-down flange at x = -0.03, its bottom face at z = -0.004): under the tab just
# behind the flange, toward the tab's -y side, since the fingers reach in from +y and the
# thumb, closing, must land on the tab's top face.
HOOK = np.array([-0.008, -0.012, -0.011])
UNDER = 0.034  # the index comes in this far below the hook: under the flange, its knuckle too
FRONT = 0.07  # and from this far in front of it (m), the thumb high over the tab
APPROACH_CLOSURE = 0.5  # thumb and index this far closed while coming in
PINCH_RATE = 0.7  # 1/s: the pinch closes this fast, while the palm keeps the index tip in place
PINCHED_CLOSURE = 0.6  # a pinch holding the tab is at least this closed
PULL_UP = 0.18  # how high over the table the left hand lifts the top lip (m)
PULL_BACK = 0.04  # and this far toward the robot, so the index hooked behind the flange pulls
SWEEP = 0.08  # then carries it along the seal toward the bottom tab's end (m)
PULL_STEP = 0.015  # the lifting and sweeping palm's carrot (m): slower than a free reach
# The right hand holds the bottom tab down with the little-finger edge of its closed hand: that
# edge's lowest point lies this far from the pinch point (world frame, measured on the model).
PRESS_WITH_EDGE = np.array([-0.003, 0.065, 0.072])
PRESS_DEPTH = 0.03  # aimed this far into the tab, so the arm's PD presses it onto the table
PRESS_ABOVE = 0.06  # the right hand comes down on its tab from this high
SQUEEZE_NM = 0.3  # extra flexion torque on thumb and index joints while pinching (N·m)
_SQUEEZE_JOINTS = ("thumb_cmc", "thumb_mcp", "thumb_ip", "index_mcp", "index_pip", "index_dip")
PINCHING = ("close", "wait", "lift", "sweep", "hold")  # left modes that squeeze the top tab


class ZipBagExpert(ReactiveExpert):
    """Left: pinch the top tab (index under it behind its flange, thumb on top), lift, sweep
    along the seal; right: hold the bottom tab down with the edge of its fist. Decided each tick
    from the tabs, the seal, the fingertips and the contacts (re-entrant): a pinch that slipped
    opens, backs off and comes in again at the tab wherever it now is; pressing goes on.

    Modes (the left hand's): reach (index to the tab's front, below it), insert (straight in
    under the flange), rise (up until the index meets the tab), close (thumb down onto the tab,
    index held where it is, squeeze), wait (pinched; the right hand not yet pressing), lift,
    sweep, hold (the bag is open), release (a lost pinch opens and backs off).
    """

    def __init__(self, sim):
        super().__init__(sim)
        self.task: ZipBagOpen = sim.task
        m, pre = sim.model, sim.task.bag.prefix
        self.top_geoms = [m.geom(f"{pre}_tab_top_geom").id, m.geom(f"{pre}_tab_top_flange").id]
        self.bottom_geoms = [m.geom(f"{pre}_tab_bottom_geom").id]
        self.pinch = {s: pinch_geometry(sim.robot, s) for s in SIDES}
        self.quat = {s: self.pinch[s].pose()[0] for s in SIDES}
        names = sim.robot.names
        self.squeeze_idx = {s: np.array([names.index(f"{s}_{j}") for j in _SQUEEZE_JOINTS])
                            for s in SIDES}
        t = self.task
        c, s = np.cos(t.params.yaw), np.sin(t.params.yaw)
        rest_rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        self.lift_at = t.rest_tab("top") + rest_rot @ HOOK - PULL_BACK * t.bag_axis()
        self.lift_at[2] = t.params.table_z + PULL_UP
        self.sweep_to = self.lift_at + SWEEP * t.seal_direction()

    # -- what the state says ---------------------------------------------------------------
    def index_tip(self, sim) -> np.ndarray:
        return sim.data.site("left_index_tip").xpos.copy()

    def hook(self, sim) -> tuple[np.ndarray, np.ndarray]:
        """Where the left index tip hooks the top tab now (world), and the tab's rotation."""
        return self.task.hook(sim.data)

    def rel(self, sim) -> np.ndarray:
        """The measured index tip from the hook point, in the tab's frame."""
        hook, rot = self.hook(sim)
        return rot.T @ (self.index_tip(sim) - hook)

    def touch(self, sim) -> tuple[bool, bool]:
        """Whether the left thumb and the left index touch the top tab now."""
        names = self.touching(sim, "left", self.top_geoms)
        return any("thumb" in n for n in names), any("index" in n for n in names)

    def pinched(self, sim, loose: bool = False) -> bool:
        """The top tab between the left thumb and index: both touch it and the hand is closed
        (loose: one of them touches it, or the index tip is still at the hook)."""
        thumb, index = self.touch(sim)
        if self.closure(sim, "left", "pinch") < PINCHED_CLOSURE:
            return False
        if not loose:
            return thumb and index
        return thumb or index or float(np.linalg.norm(self.rel(sim))) < 0.025

    def press_goal(self, sim) -> np.ndarray:
        """The right palm's goal: over the bottom tab, or into it once over it."""
        pos, rot = self.task.tab_frame(sim.data, "bottom")
        top = pos + rot @ np.array([0.0, 0.0, TAB_HALF["bottom"][2]])
        goal = top + PRESS_WITH_EDGE - self.pinch["right"].pose()[1]
        off = float(np.linalg.norm((self.palm(sim, "right")[0] - goal)[:2]))
        # once on the tab it keeps pressing where the tab is, even pulled a little aside
        on = bool(self.touching(sim, "right", self.bottom_geoms))
        over = off < 0.015 or (off < 0.04 and on)
        return goal + [0.0, 0.0, -PRESS_DEPTH if over else PRESS_ABOVE]

    def held_down(self, sim) -> bool:
        """The right hand is on the bottom tab and the tab is on the table."""
        pos, _ = self.task.tab_frame(sim.data, "bottom")
        on_table = pos[2] < self.task.params.table_z + TAB_HALF["bottom"][2] + 0.006
        return on_table and bool(self.touching(sim, "right", self.bottom_geoms))

    # -- decisions -------------------------------------------------------------------------
    def decide(self, sim, mode):
        t = self.task
        if t.success(sim.model, sim.data) and (mode in PINCHING or self.pinched(sim, True)):
            return "hold"
        closing = self._closure_cmd.get("left", 0.0) < 1.0
        if mode in ("lift", "sweep", "hold") and self.pinched(sim, loose=True):
            if mode == "sweep" or self.index_tip(sim)[2] > self.lift_at[2] - 0.02:
                return "sweep"
            return "lift"
        if mode == "close" and closing and self.closure(sim, "left", "pinch") > 0.3:
            return "close"  # thumb on its way down: let it land and the squeeze build
        if self.pinched(sim) or (mode == "wait" and self.pinched(sim, loose=True)):
            return "lift" if self.held_down(sim) else "wait"
        if mode in ("close", "wait", "lift", "sweep", "hold"):
            return "release"  # closed on nothing, or the pinch slipped: open, come in again
        closed = self.closure(sim, "left", "pinch")
        rel = self.rel(sim)
        if mode != "release" and closed > APPROACH_CLOSURE + 0.05 and np.linalg.norm(rel) < 0.02:
            return "close"  # found closing at the hook (a fresh expert): finish the pinch
        if closed > APPROACH_CLOSURE + (0.1 if mode == "release" else 0.25):
            return "release"
        below = abs(rel[0]) < 0.01 and abs(rel[1]) < 0.012
        # the folded fingers' knuckles, under the index, may meet the tab before the index
        knuckles = bool(self.touching(sim, "left", self.top_geoms)) and rel[2] > -0.022
        if below and (rel[2] > -0.004 or knuckles):
            return "close"  # the index tip is at the hook, or the hand meets the tab under it
        if below and rel[2] < 0.0 or (mode == "rise" and abs(rel[0]) < 0.015
                                      and abs(rel[1]) < 0.015):
            return "rise"
        in_line = abs(rel[1]) < 0.015 and abs(rel[2] + UNDER) < 0.012 and -FRONT - 0.02 < rel[0]
        if in_line or (mode == "insert" and abs(rel[1]) < 0.02 and abs(rel[2] + UNDER) < 0.02):
            return "insert"
        return "reach"

    def enter(self, sim, mode):
        if mode == "release":  # open where it is, backing off toward the robot and down
            self.anchor["palm"] = self.palm(sim, "left")[0] - 0.05 * self.task.bag_axis() \
                - [0.0, 0.0, 0.01]
        elif mode == "hold":
            self.anchor["palm"] = self.palm(sim, "left")[0]

    # -- commands --------------------------------------------------------------------------
    def goal_for_index(self, sim, where: np.ndarray) -> np.ndarray:
        """The left palm goal that brings the measured index tip to `where`."""
        return self.palm(sim, "left")[0] + (np.asarray(where) - self.index_tip(sim))

    def steer(self, sim, mode):
        hook, rot = self.hook(sim)
        closure, step = APPROACH_CLOSURE, None
        if mode == "reach":
            front = hook + rot @ [-FRONT, 0.0, -UNDER]
            rel = self.rel(sim)
            if rel[0] > -FRONT + 0.02 and abs(rel[1]) < 0.08 and -UNDER - 0.03 < rel[2] < 0.08:
                # beside, over or under the tab but off the line in: out toward the robot first
                front = self.index_tip(sim) - 0.04 * rot[:, 0]
            goal = self.goal_for_index(sim, front)
        elif mode == "insert":
            rel = self.rel(sim)
            line = [0.0, 0.0, -UNDER]
            if abs(rel[2] + UNDER) > 0.006:  # off the line's height (against the table's edge,
                line = [rel[0] - 0.01, 0.0, -UNDER]  # say): back off a little and get level
            goal, step = self.goal_for_index(sim, hook + rot @ line), 0.01
        elif mode == "rise":
            goal, step = self.goal_for_index(sim, hook), 0.008
        elif mode in ("close", "wait"):
            goal, closure, step = self.goal_for_index(sim, hook), 1.0, 0.01
        elif mode == "lift":
            goal, closure, step = self.goal_for_index(sim, self.lift_at), 1.0, PULL_STEP
        elif mode == "sweep":
            goal, closure, step = self.goal_for_index(sim, self.sweep_to), 1.0, PULL_STEP
        else:  # hold, release: where the mode began
            goal, closure = self.anchor["palm"], 1.0 if mode == "hold" else APPROACH_CLOSURE
        extra = np.zeros(self.robot.n)
        extra[self.squeeze_idx["right"]] = SQUEEZE_NM
        left = self.grip(sim, "left", "pinch", closure, PINCH_RATE)
        if mode in PINCHING:
            extra[self.squeeze_idx["left"]] = SQUEEZE_NM
        return PalmHandCommand(
            {"left": self.toward(sim, "left", goal, self.quat["left"], step),
             "right": self.toward(sim, "right", self.press_goal(sim), self.quat["right"])},
            {"left": left, "right": self.grip(sim, "right", "pinch", 1.0)},
            extra)

    def done(self, sim) -> bool:
        return self.task.success(sim.model, sim.data)

    def info(self, sim) -> str:
        t = self.task
        return (f"rel={np.round(self.rel(sim), 3)} "
                f"closure={self.closure(sim, 'left', 'pinch'):.2f} "
                f"touchL={sorted(self.touching(sim, 'left', self.top_geoms))} "
                f"held={self.held_down(sim)} open={t.open_fraction(sim.data):.2f} "
                f"mouth={t.bag.mouth_width(sim.data):.3f}")


class PinchGeometry:
    """Where a hand's thumb-index pinch closes, relative to its palm site, for the expert."""

    # Fingers tilted this far down from the home attitude and turned toward the middle (rad).
    # Left: pitched far enough that the open pinch's index lies under the thumb rather than
    # ahead of it (at 0.4 it reached 3.5 cm ahead and hit the table's edge before its tip was
    # under the tab); right: the closed hand whose edge presses the bottom tab.
    PITCH = {"left": 0.8, "right": 0.4}
    TURN_IN = {"left": 0.4, "right": 0.4}

    def __init__(self, robot: RobotSpec, side: str):
        model = build_model(robot)
        data = mujoco.MjData(model)
        idx = RobotIndex.of(model, robot)
        q = robot.home.copy()
        q[robot.group_indices(f"{side}_hand")] = hand_targets(robot, side, "pinch", 1.0)
        data.qpos[idx.qpos] = q
        mujoco.mj_forward(model, data)
        palm = data.site(f"{side}_palm")
        tips = [data.site(f"{side}_{f}_tip").xpos for f in ("thumb", "index")]
        rot_home = palm.xmat.reshape(3, 3)
        self.offset_palm = rot_home.T @ ((tips[0] + tips[1]) / 2 - palm.xpos)
        self.quat_home = WristIK.home_quat(robot, side)
        self.turn = -self.TURN_IN[side] if side == "left" else self.TURN_IN[side]
        self.pitch = self.PITCH[side]

    def pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Palm orientation (wxyz) pitched down and turned in; the pinch point's offset.

        Not turned with the bag's yaw (at most 0.06 rad, the tabs are 6 cm wide): a left hand
        turned with a bag yawed to the left brought its elbow back against the torso."""
        q_pitch, q_yaw, q, q2 = np.zeros(4), np.zeros(4), np.zeros(4), np.zeros(4)
        mujoco.mju_axisAngle2Quat(q_pitch, np.array([0.0, 1.0, 0.0]), self.pitch)
        mujoco.mju_axisAngle2Quat(q_yaw, np.array([0.0, 0.0, 1.0]), self.turn)
        mujoco.mju_mulQuat(q, q_pitch, self.quat_home)
        mujoco.mju_mulQuat(q2, q_yaw, q)
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, q2)
        return q2, rot.reshape(3, 3) @ self.offset_palm


_pinch_cache: dict[tuple[int, str], PinchGeometry] = {}


def pinch_geometry(robot: RobotSpec, side: str) -> PinchGeometry:
    key = (id(robot), side)
    if key not in _pinch_cache:
        _pinch_cache[key] = PinchGeometry(robot, side)
    return _pinch_cache[key]
