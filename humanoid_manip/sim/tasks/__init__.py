"""Household tasks, one module each; importing this package registers every one of them."""
import importlib
import pkgutil

from humanoid_manip.sim.tasks.base import (
    TASKS,
    Expert,
    Task,
    TaskConfig,
    make_task,
    register,
    task_names,
)

for _m in pkgutil.iter_modules(__path__):
    if _m.name != "base" and not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["TASKS", "Expert", "Task", "TaskConfig", "make_task", "register", "task_names"]
