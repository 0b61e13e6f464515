"""Latency percentiles and fixed-rate tick accounting, reported by the policy node and bench."""
from __future__ import annotations

from collections import deque

import numpy as np


class LatencyStats:
    """A sliding window of durations (seconds); percentiles in milliseconds."""

    def __init__(self, window: int = 2000):
        self._values: deque[float] = deque(maxlen=window)
        self.count = 0

    def add(self, seconds: float) -> None:
        self._values.append(float(seconds))
        self.count += 1

    def percentile_ms(self, q: float) -> float:
        if not self._values:
            return float("nan")
        return float(np.percentile(np.fromiter(self._values, float), q) * 1000.0)

    def summary(self) -> dict[str, float]:
        """p50, p99 and max in ms over the window, plus the all-time count."""
        if not self._values:
            return {"p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan"),
                    "count": self.count}
        a = np.fromiter(self._values, float) * 1000.0
        p50, p99 = np.percentile(a, [50, 99])
        return {"p50_ms": float(p50), "p99_ms": float(p99), "max_ms": float(a.max()),
                "count": self.count}


class TickMonitor:
    """Achieved rate of a fixed-rate loop and its deadline misses.

    A tick misses its deadline when its work took longer than one period, or when it started
    more than half a period after it was due (the loop fell behind or skipped a tick).
    """

    def __init__(self, rate_hz: float, window: int = 500):
        if rate_hz <= 0:
            raise ValueError(f"rate must be > 0 Hz, got {rate_hz}")
        self.rate_hz = float(rate_hz)
        self.period = 1.0 / self.rate_hz
        self._stamps: deque[float] = deque(maxlen=window)
        self.ticks = 0
        self.misses = 0

    def tick(self, now: float, work_s: float) -> bool:
        """Record a tick that started at `now` (loop clock, s); True when it missed."""
        late = bool(self._stamps) and (now - self._stamps[-1]) > 1.5 * self.period
        missed = late or work_s > self.period
        self._stamps.append(now)
        self.ticks += 1
        self.misses += int(missed)
        return missed

    def achieved_hz(self) -> float:
        """Mean rate over the window (nan until two ticks)."""
        if len(self._stamps) < 2 or self._stamps[-1] <= self._stamps[0]:
            return float("nan")
        return (len(self._stamps) - 1) / (self._stamps[-1] - self._stamps[0])

    def reset_window(self) -> None:
        """Forget tick times (after a pause), keeping the totals."""
        self._stamps.clear()
