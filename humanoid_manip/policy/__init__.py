"""The ONNX policy runtime and its I/O contract (no ROS here; nodes/policy_node.py wraps it)."""
from humanoid_manip.policy.config import PolicyConfig, load_policy_config
from humanoid_manip.policy.contract import (
    INPUTS,
    METADATA_KEYS,
    OUTPUTS,
    PolicyContract,
    PolicyContractError,
    contract_metadata,
)
from humanoid_manip.policy.runtime import PolicyRuntime, select_providers
from humanoid_manip.policy.stats import LatencyStats, TickMonitor

__all__ = ["INPUTS", "METADATA_KEYS", "OUTPUTS", "LatencyStats", "PolicyConfig",
           "PolicyContract", "PolicyContractError", "PolicyRuntime", "TickMonitor",
           "contract_metadata", "load_policy_config", "select_providers"]
