"""Headless output: progress bars and one-line messages for the CLI.

Writes never raise: when the terminal goes away (SSH drop) a headless run keeps training and
simply stops printing; everything still lands in the run folder's log and metrics.
"""

from __future__ import annotations

import sys
import time

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


class ProgressBar:
    """A single-line bar on a TTY; a line every few seconds otherwise (logs, CI)."""

    def __init__(self, label: str, total: int, stream=None, width: int = 28):
        self.label = label
        self.total = max(1, total)
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self.started = time.perf_counter()

    def update(self, done: int, extra: str = "") -> None:
        now = time.perf_counter()
        final = done >= self.total
        if not self.tty and not final and now - self._last < 5:
            return
        self._last = now
        frac = min(1.0, done / self.total)
        fill = int(frac * self.width)
        bar = "█" * fill + "░" * (self.width - fill)
        line = f"{self.label} {bar} {done}/{self.total} {extra}".rstrip()
        try:
            if self.tty:
                self.stream.write("\r\x1b[2K" + line + ("\n" if final else ""))
            else:
                self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        if self.tty:
            try:
                self.stream.write("\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass


class TrainingPrinter:
    """Listener that renders training events for a headless run."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.bar: ProgressBar | None = None

    def __call__(self, event: TrainingEvent) -> None:
        if isinstance(event, StepEvent):
            if self.bar is None:
                self.bar = ProgressBar("train", event.total_steps)
            self.bar.total = max(1, event.total_steps)
            loss = f"loss {event.loss:.3f}" if event.loss == event.loss else "loss  ..."
            self.bar.update(event.step, f"ep {event.epoch:.2f} {loss} {event.samples_per_second:.1f} samples/s "
                                        f"ETA {_fmt_eta(event.eta_seconds)}")
            return
        self._break_bar()
        if isinstance(event, RunStarted):
            say(f"training {event.strategy} on {event.device} ({event.precision}): {event.train_clips} train / "
                f"{event.test_clips} test clips, {event.total_steps} steps, "
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
