"""The MuJoCo world without ROS: the robot plus a household task, stepped from torques."""
from humanoid_manip.sim.core import (
    CLOCK_START_S,
    JointState,
    RenderError,
    Simulation,
    SimulationError,
    TorqueError,
    ros_time,
)
from humanoid_manip.sim.tasks import TASKS, Expert, Task, TaskConfig, make_task, task_names

__all__ = ["CLOCK_START_S", "TASKS", "Expert", "JointState", "RenderError", "Simulation",
           "SimulationError", "Task", "TaskConfig", "TorqueError", "make_task", "ros_time",
           "task_names"]
