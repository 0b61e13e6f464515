"""The fast CDR encoders give messages that ROS 2's own deserializer reads back equal."""
import numpy as np
from geometry_msgs.msg import Pose, PoseArray, PoseStamped
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray, String

from humanoid_manip.data import cdr
from humanoid_manip.nodes import convert

T_NS = 1_234_567_891


def same(msg, data: bytes) -> bool:
    return deserialize_message(data, type(msg)) == msg


def stamped(msg, frame_id=""):
    msg.header.stamp = convert.seconds_to_time(T_NS * 1e-9)
    msg.header.frame_id = frame_id
    return msg


def test_every_fast_encoder_matches_rclpy():
    js = stamped(JointState(name=["a", "bc"], position=[1.0, 2.0], velocity=[3.0, 4.0],
                            effort=[5.0, 6.0]))
    assert same(js, cdr.joint_state_cdr(T_NS, ["a", "bc"], [1, 2], [3, 4], [5, 6]))
    assert same(stamped(JointState(name=["x"], effort=[2.0])),
                cdr.joint_state_cdr(T_NS, ["x"], effort=[2.0]))
    assert same(Float64MultiArray(data=[1.0, 2.5]), cdr.float64_array_cdr([1, 2.5]))
    img = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    assert same(convert.array_to_image(img, convert.seconds_to_time(T_NS * 1e-9), "cam"),
                cdr.image_cdr(T_NS, "cam", img))
    assert same(convert.camera_info(96, 96, 75.0, convert.seconds_to_time(T_NS * 1e-9), "cam"),
                cdr.camera_info_cdr(T_NS, "cam", 96, 96, 75.0))
    ps = stamped(PoseStamped(), "world")
    ps.pose.position.x, ps.pose.position.y, ps.pose.position.z = 1.0, 2.0, 3.0
    o = ps.pose.orientation
    o.w, o.x, o.y, o.z = 0.5, 0.1, 0.2, 0.3
    assert same(ps, cdr.pose_stamped_cdr(T_NS, "world", [1, 2, 3], [0.5, 0.1, 0.2, 0.3]))
    pa = stamped(PoseArray(poses=[Pose() for _ in range(3)]), "k")
    for i, p in enumerate(pa.poses):
        p.position.x, p.position.z = float(i), 0.5
    assert same(pa, cdr.pose_array_cdr(T_NS, "k", [[0, 0, 0.5], [1, 0, 0.5], [2, 0, 0.5]]))
    assert same(Bool(data=True), cdr.bool_cdr(True))
    assert same(String(data="héllo"), cdr.string_cdr("héllo"))


def test_known_names_are_recognised_in_rclpy_bytes_whatever_their_padding(robot):
    """rclpy leaves padding bytes uninitialised; the reader's shortcut for a stream's repeated
    joint names must still see them as the same names (and refuse different ones)."""
    from rclpy.serialization import serialize_message

    zeros = np.zeros(robot.n)
    msg = convert.joint_state_msg(robot.names, robot.home, zeros + 1, zeros + 2,
                                  convert.seconds_to_time(3.5))
    data = bytearray(serialize_message(msg))
    data[17:20] = b"\xaa\xbb\xcc"  # the padding after the empty frame_id, garbage as rclpy's
    stamp, names, q, v, e = cdr.read_joint_state(bytes(data), robot.names)
    assert names is robot.names and stamp == 3.5
    assert np.array_equal(q, robot.home) and v[0] == 1.0 and e[-1] == 2.0
    swapped = (robot.names[1], robot.names[0]) + robot.names[2:]
    _, names, q2, _, _ = cdr.read_joint_state(bytes(data), swapped)
    assert names == robot.names and names is not swapped and np.array_equal(q2, q)
