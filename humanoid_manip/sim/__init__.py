"""The MuJoCo world without ROS: the robot plus a household task, stepped from torques."""
from humanoid_manip.sim.core import (
    JointState,
    RenderError,
    Simulation,
    SimulationError,
    TorqueError,
)
from humanoid_manip.sim.tasks import TASKS, Expert, Task, TaskConfig, make_task, task_names

__all__ = ["TASKS", "Expert", "JointState", "RenderError", "Simulation", "SimulationError",
           "Task", "TaskConfig", "TorqueError", "make_task", "task_names"]
