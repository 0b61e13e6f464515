"""Teleop core pieces: OpenXR → 21-point mapping, hand-stream files, the deadman."""
import json

import numpy as np
import pytest

from humanoid_manip.teleop import synthetic
from humanoid_manip.teleop.deadman import Deadman
from humanoid_manip.teleop.keypoints import (
    HAND21,
    HAND21_FROM_OPENXR,
    OPENXR26,
    KeypointError,
    from_openxr,
    to_hand21,
)
from humanoid_manip.teleop.replay import (
    HandStreamError,
    read_hand_stream,
    sample_at,
    write_hand_stream,
)
from humanoid_manip.teleop.types import HandSample, TeleopInput


def test_openxr_mapping_keeps_21_named_joints_and_drops_palm_and_metacarpals():
    assert len(HAND21) == 21 and len(OPENXR26) == 26
    xr = np.arange(26 * 3, dtype=float).reshape(26, 3)
    out = from_openxr(xr)
    for i, name in enumerate(HAND21):
        np.testing.assert_array_equal(out[i], xr[OPENXR26.index(HAND21_FROM_OPENXR[name])])
    used = {HAND21_FROM_OPENXR[n] for n in HAND21}
    assert set(OPENXR26) - used == {"palm", "index_metacarpal", "middle_metacarpal",
                                    "ring_metacarpal", "little_metacarpal"}
    assert HAND21_FROM_OPENXR["thumb_cmc"] == "thumb_metacarpal"
    with pytest.raises(KeypointError, match="26"):
        from_openxr(np.zeros((21, 3)))
    with pytest.raises(KeypointError, match="layout"):
        to_hand21(np.zeros((21, 3)), "mano")
    with pytest.raises(KeypointError, match="NaN"):
        to_hand21(np.full((21, 3), np.nan))


def frames():
    out = []
    for k in range(5):
        kp = synthetic.keypoints(synthetic.HandPose((k / 4,) * 4), "right")
        out.append(TeleopInput(k / 30, {
            "right": HandSample(np.array([0.5, -0.2, 1.0 + k * 0.01]),
                                np.array([1.0, 0.0, 0.0, 0.0]), kp),
            "left": HandSample(np.array([0.5, 0.2, 1.0]), None, None)}, deadman=k != 3))
    return out


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_hand_stream_round_trip(tmp_path, suffix):
    path = write_hand_stream(tmp_path / f"s{suffix}", frames())
    back = read_hand_stream(path)
    assert [f.t for f in back] == pytest.approx([f.t for f in frames()])
    assert [f.deadman for f in back] == [True, True, True, False, True]
    for a, b in zip(back, frames()):
        np.testing.assert_allclose(a.hands["right"].keypoints, b.hands["right"].keypoints,
                                   atol=1e-6)
        np.testing.assert_allclose(a.hands["right"].wrist_pos, b.hands["right"].wrist_pos)
        assert a.hands["left"].wrist_quat is None and a.hands["left"].keypoints is None
    assert sample_at(back, 0.05).t == pytest.approx(1 / 30)
    assert sample_at(back, -1.0).t == 0.0


def test_hand_stream_accepts_openxr_layout(tmp_path):
    kp = synthetic.keypoints(synthetic.FIST)
    xr = np.zeros((26, 3))
    xr[[OPENXR26.index(HAND21_FROM_OPENXR[n]) for n in HAND21]] = kp
    p = tmp_path / "xr.jsonl"
    p.write_text(json.dumps({"format": "humanoid_manip.hand_stream", "version": 1,
                             "layout": "openxr26"}) + "\n"
                 + json.dumps({"t": 0.0, "right": {"wrist": [0.4, -0.2, 1.0],
                                                   "keypoints": xr.tolist()}}) + "\n")
    (f,) = read_hand_stream(p)
    np.testing.assert_allclose(f.hands["right"].keypoints, kp)
    assert f.deadman is True


@pytest.mark.parametrize("line, match", [
    ('{"t": 0, "right": {"wrist": [1, 2]}}', "3 or 7"),
    ('{"t": 0, "middle": {}}', "unknown"),
    ('{"right": {}}', "needs t"),
    ('{"t": 0, "right": {"keypoints": [[0, 0, 0]]}}', "21"),
    ('not json', "not JSON"),
])
def test_hand_stream_errors_say_where(tmp_path, line, match):
    p = tmp_path / "bad.jsonl"
    p.write_text(line + "\n")
    with pytest.raises(HandStreamError, match=match) as e:
        read_hand_stream(p)
    assert "bad.jsonl:1" in str(e.value)
    with pytest.raises(HandStreamError, match="not found"):
        read_hand_stream(tmp_path / "none.jsonl")


def test_deadman_needs_a_fresh_true_heartbeat():
    d = Deadman(0.3)
    assert not d.engaged(0.0)
    d.heartbeat(True, 1.0)
    assert d.engaged(1.0) and d.engaged(1.29)
    assert not d.engaged(1.31)  # stream lost
    d.heartbeat(True, 2.0)
    d.heartbeat(False, 2.05)
    assert not d.engaged(2.06)  # released
    d.heartbeat(True, 3.0)
    assert not d.engaged(2.5)  # the clock went back (a sim reset): release
    with pytest.raises(ValueError):
        Deadman(0.0)


def test_device_registry_builds_devices_from_settings(robot, tmp_path):
    from humanoid_manip.errors import ConfigError, UnknownNameError
    from humanoid_manip.teleop.devices import device_names, make_device

    assert {"keyboard", "replay"} <= set(device_names())
    with pytest.raises(UnknownNameError, match="keyboard"):
        make_device("glove", robot)
    with pytest.raises(ConfigError, match="valid keys"):
        make_device("keyboard", robot, {"step": 0.01})
    kb = make_device("keyboard", robot, {"step_m": 0.02})
    start = kb.get_action(0.0).hands["right"].wrist_pos
    assert kb.press(" ") and kb.get_action(0.1).deadman
    kb.press("w")
    kb.press("r")
    np.testing.assert_allclose(kb.get_action(0.2).hands["right"].wrist_pos - start,
                               [0.02, 0.0, 0.02])
    kb.press("2")
    fist = kb.get_action(0.3).hands["right"].keypoints
    np.testing.assert_allclose(fist, synthetic.keypoints(synthetic.FIST, "right"))
    kb.press("x")
    assert not kb.get_action(0.4).deadman

    path = write_hand_stream(tmp_path / "s.jsonl", frames())
    rp = make_device("replay", robot, {"deadman": "always"}, {"file": str(path)})
    assert rp.get_action(10.0).deadman  # the stream starts at the first call
    assert rp.get_action(10.0 + 3 / 30 + 0.001).deadman  # frame 3 says false; overridden
    assert not rp.done(10.1)
    end = rp.get_action(10.5)
    assert rp.done(10.5) and not end.deadman and not end.hands  # the end: hold
