"""Averaged teachers (learn/average.py, `humanoid-manip average`): one file of the teacher
contract whose torque is the mean of its members', each on its own recurrent state; it loads
through the runtime like any teacher, names its members in its lineage, ships once evaluated,
and bad members are refused with one line, not a traceback."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from humanoid_manip.cli import main
from humanoid_manip.learn.bundle import session_from_bytes
from humanoid_manip.learn.evaluate import training_seeds
from humanoid_manip.policy import PolicyRuntime
from humanoid_manip.policy.contract import OUTPUTS

POLICIES = Path(__file__).resolve().parents[1] / "policies"
# two teachers that share dryer_open, at different task indices (0 of 2 and 0 of 1)
MEMBERS = [POLICIES / "teacher_pick_place.onnx", POLICIES / "teacher_dryer_open.onnx"]


@pytest.fixture(scope="module")
def average(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("average") / "avg.onnx"
    assert main(["average", *map(str, MEMBERS), "--out", str(out)]) == 0
    return out


def meta(session) -> tuple[list[str], int, int]:
    """(task names, privileged size, state size) a session's file declares."""
    shapes = {i.name: i.shape for i in session.get_inputs()}
    names = json.loads(session.get_modelmeta().custom_metadata_map["task_names"])
    return names, shapes["privileged"][1], shapes["state_in"][1]


def test_the_average_outputs_the_mean_torque_of_its_members_tick_after_tick(average):
    whole = session_from_bytes(average.read_bytes())
    members = [session_from_bytes(f.read_bytes()) for f in MEMBERS]
    tasks, p_size, s_size = meta(whole)
    assert tasks == ["dryer_open"]  # what both know
    infos = [meta(m) for m in members]
    assert s_size == sum(i[2] for i in infos)
    rng = np.random.default_rng(3)
    state = np.zeros((2, s_size), np.float32)
    own = [np.zeros((2, i[2]), np.float32) for i in infos]
    for _ in range(5):  # the recurrent state fed back: each member keeps its own
        priv = rng.normal(0, 1, (2, p_size)).astype(np.float32)
        proprio = rng.normal(0, 0.5, (2, 96)).astype(np.float32)
        torque, state = whole.run(list(OUTPUTS), {"privileged": priv, "proprio": proprio,
                                                  "task": np.zeros(2, np.int64),
                                                  "state_in": state})
        taus = []
        for i, (m, (names, p_i, _)) in enumerate(zip(members, infos)):
            tau, own[i] = m.run(list(OUTPUTS), {
                "privileged": priv[:, :p_i], "proprio": proprio, "state_in": own[i],
                "task": np.full(2, names.index("dryer_open"), np.int64)})
            taus.append(tau)
        assert np.abs(torque - np.mean(taus, axis=0)).max() < 1e-5
        assert np.abs(state - np.concatenate(own, axis=1)).max() < 1e-5
        assert np.abs(taus[0] - taus[1]).max() > 1e-3  # the members differ: a real mean


def test_the_average_is_a_teacher_whose_lineage_names_its_members(average, robot):
    runtime = PolicyRuntime(str(average), robot, provider="cpu", task="dryer_open")
    assert runtime.is_teacher and runtime.contract.task_names == ("dryer_open",)
    lineage = runtime.contract.lineage
    member_lineages = [PolicyRuntime(str(f), robot, provider="cpu").contract.lineage
                       for f in MEMBERS]
    assert lineage["source"]["type"] == "average"
    assert lineage["parents"] == [x["id"] for x in member_lineages]
    # every member's training seeds are the average's: evaluation refuses them all
    assert training_seeds(lineage, "dryer_open") == set().union(
        *(training_seeds(x, "dryer_open") for x in member_lineages))


def test_an_evaluated_average_ships_as_a_release(average, tmp_path):
    rel = tmp_path / "release"
    assert main(["eval", "--policy", str(average), "--task", "dryer_open", "--episodes", "1",
                 "--time-limit", "0.1", "--videos", "0", "--workers", "1",
                 "--out", str(tmp_path / "e")]) == 0
    assert main(["ship", str(average), "--dest", str(rel), "--name", "t", "--merge",
                 str(tmp_path / "e" / "eval_dryer_open.json")]) == 0
    lineage = json.loads((rel / "t.lineage.json").read_text())
    assert lineage["pipeline"]["command"] == "humanoid-manip average"
    assert lineage["pipeline"]["members"] == [f.name for f in MEMBERS]
    shipped = json.loads((rel / "t.eval.json").read_text())
    assert shipped["tasks"]["dryer_open"]["seeds"] == [1_000_000]


@pytest.mark.parametrize("members, words", [
    ([MEMBERS[0]], "at least two"),
    ([MEMBERS[0], MEMBERS[0]], "same file"),
    ([MEMBERS[0], POLICIES / "pixels_four_tasks.onnx"], "not a privileged-state teacher"),
    ([MEMBERS[1], POLICIES / "teacher_zip_bag_open.onnx"], "share no task"),
], ids=["one", "twice", "pixels", "no-shared-task"])
def test_bad_members_are_refused_in_one_line(members, words, tmp_path, capsys):
    assert main(["average", *map(str, members), "--out", str(tmp_path / "a.onnx")]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "a.onnx").exists()
