"""The MoveIt configuration (config/moveit/, tools/make_moveit_config.py) against the robot.

Groups and states must be the robot's; a link pair the SRDF lets MoveIt skip as "Never" must
not be able to touch: checked here by sampling joint states with another seed than the tool's
and by descending each such pair's distance from its closest samples, on the robot's own
collision geometry in MuJoCo.
"""
import importlib.util
import json
import sys
from pathlib import Path

import mujoco
import numpy as np
import pytest
import yaml

from humanoid_manip.cli import main
from humanoid_manip.moveit_config import files
from humanoid_manip.moveit_config.collision_matrix import (
    ADJACENT,
    NEVER,
    SelfCollisionSampler,
    adjacent_pairs,
    disabled_pairs,
)
from humanoid_manip.moveit_config.srdf import ARMS, build_srdf, named_states, read_srdf
from humanoid_manip.robot.urdf import read_urdf

ROOT = Path(__file__).resolve().parents[1]
CHECK_SAMPLES = 20_000
CHECK_SEED = 20261207  # not the tool's seed


@pytest.fixture(scope="module")
def srdf():
    return read_srdf((files.folder() / files.SRDF).read_text())


def test_the_srdf_groups_are_the_robots(srdf, capsys):
    assert main(["robot", "--json"]) == 0
    joints = json.loads(capsys.readouterr().out)["joints"]
    groups = {}
    for j in joints:
        groups.setdefault(j["group"], []).append(j["name"])
    assert {g: srdf.groups[g] for g in groups} == {g: tuple(n) for g, n in groups.items()}
    assert srdf.subgroups == {ARMS: ("left_arm", "right_arm")}
    assert srdf.groups[ARMS] == tuple(groups["left_arm"] + groups["right_arm"])


def test_states_end_effectors_and_links_fit_the_urdf(robot, srdf):
    urdf = read_urdf(robot.urdf_path)
    links = set(urdf.links)
    states = named_states(robot)
    assert {s for s, _ in srdf.states} == {"home", "ready"}
    for (state, group), values in srdf.states.items():
        assert tuple(values) == srdf.groups[group]
        for name, v in values.items():
            i = robot.index(name)
            assert robot.lower[i] <= v <= robot.upper[i]
            assert v == pytest.approx(states[state][i], abs=1e-6)
    ready = {n: v for (s, _), vals in srdf.states.items() if s == "ready" for n, v in vals.items()}
    assert ready == pytest.approx({n: robot.home[robot.index(n)] for n in ready})
    child = {j.name: j.child for j in urdf.joints}
    for side in ("left", "right"):
        group, parent_link, parent_group = srdf.end_effectors[f"{side}_hand"]
        assert (group, parent_group) == (f"{side}_hand", f"{side}_arm")
        assert parent_link == child[robot.groups[f"{side}_arm"][-1]] == f"{side}_palm_link"
    for p in srdf.disabled:
        assert {p.link1, p.link2} <= links and p.link1 < p.link2


def test_the_srdf_is_what_the_tool_builds_from_its_collision_matrix(robot, srdf):
    text = (files.folder() / files.SRDF).read_text()
    assert build_srdf(robot, list(srdf.disabled)) == text
    sampler = SelfCollisionSampler.build(robot, 0.0)
    adjacent = adjacent_pairs(sampler.model)
    assert {(p.link1, p.link2) for p in srdf.disabled if p.reason == ADJACENT} == adjacent
    assert {p.reason for p in srdf.disabled} <= {ADJACENT, "Default", NEVER}
    assert sum(p.reason == NEVER for p in srdf.disabled) > 100  # it does save MoveIt work


def test_the_yaml_files_are_what_the_tool_writes(robot):
    tool = ROOT / "tools" / "make_moveit_config.py"
    spec = importlib.util.spec_from_file_location("make_moveit_config", tool)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    expected = {
        files.KINEMATICS: files.kinematics(robot),
        files.JOINT_LIMITS: files.joint_limits(robot, module.ACCEL_TIME_S,
                                               module.DEFAULT_SCALING),
        files.CONTROLLERS: files.controllers(),
        files.OMPL: files.ompl(robot),
        files.MOVEIT_PY: files.moveit_py(module.RESET_SCALING, module.PLANNING_TIME_S),
    }
    for name, data in expected.items():
        assert yaml.safe_load((files.folder() / name).read_text()) == data, name
    limits = yaml.safe_load((files.folder() / files.JOINT_LIMITS).read_text())["joint_limits"]
    assert list(limits) == list(robot.names)
    for j in robot.joints:
        assert limits[j.name]["max_velocity"] == j.velocity


def test_collision_sampling_is_seeded(robot):
    a = disabled_pairs(robot, 300, 5, 0.02, 0.1, 1)
    b = disabled_pairs(robot, 300, 5, 0.02, 0.1, 1)
    assert a == b


@pytest.mark.slow
def test_no_pair_disabled_as_never_can_touch(robot, srdf):
    never = {(p.link1, p.link2) for p in srdf.disabled if p.reason == NEVER}
    sampler = SelfCollisionSampler.build(robot, 0.05)
    seen = sampler.sample(CHECK_SAMPLES, CHECK_SEED)
    touching = sorted(k for k, a in seen.items() if a.distance <= 0.0)
    assert len(touching) > 200  # the sampling does find contacts: arms, hands, body
    assert not [k for k in touching if k in never]
    # from each Never pair's closest sample, the distance descended along the joints
    data = mujoco.MjData(sampler.model)
    closest = min((sampler.descend(data, k, a.q).distance, k) for k, a in seen.items()
                  if k in never)
    print(f"\n{len(never)} Never pairs; {len(touching)} pairs touched in {CHECK_SAMPLES} "
          f"samples; closest a Never pair came: {closest[0] * 100:.1f} cm {closest[1]}")
    assert closest[0] > 0.0
    # and a pair that does touch is found by the same search (the check can fail)
    hands = ("left_index_dip_link", "right_index_dip_link")
    start = np.array(robot.home)
    assert sampler.descend(data, hands, start).distance < 0.005
