"""The viewer's layout (a Rerun blueprint): the robot in 3D and the three cameras on the left;
on the right one tab per joint quantity with a plot per joint group, and a safety/task tab."""
from __future__ import annotations

import rerun.blueprint as rrb

from humanoid_manip.viz.rerun_log import QUANTITIES, camera_path, series_path

BACKGROUND_3D = (28, 30, 38)  # the 3D view's background: dark, so the grey shell stands out
EYE = {"position": (1.6, -1.1, 1.6), "look_target": (0.25, 0.0, 1.0)}  # front-left, chest high


def blueprint(robot, teleop: bool = False) -> rrb.Blueprint:
    """teleop=True adds the deadman plot to the safety tab (the live teleop view)."""
    cameras = rrb.Horizontal(*[rrb.Spatial2DView(origin=camera_path(robot, c), name=c)
                               for c in robot.camera_names])
    view3d = rrb.Spatial3DView(origin="world", name="robot", background=BACKGROUND_3D,
                               eye_controls=rrb.EyeControls3D(**EYE))
    left = rrb.Vertical(view3d, cameras, row_shares=[3, 1])
    tabs = []
    for quantity, (label, unit) in QUANTITIES.items():
        tabs.append(rrb.Vertical(
            *[rrb.TimeSeriesView(origin=series_path(quantity, g), name=f"{g} {label} ({unit})",
                                 plot_legend=rrb.PlotLegend(corner="RightTop"))
              for g in robot.groups], name=label))
    safety = [rrb.TimeSeriesView(origin="safety/interventions",
                                 name="safety interventions (row = type, see events)"),
              rrb.TimeSeriesView(origin="task", name="task progress (0-1)"),
              rrb.TextLogView(origin="/", contents=["safety/events", "task/outcome"],
                              name="safety events and outcome")]
    if teleop:
        safety.insert(2, rrb.TimeSeriesView(origin="teleop", name="deadman (1 = held)"))
    tabs.append(rrb.Vertical(*safety, name="safety and task"))
    return rrb.Blueprint(rrb.Horizontal(left, rrb.Tabs(*tabs), column_shares=[3, 2]),
                         rrb.BlueprintPanel(state="collapsed"),
                         rrb.SelectionPanel(state="collapsed"),
                         rrb.TimePanel(state="collapsed"))
