"""Message conversions the policy and sim nodes rely on: images, camera info, joint order."""
import numpy as np
import pytest
from sensor_msgs.msg import Image, JointState

from humanoid_manip.nodes import convert


def _image(a: np.ndarray, encoding: str, pad: int = 0) -> Image:
    h, w, c = a.shape
    rows = np.zeros((h, w * c + pad), np.uint8)
    rows[:, :w * c] = a.reshape(h, w * c)
    return Image(height=h, width=w, encoding=encoding, step=w * c + pad, data=rows.tobytes())


def test_images_round_trip_and_other_encodings_become_rgb():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    msg = convert.array_to_image(rgb, convert.seconds_to_time(1.5), "cam")
    assert (msg.encoding, msg.step, msg.header.frame_id) == ("rgb8", 15, "cam")
    np.testing.assert_array_equal(convert.image_to_array(msg), rgb)
    np.testing.assert_array_equal(convert.image_to_array(_image(rgb[:, :, ::-1], "bgr8", 3)),
                                  rgb)
    rgba = np.concatenate([rgb, np.full((6, 5, 1), 255, np.uint8)], axis=2)
    np.testing.assert_array_equal(convert.image_to_array(_image(rgba, "rgba8")), rgb)
    with pytest.raises(convert.ImageFormatError, match="mono8.*rgb8"):
        convert.image_to_array(_image(rgb[:, :, :1], "mono8"))
    short = _image(rgb, "rgb8")
    short.data = short.data[:-1].tobytes()
    with pytest.raises(convert.ImageFormatError, match="do not fit"):
        convert.image_to_array(short)


def test_resize_nearest_keeps_blocks():
    a = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    small = convert.resize_nearest(a, 2, 2)
    np.testing.assert_array_equal(small, a[::2, ::2])
    assert convert.resize_nearest(a, 4, 4) is a


def test_camera_info_is_a_pinhole_with_the_fov():
    info = convert.camera_info(96, 96, 90.0, convert.seconds_to_time(0.0), "cam")
    assert info.k[0] == pytest.approx(48.0) and info.k[2] == pytest.approx(47.5)
    assert (info.width, info.height) == (96, 96)


def test_joint_order_reads_any_order_and_refuses_missing_joints():
    order = convert.JointOrder(["a", "b", "c"])
    msg = JointState(name=["c", "x", "a", "b"], position=[3.0, 9.0, 1.0, 2.0],
                     velocity=[30.0, 90.0, 10.0, 20.0])
    q, dq = order.read(msg)
    np.testing.assert_array_equal(q, [1, 2, 3])
    np.testing.assert_array_equal(dq, [10, 20, 30])
    assert order.read(JointState(name=["a", "b"], position=[1.0, 2.0])) is None
    assert order.missing(["a"]) == ["b", "c"]
    q, dq = order.read(JointState(name=["a", "b", "c"], position=[1.0, 2.0, 3.0]))
    assert not dq.any()  # no velocities published: zeros


def test_time_conversion_round_trips():
    t = convert.seconds_to_time(12.345678901)
    assert (t.sec, t.nanosec) == (12, 345678901)
    assert convert.time_to_seconds(t) == pytest.approx(12.345678901)


def test_the_in_process_loops_clock_is_the_stamps_clock_to_the_bit():
    """ros_time (evaluation and collection loops) gives the monitor the very floats that the
    sim stack's stamps give it, read either way (messages or raw CDR)."""
    from humanoid_manip.data.cdr import header_stamp, joint_state_cdr
    from humanoid_manip.sim import CLOCK_START_S, ros_time

    t = 0.0
    for _ in range(20000):  # the sim's own float accumulation, over 40 s at 500 Hz
        t += 0.002
        expected = convert.time_to_seconds(convert.seconds_to_time(CLOCK_START_S + t))
        assert ros_time(CLOCK_START_S + t) == expected
    ns = int(round((CLOCK_START_S + t) * 1e9))
    assert header_stamp(joint_state_cdr(ns, ("a",), [0.0], [0.0], [0.0])) == expected
