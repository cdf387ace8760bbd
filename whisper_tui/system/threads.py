"""Pick torch's CPU thread count by measuring, because the best one depends on what else runs.

On an idle machine every core helps. When other programs keep the cores busy (a second
training, a test suite, a browser), torch's OpenMP threads wait for each other at every
operation, and one thread can be several times faster than two: measured on a 2-core machine
under load, a cached decoder training step ran 5.5 samples/s with 1 thread and 1.5-4.8 with 2.
The tuner times a few steps with each candidate, keeps the fastest, and checks again later
(less often while the choice keeps winning), so a run adapts when the load comes or goes.
"""

from __future__ import annotations

import os
import statistics
import time

FIRST_HOLD = 24
MAX_HOLD = 400


def thread_candidates(available: int | None = None) -> list[int]:
    n = int(available or _torch_threads())
    if n <= 1:
        return [1]
    options = [n, 1]
    if n >= 4:
        options.insert(1, n // 2)
    return options


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _set_threads(n: int) -> None:
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


class ThreadTuner:
    """Call `before()` and `after()` around each unit of work (a training step, a batch).

    `apply(n)` switches the thread count (torch's by default); a runtime whose threads are fixed
    per instance (CTranslate2) passes a no-op and runs the work on the instance for `current`.
    """

    def __init__(self, candidates: list[int] | None = None, probe_steps: int = 3, hold_steps: int = FIRST_HOLD,
                 apply=None):
        self.apply = apply or _set_threads
        self.candidates = list(candidates or thread_candidates())
        self.probe_steps = probe_steps
        self.first_hold = hold_steps
        self.hold = hold_steps
        self.choice = self.candidates[0]
        self.history: list[tuple[int, float]] = []  # (threads, median step seconds) of each probe, for logs/tests
        self._plan: list[int] = []
        self._times: dict[int, list[float]] = {}
        self._current = self.choice
        self._t0: float | None = None
        self._held = 0
        self._start_probe()

    @property
    def current(self) -> int:
        """The thread count the work between `before()` and `after()` should use."""
        return self._current

    @property
    def active(self) -> bool:
        return len(self.candidates) > 1

    def _start_probe(self) -> None:
        # one extra step per candidate: the first after a switch warms caches and is not counted
        self._plan = [n for n in self.candidates for _ in range(self.probe_steps + 1)] if self.active else []
        self._times = {n: [] for n in self.candidates}
        self._skip_next = True

    def before(self) -> None:
        if self._plan:
            n = self._plan[0]
            if n != self._current:
                self._skip_next = True
            self._current = n
        else:
            self._current = self.choice
        self.apply(self._current)
        self._t0 = time.perf_counter()

    def after(self) -> None:
        if self._t0 is None:
            return
        elapsed = time.perf_counter() - self._t0
        self._t0 = None
        if not self._plan:
            self._held += 1
            if self.active and self._held >= self.hold:
                self._held = 0
                self._start_probe()
            return
        self._plan.pop(0)
        if self._skip_next:
            self._skip_next = False
        else:
            self._times[self._current].append(elapsed)
        if not self._plan:
            self._decide()

    def _decide(self) -> None:
        medians = {n: statistics.median(ts) for n, ts in self._times.items() if ts}
        if not medians:
            return
        best = min(medians, key=medians.get)
        self.history.append((best, medians[best]))
        self.hold = min(MAX_HOLD, self.hold * 2) if best == self.choice else self.first_hold
        self.choice = best
        self.apply(best)


def tuning_enabled(device: str) -> bool:
    """CPU only, and not when the user pinned the thread count (OMP_NUM_THREADS / WHISPER_TUI_THREADS)."""
    if device != "cpu":
        return False
    return not (os.environ.get("OMP_NUM_THREADS") or os.environ.get("WHISPER_TUI_THREADS"))
