"""The operator's console: one status line for a live teleop session, and plain messages for
what the operator must act on (the monitor refusing to arm, a stop), with no ROS in it.

The keyboard driver fills a SessionView from its device and from what the stack says
(/diagnostics, /safety/events, /episode/start, the recorder's answer) and redraws the line.
"""
from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass

STOPPED_MODES = ("STOPPING", "STOPPED", "FAULT")
KEY_RESET = "c"  # the keyboard device's key that resets the safety monitor after a stop


@dataclass
class SessionView:
    """What the operator needs at a glance; None = not heard yet."""

    side: str = "right"  # the hand the keys move
    posture: str = "open"  # that hand's posture (open, fist, pinch)
    palm: tuple[float, float, float] | None = None  # that palm's target, world frame (m)
    deadman: bool = False
    mode: str | None = None  # the safety monitor's mode
    armed: bool | None = None  # the monitor is enabled (the teleop path reaches the robot)
    episode: int | None = None
    episode_time: float | None = None  # s since the episode's reset (sim time)
    progress: float | None = None  # the referee's, so far
    success: bool | None = None  # the referee's, so far
    label: bool | None = None  # the operator's outcome mark (y / n)
    recording: bool | None = None


def _yes_no(v: bool | None, yes: str, no: str, unknown: str = "?") -> str:
    return unknown if v is None else (yes if v else no)


def status_line(v: SessionView) -> str:
    """One line: arming, deadman, hand, posture, palm target, episode time, outcome so far."""
    if v.mode in STOPPED_MODES:
        arm = f"{v.mode}: press {KEY_RESET}, then e"
    elif v.armed:
        arm = f"ARMED {v.mode or ''}".rstrip()
    else:
        arm = "not armed (e)" if v.mode is not None else "monitor ?"
    palm = ("palm ?" if v.palm is None else
            "palm " + " ".join(f"{x:+.3f}" for x in v.palm))
    t = "t ?" if v.episode_time is None else f"t {v.episode_time:5.1f} s"
    if v.episode is not None:
        t = f"ep {v.episode} {t}"
    referee = ("referee ?" if v.progress is None else
               f"referee {_yes_no(v.success, 'SUCCESS', 'progress')} {v.progress:.2f}")
    label = "marked " + _yes_no(v.label, "success", "failure", "-")
    parts = [arm, "DEADMAN HELD" if v.deadman else "deadman off", f"{v.side} hand {v.posture}",
             palm, t, referee, label]
    if v.recording is False:
        parts.append("not recording")
    return " | ".join(parts)


def fit(line: str, width: int) -> str:
    """The line cut to the terminal's width (a status line must never wrap)."""
    return line if len(line) <= width else line[:max(0, width - 1)] + "…"


def refusal(message: str) -> str:
    """The safety monitor's answer to an arm request it refused, and what the operator can do."""
    if message.startswith("no joint states"):
        hint = "the simulation has not published a state yet; press e again in a moment"
    elif message.startswith("mode is"):
        hint = f"press {KEY_RESET} to reset the monitor, then e"
    else:
        hint = "see the node log for the monitor's state"
    return f"the safety monitor refused to arm: {message} ({hint})"


def reset_answer(ok: bool, message: str) -> str:
    """The safety monitor's answer to a reset request."""
    if ok:
        return f"safety monitor: {message}; press e to arm"
    return f"the safety monitor refused to reset: {message}"


def mode_change(event: dict) -> str | None:
    """A /safety/events mode change the operator must see (a stop or fault), else None."""
    if event.get("type") != "mode":
        return None
    to = (event.get("values") or {}).get("to")
    if to not in STOPPED_MODES:
        return None
    return f"safety monitor {event.get('reason', to)}: press {KEY_RESET} to reset, then e"


class Console:
    """The terminal: each message on a line of its own, the status line redrawn in place under
    them; on a pipe (not a terminal) the messages only."""

    def __init__(self, out=None, tty: bool | None = None):
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.line = ""

    def _fit(self, line: str) -> str:
        return fit(line, shutil.get_terminal_size((120, 24)).columns - 1)

    def message(self, text: str) -> None:
        if self.tty:
            self.out.write(f"\r\033[K{text}\n{self._fit(self.line)}")
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def status(self, line: str) -> None:
        self.line = line
        if self.tty:
            self.out.write(f"\r{self._fit(line)}\033[K")
            self.out.flush()

    def close(self) -> None:
        if self.tty and self.line:
            self.out.write("\n")
            self.out.flush()
