"""config/data.yaml as dataclasses: validation thresholds and the training cache's settings."""
from __future__ import annotations

import os
from dataclasses import dataclass

from humanoid_manip import paths
from humanoid_manip.config import from_dict, load_yaml

DATA_YAML = "data.yaml"


@dataclass(frozen=True)
class ValidateConfig:
    """What `data validate` flags; each field is documented in config/data.yaml."""

    idle_grid_s: float = 0.1
    idle_position_tol_rad: float = 0.002
    idle_torque_tol_nm: float = 0.05
    idle_max_s: float = 20.0
    edge_idle_s: float = 1.0
    keep_idle_s: float = 0.2
    settle_s: float = 0.3
    gap_factor: float = 3.0
    drop_factor: float = 1.5
    saturation_margin: float = 0.98
    saturation_warn_fraction: float = 0.05
    saturation_error_fraction: float = 0.25
    replay: bool = True
    replay_progress_tol: float = 0.05
    replay_position_tol_rad: float = 0.02
    replay_image_tol: float = 8.0


@dataclass(frozen=True)
class CacheConfig:
    """How training samples are cut from an episode (config/data.yaml, `cache:`)."""

    sample_hz: float = 100.0


@dataclass(frozen=True)
class DataConfig:
    validate: ValidateConfig
    cache: CacheConfig


def load_data_config(path: str | os.PathLike | None = None) -> DataConfig:
    """config/data.yaml (or `path`); unknown keys fail loudly."""
    p = path if path is not None else paths.config_path(DATA_YAML)
    return from_dict(DataConfig, load_yaml(p), str(p))
