"""The deadman switch: teleop commands motion only while a fresh `true` heartbeat is held."""
from __future__ import annotations


class Deadman:
    """Engaged while the last heartbeat was `true` and is younger than `timeout_s`.

    A device publishes /teleop/deadman at its own rate (a pedal held, a pinch held, a key
    toggled); losing the stream (a crashed driver, a cut cable) disengages like a release does.
    Times are seconds on one clock (the node's: simulated time under use_sim_time).
    """

    def __init__(self, timeout_s: float):
        if timeout_s <= 0:
            raise ValueError(f"deadman timeout must be positive, got {timeout_s}")
        self.timeout_s = float(timeout_s)
        self._last_true: float | None = None
        self._released = True

    def heartbeat(self, value: bool, t: float) -> None:
        """A heartbeat received at time t; false releases at once."""
        if value:
            self._last_true = t
            self._released = False
        else:
            self._released = True

    def engaged(self, t: float) -> bool:
        if self._released or self._last_true is None:
            return False
        return 0.0 <= t - self._last_true <= self.timeout_s  # a clock going back releases

    def reset(self) -> None:
        self._last_true = None
        self._released = True
