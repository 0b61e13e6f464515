"""Runs one policy file with ONNX Runtime: provider choice, contract check, recurrent state."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.policy.contract import PolicyContract, PolicyContractError

CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"
BATCH_AXIS = "B"  # the symbolic batch axis of every input and output (learn/export.py, demo.py)


class ProviderError(HumanoidManipError):
    """The asked-for execution provider is not available in this ONNX Runtime."""


def select_providers(preference: str = "auto",
                     available: list[str] | None = None) -> tuple[list[str], str]:
    """Providers to ask ONNX Runtime for, most preferred first, and why."""
    import onnxruntime as ort

    available = list(ort.get_available_providers() if available is None else available)
    if preference == "cpu":
        return [CPU], "CPU (provider: cpu was asked for)"
    if CUDA in available:
        return [CUDA, CPU], "CUDA (ONNX Runtime has the CUDA execution provider)"
    if preference == "cuda":
        raise ProviderError(f"provider 'cuda' asked for, but this ONNX Runtime offers only "
                            f"{available}; install onnxruntime-gpu, or use provider auto/cpu")
    return [CPU], "CPU (this ONNX Runtime has no CUDA execution provider)"


def session_options(threads: int = 1, batch: int | None = 1):
    """The ONNX Runtime options a policy runs with: `threads` intra-op threads, one inter-op.

    `batch` fixes the file's symbolic batch axis (BATCH_AXIS) at load: the control loop runs
    one observation at a time, and with the axis known ONNX Runtime folds the graph's shape
    arithmetic (the GRU's gate splits, the cameras' reshapes) into constants, a fifth fewer
    nodes to run each tick. None leaves the axis free, for batched checks. All graph
    optimizations (ONNX Runtime's default) stay on: the NCHWc convolution layout they include
    was the fastest measured here (README, "Benchmark" under training).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if batch is not None:
        opts.add_free_dimension_override_by_name(BATCH_AXIS, batch)
    return opts


def lineage_warnings(lineage: dict, robot) -> list[str]:
    """Where the configuration baked into the policy's data differs from the one running now.

    Reads `lineage["config"]` ({"urdf": sha256, "robot.yaml": sha256, …}, as data/lineage.py
    records it) and the flat keys `urdf_sha256` / `robot_config_sha256`.
    """
    from humanoid_manip import paths
    from humanoid_manip.config import file_sha256

    recorded = dict(lineage.get("config") or {}) if isinstance(lineage.get("config"), dict) else {}
    for key, name in (("urdf_sha256", "urdf"), ("robot_config_sha256", "robot.yaml")):
        if isinstance(lineage.get(key), str):
            recorded.setdefault(name, lineage[key])
    running = {"urdf": robot.urdf_sha256, "robot.yaml": robot.config_sha256}
    out = []
    for name, then in sorted(recorded.items()):
        now = running.get(name)
        if now is None and name.endswith(".yaml") and paths.config_path(name).is_file():
            now = file_sha256(paths.config_path(name))
        if isinstance(then, str) and now is not None and then != now:
            out.append(f"{name} changed since the policy's data was recorded "
                       f"(recorded {then[:12]}, running {now[:12]})")
    return out


class PolicyRuntime:
    """One loaded policy for one robot: call step() each tick, reset() at each episode start."""

    def __init__(self, model: str | os.PathLike | bytes, robot, *, provider: str = "auto",
                 threads: int = 1, task: str = "", source: str | None = None):
        import onnxruntime as ort

        if isinstance(model, bytes):
            source = source or "policy (in memory)"
        else:
            path = Path(model)
            if not path.is_file():
                raise PolicyContractError(f"policy file not found: {path}")
            source, model = source or str(path), str(path)
        self.source = source
        providers, self.provider_reason = select_providers(provider)
        opts = session_options(threads, batch=1)  # step() feeds one observation
        opts.log_severity_level = 3  # CUDA-not-found chatter; we report the provider ourselves
        try:
            self.session = ort.InferenceSession(model, sess_options=opts, providers=providers)
        except Exception as exc:  # noqa: BLE001 - ORT raises its own untyped failures
            raise PolicyContractError(f"{source}: ONNX Runtime cannot load it: {exc}") from None
        self.provider = self.session.get_providers()[0]
        if providers[0] == CUDA and self.provider != CUDA:
            self.provider_reason = "CPU (the CUDA execution provider failed to load)"
        self.contract = PolicyContract.from_session(self.session, source)
        self.contract.check_robot(robot, source)
        self.warnings = lineage_warnings(self.contract.lineage, robot)
        c = self.contract
        self.task = task or c.task_names[0]
        self.task_id = c.task_index(self.task)
        self._images = np.zeros((1, len(c.camera_names), c.image_height, c.image_width, 3),
                                np.uint8)
        self._privileged = np.zeros((1, c.privileged_size), np.float32)
        self._proprio = np.zeros((1, 2 * len(c.joint_names)), np.float32)
        self._task = np.array([self.task_id], np.int64)
        self._state = np.zeros((1, c.state_size), np.float32)
        self.n_joints = len(c.joint_names)

    @classmethod
    def from_config(cls, cfg, robot) -> PolicyRuntime:
        """The file `cfg.model` names, or the built-in demo policy (cfg.demo) when it is empty."""
        from humanoid_manip import paths

        if cfg.model:
            runtime = cls(paths.resolve(cfg.model), robot, provider=cfg.provider,
                          threads=cfg.threads, task=cfg.task)
            if runtime.is_teacher:
                raise PolicyContractError(
                    f"{runtime.source} is a privileged-state teacher: it reads the simulator's "
                    f"object state, which no camera gives, so it runs in simulated evaluation "
                    f"and data collection only (humanoid-manip eval), not on the stack")
            return runtime
        from humanoid_manip.policy.demo import pd_policy

        d = cfg.demo
        model = pd_policy(robot, kp_scale=d.kp_scale, kd_scale=d.kd_scale, ki=d.ki,
                          gravity=d.gravity, tasks=(cfg.task or "hold",))
        return cls(model.SerializeToString(), robot, provider=cfg.provider,
                   threads=cfg.threads, task=cfg.task,
                   source="built-in demo policy (PD to home + gravity)")

    @property
    def camera_names(self) -> tuple[str, ...]:
        return self.contract.camera_names

    def set_task(self, task: str) -> None:
        self.task_id = self.contract.task_index(task)
        self.task = task
        self._task[0] = self.task_id

    def reset(self) -> None:
        """Clear the recurrent memory (a new episode starts)."""
        self._state[:] = 0.0

    @property
    def is_teacher(self) -> bool:
        """A privileged-state teacher: step() needs the simulator's object state, no images."""
        return self.contract.is_teacher

    def step(self, images: np.ndarray | Mapping[str, np.ndarray] | None, q: np.ndarray,
             dq: np.ndarray, privileged: np.ndarray | None = None) -> np.ndarray:
        """Torques (N·m, canonical order) for raw rgb8 images and canonical q, dq.

        `images` is [N_cams, H, W, 3] uint8 in the file's camera order, or a mapping camera
        name -> [H, W, 3]; a teacher takes `privileged` instead (sim.privileged_state(),
        zero-padded here to the file's size). The recurrent state advances only when the
        output is finite.
        """
        if self.is_teacher:
            return self._run({"privileged": self._pad(privileged)}, q, dq)
        if isinstance(images, Mapping):
            for i, name in enumerate(self.contract.camera_names):
                self._images[0, i] = images[name]
        else:
            self._images[0] = images
        return self._run({"images": self._images}, q, dq)

    def _pad(self, privileged: np.ndarray | None) -> np.ndarray:
        if privileged is None:
            raise PolicyContractError(f"{self.source} is a privileged-state teacher: it needs "
                                      f"the simulator's object state each tick (simulation "
                                      f"only; see humanoid-manip eval)")
        x = np.asarray(privileged, np.float32).reshape(-1)
        if len(x) > self.contract.privileged_size:
            raise PolicyContractError(f"{self.source}: {len(x)} privileged values, the file "
                                      f"takes at most {self.contract.privileged_size}")
        self._privileged[:] = 0.0
        self._privileged[0, :len(x)] = x
        return self._privileged

    def _run(self, observation: dict, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
        n = self.n_joints
        self._proprio[0, :n] = q
        self._proprio[0, n:] = dq
        torque, state = self.session.run(
            ["torque", "state_out"], {**observation, "proprio": self._proprio,
                                      "task": self._task, "state_in": self._state})
        if np.all(np.isfinite(torque)) and np.all(np.isfinite(state)):
            self._state[:] = state
        else:
            self.reset()
        return torque[0].astype(np.float64)
