"""Headless output: progress bars and one-line messages for the CLI.

Writes never raise: when the terminal goes away (SSH drop) a headless run keeps training and
simply stops printing; everything still lands in the run folder's log and metrics.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import contextmanager

from whisper_tui.training.events import (CheckpointSaved, EvalEvent, LogEvent, Paused, Resumed, RunCancelled, RunFailed,
                              RunFinished, RunStarted, StepEvent, TrainingEvent)


def say(text: str = "", *, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    try:
        stream.write(text + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


LOG_EVERY_S = 5.0  # without a terminal: one progress line this often (and the last one)
_TIMES = {True: " [{elapsed}<{remaining}]", False: " [{elapsed}]"}


class ProgressBar:
    """Every command's progress: a tqdm bar on a terminal, a plain line every few seconds otherwise (logs, CI).

    The bar goes to stderr, so stdout keeps only results (`transcribe --json | jq` works while the bar
    runs). `update(done, extra)` sets the count (not an increment: the engine's callbacks report how
    far they are) and shows `extra` after it; `remaining=False` leaves tqdm's time-left estimate out
    for callers that put a better one in `extra` (training's includes its evaluations).
    """

    def __init__(self, label: str, total: int, stream=None, *, remaining: bool = True):
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.remaining = remaining
        self._total = max(1, total)
        self._last = 0.0
        self._bar = None  # the tqdm bar, made at the first update so its rate starts from there

    @property
    def total(self) -> int:
        return self._total

    @total.setter
    def total(self, value: int) -> None:
        self._total = max(1, value)
        if self._bar is not None:
            self._bar.total = self._total

    def __call__(self, done: int, total: int | None = None) -> None:
        """The engine's `on_progress(done, total)` callbacks take the bar itself."""
        self.update(done, total=total)

    def update(self, done: int, extra: str = "", *, total: int | None = None) -> None:
        if total is not None and total != self._total:
            self.total = total
        try:
            if self.tty:
                self._draw(done, extra)
                return
            now = time.perf_counter()
            if now - self._last < LOG_EVERY_S and done < self._total:
                return
            self._last = now
            self.stream.write(f"{self.label} {done}/{self._total} {extra}".rstrip() + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away: keep working, stop printing
            pass

    def _draw(self, done: int, extra: str) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=self._total, initial=done, desc=self.label, file=self.stream, leave=True,
                             dynamic_ncols=True, bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}"
                             + _TIMES[self.remaining] + "{postfix}")
            self._bar.set_postfix_str(extra)
        else:
            self._bar.set_postfix_str(extra, refresh=False)
            self._bar.update(done - self._bar.n)
        if done >= self._total:  # finished: the next line of output starts below the bar
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            try:
                self._bar.close()
            except (OSError, ValueError):
                pass
            self._bar = None


def run_length(event: RunStarted) -> str:
    """'440 steps', or under a time budget 'at most 40 epochs (440 steps): the 5m budget decides how many'."""
    if not event.budget_s:
        return f"{event.total_steps} steps"
    from whisper_tui.training.budget import format_duration

    return (f"at most {event.epochs:g} epochs ({event.total_steps} steps): the {format_duration(event.budget_s)} "
            "time budget decides how many")


class TrainingPrinter:
    """Listener that renders training events for a headless run."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.bar: ProgressBar | None = None

    def __call__(self, event: TrainingEvent) -> None:
        if isinstance(event, StepEvent):
            if self.bar is None:
                self.bar = ProgressBar("train", event.total_steps, remaining=False)
            self.bar.total = max(1, event.total_steps)
            loss = f"loss {event.loss:.3f}" if event.loss == event.loss else "loss  ..."
            epochs = f"/{event.total_epochs:g}" if event.total_epochs else ""  # under a budget: the epochs that fit
            self.bar.update(event.step, f"ep {event.epoch:.2f}{epochs} {loss} {event.samples_per_second:.1f} "
                                        f"samples/s ETA {_fmt_eta(event.eta_seconds)}")
            return
        self._break_bar()
        if isinstance(event, RunStarted):
            say(f"training {event.strategy} on {event.device} ({event.precision}): {event.train_clips} train / "
                f"{event.test_clips} test clips, {run_length(event)}, "
                f"{event.trainable_params:,} trainable params", err=True)
        elif isinstance(event, LogEvent):
            if not self.quiet or event.level != "info":
                say(("warning: " if event.level == "warning" else "") + event.message, err=True)
        elif isinstance(event, EvalEvent):
            tag = " (best)" if event.is_best else ""
            say(f"eval @ step {event.step} (epoch {event.epoch:.2f}): WER {event.wer:.3f} CER {event.cer:.3f}{tag}",
                err=True)
        elif isinstance(event, CheckpointSaved) and not self.quiet:
            say(f"saved {event.reason} checkpoint: {event.path}", err=True)
        elif isinstance(event, (Paused, Resumed)):
            say(f"{type(event).__name__.lower()} at step {event.step}", err=True)
        elif isinstance(event, RunFinished):
            say(f"done in {event.duration_s:.0f}s. Final model: {event.final_dir}"
                + (f"  Best: {event.best_dir} (WER {event.best_wer:.3f})" if event.best_dir else ""), err=True)
        elif isinstance(event, RunCancelled):
            say(f"cancelled at step {event.step}; checkpoint: {event.checkpoint_dir or 'none yet'}", err=True)
        elif isinstance(event, RunFailed):
            say(f"error: {event.reason}" + (f" — {event.hint}" if event.hint else ""), err=True)

    def _break_bar(self) -> None:
        if self.bar is not None and self.bar.tty:
            self.bar.close()
            self.bar = None


@contextmanager
def stop_on_ctrl_c(message: str):
    """Yield an Event the first Ctrl+C sets (saying `message`); a second Ctrl+C stops at once (KeyboardInterrupt).

    For commands that keep what is done and continue on a rerun (label, adapt-window): the work checks the
    event between files or steps. Off the main thread (a test calling the command) signals are left alone.
    """
    stop = threading.Event()

    def on_sigint(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        say("\n" + message + " (Ctrl+C again to stop at once)", err=True)
        stop.set()

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield stop
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
