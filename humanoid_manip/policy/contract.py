"""The policy file contract (docs/DESIGN.md): tensor names, dtypes, shapes and metadata_props."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from humanoid_manip.errors import HumanoidManipError

CONTRACT_VERSION = "humanoid_manip.policy/1"

# name -> (ONNX Runtime type string, rank); the leading dimension is the batch.
INPUTS = {
    "images": ("tensor(uint8)", 5),  # [B, N_cams, H, W, 3], raw rgb8 pixels
    "proprio": ("tensor(float)", 2),  # [B, 2J]: positions (rad) then velocities (rad/s)
    "task": ("tensor(int64)", 1),  # [B]: index into task_names
    "state_in": ("tensor(float)", 2),  # [B, S]: recurrent memory
}
# A privileged-state teacher (simulation only): the task's object state instead of the pixels.
TEACHER_INPUTS = {
    "privileged": ("tensor(float)", 2),  # [B, P]: sim.privileged_state(), zero-padded to P
    "proprio": INPUTS["proprio"],
    "task": INPUTS["task"],
    "state_in": INPUTS["state_in"],
}
OUTPUTS = {
    "torque": ("tensor(float)", 2),  # [B, J] N·m, canonical joint order
    "state_out": ("tensor(float)", 2),  # [B, S]
}

# metadata_props keys; every value is a JSON string.
META_CONTRACT = "contract"
META_JOINTS = "joint_names"
META_CAMERAS = "camera_names"
META_IMAGE = "image_size"  # {"height": H, "width": W}
META_TASKS = "task_names"
META_RATE = "control_rate_hz"
META_LINEAGE = "lineage"
METADATA_KEYS = (META_CONTRACT, META_JOINTS, META_CAMERAS, META_IMAGE, META_TASKS, META_RATE,
                 META_LINEAGE)


class PolicyContractError(HumanoidManipError):
    """A policy file breaks the contract or was made for a different robot."""


def contract_metadata(joint_names, camera_names, image_hw: tuple[int, int], task_names,
                      control_rate_hz: float, lineage: dict | None = None) -> dict[str, str]:
    """The metadata_props an exporter writes (learn/ and the demo builder both call this)."""
    return {
        META_CONTRACT: json.dumps(CONTRACT_VERSION),
        META_JOINTS: json.dumps(list(joint_names)),
        META_CAMERAS: json.dumps(list(camera_names)),
        META_IMAGE: json.dumps({"height": int(image_hw[0]), "width": int(image_hw[1])}),
        META_TASKS: json.dumps(list(task_names)),
        META_RATE: json.dumps(float(control_rate_hz)),
        META_LINEAGE: json.dumps(lineage or {}, sort_keys=True),
    }


@dataclass(frozen=True)
class PolicyContract:
    """What a policy file declares about itself, read from its metadata_props and graph."""

    joint_names: tuple[str, ...]
    camera_names: tuple[str, ...]
    image_height: int
    image_width: int
    task_names: tuple[str, ...]
    control_rate_hz: float
    state_size: int
    lineage: dict[str, Any] = field(default_factory=dict)
    privileged_size: int = 0  # > 0: a teacher, fed the simulator's object state, no pixels

    @property
    def is_teacher(self) -> bool:
        return self.privileged_size > 0

    @classmethod
    def from_session(cls, session, source: str = "policy file") -> PolicyContract:
        """Read and check the contract of an onnxruntime.InferenceSession."""
        meta = dict(session.get_modelmeta().custom_metadata_map)
        inputs = {i.name: i for i in session.get_inputs()}
        outputs = {o.name: o for o in session.get_outputs()}
        return cls.from_parts(meta, {n: (i.type, i.shape) for n, i in inputs.items()},
                              {n: (o.type, o.shape) for n, o in outputs.items()}, source)

    @classmethod
    def from_parts(cls, meta: dict[str, str], inputs: dict, outputs: dict,
                   source: str) -> PolicyContract:
        """Check names/dtypes/ranks, parse metadata, then cross-check shapes against metadata."""
        teacher = "privileged" in inputs
        _check_io(inputs, TEACHER_INPUTS if teacher else INPUTS, "input", source)
        _check_io(outputs, OUTPUTS, "output", source)
        missing = [k for k in METADATA_KEYS if k not in meta]
        if missing:
            raise PolicyContractError(
                f"{source}: metadata_props lacks {missing}; a policy file must carry "
                f"{list(METADATA_KEYS)} (write them with humanoid_manip.policy.contract_metadata)")
        parsed = {}
        for k in METADATA_KEYS:
            try:
                parsed[k] = json.loads(meta[k])
            except json.JSONDecodeError:
                raise PolicyContractError(f"{source}: metadata {k!r} is not JSON: "
                                          f"{meta[k]!r}") from None
        if parsed[META_CONTRACT] != CONTRACT_VERSION:
            raise PolicyContractError(f"{source}: contract {parsed[META_CONTRACT]!r}, this "
                                      f"runtime reads {CONTRACT_VERSION!r}")
        for k in (META_JOINTS, META_CAMERAS, META_TASKS):
            v = parsed[k]
            if k == META_CAMERAS and teacher and v == []:
                continue  # a teacher sees no camera
            if not isinstance(v, list) or not v or not all(isinstance(s, str) for s in v):
                raise PolicyContractError(f"{source}: metadata {k!r} must be a non-empty list "
                                          f"of names, got {v!r}")
            if len(set(v)) != len(v):
                raise PolicyContractError(f"{source}: metadata {k!r} repeats a name: {v}")
        img = parsed[META_IMAGE]
        if (not isinstance(img, dict) or set(img) != {"height", "width"}
                or not all(isinstance(x, int) and x > 0 for x in img.values())):
            raise PolicyContractError(f"{source}: metadata 'image_size' must be "
                                      f'{{"height": H, "width": W}}, got {img!r}')
        rate = parsed[META_RATE]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0:
            raise PolicyContractError(f"{source}: control_rate_hz must be > 0, got {rate!r}")
        if not isinstance(parsed[META_LINEAGE], dict):
            raise PolicyContractError(f"{source}: lineage must be a JSON object")
        joints, cams = tuple(parsed[META_JOINTS]), tuple(parsed[META_CAMERAS])
        h, w = img["height"], img["width"]
        n_j = len(joints)
        privileged_size = 0
        if teacher:
            privileged_size = inputs["privileged"][1][1]
            if not isinstance(privileged_size, int) or privileged_size < 1:
                raise PolicyContractError(f"{source}: 'privileged' must have a fixed size, got "
                                          f"{inputs['privileged'][1]}")
        else:
            _check_dims(inputs, "images", {1: len(cams), 2: h, 3: w, 4: 3}, source)
        _check_dims(inputs, "proprio", {1: 2 * n_j}, source)
        _check_dims(outputs, "torque", {1: n_j}, source)
        s_in, s_out = inputs["state_in"][1][1], outputs["state_out"][1][1]
        if not isinstance(s_in, int):
            raise PolicyContractError(f"{source}: state_in's size must be fixed, got {s_in!r}")
        if isinstance(s_out, int) and s_out != s_in:
            raise PolicyContractError(f"{source}: state_out has size {s_out}, state_in {s_in}")
        return cls(joints, cams, h, w, tuple(parsed[META_TASKS]), float(rate), s_in,
                   parsed[META_LINEAGE], privileged_size)

    def check_robot(self, robot, source: str = "policy file") -> None:
        """Refuse a file made for another robot; the message names every mismatch."""
        problems = []
        if self.joint_names != tuple(robot.names):
            problems.append(_name_diff("joint", self.joint_names, robot.names))
        unknown = [c for c in self.camera_names if c not in robot.camera_names]
        if unknown:
            problems.append(f"cameras {unknown} are not on the robot (it has "
                            f"{list(robot.camera_names)})")
        if (self.image_height, self.image_width) != (robot.image.height, robot.image.width):
            problems.append(f"image size is {self.image_height}x{self.image_width} (HxW), the "
                            f"robot's cameras give {robot.image.height}x{robot.image.width} "
                            f"(config/robot.yaml image)")
        if problems:
            raise PolicyContractError(f"{source} does not fit this robot: " + "; ".join(problems))

    def task_index(self, task: str) -> int:
        """Index of a task name in the file's task list."""
        if task not in self.task_names:
            from humanoid_manip.errors import UnknownNameError

            raise UnknownNameError("task (for this policy file)", task, self.task_names)
        return self.task_names.index(task)


def _check_io(found: dict, want: dict, kind: str, source: str) -> None:
    missing = [n for n in want if n not in found]
    extra = [n for n in found if n not in want]
    if missing or extra:
        raise PolicyContractError(
            f"{source}: {kind}s are {sorted(found)}, the contract wants exactly {list(want)}"
            + (f" (missing {missing})" if missing else "")
            + (f" (unexpected {extra})" if extra else ""))
    for name, (dtype, rank) in want.items():
        got_type, shape = found[name]
        if got_type != dtype:
            raise PolicyContractError(f"{source}: {kind} {name!r} is {got_type}, must be {dtype}")
        if len(shape) != rank:
            raise PolicyContractError(f"{source}: {kind} {name!r} has shape {shape}, must have "
                                      f"rank {rank}")


def _check_dims(io: dict, name: str, want: dict[int, int], source: str) -> None:
    shape = io[name][1]
    for axis, size in want.items():
        got = shape[axis]
        if isinstance(got, int) and got != size:
            raise PolicyContractError(
                f"{source}: {name!r} has shape {shape}; axis {axis} is {got} but the metadata "
                f"implies {size}")


def _name_diff(kind: str, got, want) -> str:
    got, want = list(got), list(want)
    missing = [n for n in want if n not in got]
    extra = [n for n in got if n not in want]
    if missing or extra:
        parts = [f"{kind} names differ from the robot's ({len(got)} in the file, "
                 f"{len(want)} on the robot)"]
        if missing:
            parts.append(f"the file lacks {missing[:8]}{' …' if len(missing) > 8 else ''}")
        if extra:
            parts.append(f"the robot has no {extra[:8]}{' …' if len(extra) > 8 else ''}")
        return ", ".join(parts)
    i = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
    return (f"{kind} order differs from the robot's canonical order (config/robot.yaml groups) "
            f"at index {i}: the file has {got[i]!r}, the robot {want[i]!r}")
