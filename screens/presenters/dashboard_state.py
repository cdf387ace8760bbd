"""What the dashboard knows about the current run, built only from training events.

Kept apart from the widgets so the bookkeeping (phase, curves, best eval, end summary) is plain
Python: the screen feeds every event to `RunState.apply` and redraws from the state on a timer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from whisper_tui.training.events import (
    CheckpointSaved,
    EvalEvent,
    EvalFailed,
    LogEvent,
    Paused,
    Resumed,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
    StepEvent,
    TrainingEvent,
)

ACTIVE_PHASES = ("starting", "running", "pausing", "paused", "cancelling")
ENDED_PHASES = ("finished", "failed", "cancelled")


@dataclass
class RunState:
    phase: str = "idle"  # idle | starting | running | pausing | paused | cancelling | finished | failed | cancelled
    started: RunStarted | None = None
    last_step: StepEvent | None = None
    steps: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    learning_rates: list[float] = field(default_factory=list)
    evals: list[EvalEvent] = field(default_factory=list)
    eval_failed: EvalFailed | None = None  # the latest evaluation that raised (its count says how many did)
    last_checkpoint: CheckpointSaved | None = None
    finished: RunFinished | None = None
    failed: RunFailed | None = None
    cancelled: RunCancelled | None = None
    base_wer: float | None = None
    base_keep_wer: float | None = None  # the keep set (general speech) before training
    run_dir: Path | None = None
    version: int = 0  # bumped on every change, so redraws can skip when nothing happened

    @property
    def is_active(self) -> bool:
        return self.phase in ACTIVE_PHASES

    @property
    def has_ended(self) -> bool:
        return self.phase in ENDED_PHASES

    @property
    def best_eval(self) -> EvalEvent | None:
        """The evaluation the job saved as best (the keep rule may pass over a lower WER), else the lowest WER."""
        trained = [e for e in self.evals if e.step > 0] or self.evals
        marked = [e for e in trained if e.is_best]
        if marked:
            return marked[-1]
        return min(trained, key=lambda e: e.wer) if trained else None

    @property
    def has_keep(self) -> bool:
        """Whether the run measures general speech (the keep set) at all."""
        return self.base_keep_wer is not None or any(e.keep_wer is not None for e in self.evals)

    @property
    def total_steps(self) -> int:
        if self.last_step is not None:
            return self.last_step.total_steps
        return self.started.total_steps if self.started else 0

    @property
    def eval_failed_text(self) -> str:
        """'2 evaluations failed (latest: the final evaluation, TypeError: …)', or '' when none did."""
        failed = self.eval_failed
        if failed is None:
            return ""
        count = f"{failed.count} evaluations failed" if failed.count > 1 else "an evaluation failed"
        return f"{count} (latest: {failed.during}, {failed.reason})"

    @property
    def model_dir(self) -> Path | None:
        """The model to transcribe with: the best-WER one if saved, else the final one."""
        if self.finished is None:
            return None
        return self.finished.best_dir or self.finished.final_dir

    def apply(self, event: TrainingEvent) -> None:
        self.version += 1
        if isinstance(event, StepEvent):
            self.last_step = event
            self.steps.append(event.step)
            self.losses.append(event.loss)
            self.learning_rates.append(event.learning_rate)
            if self.phase == "starting":
                self.phase = "running"
        elif isinstance(event, EvalEvent):
            self.evals.append(event)
            if event.step == 0 and self.base_wer is None:
                self.base_wer = event.wer  # an eval before any training step scores the base model
            if event.step == 0 and self.base_keep_wer is None and event.keep_wer is not None:
                self.base_keep_wer = event.keep_wer
        elif isinstance(event, EvalFailed):
            self.eval_failed = event
        elif isinstance(event, RunStarted):
            self.started = event
            self.run_dir = event.run_dir
            if self.phase in ("idle", "starting"):
                self.phase = "running"
        elif isinstance(event, Paused):
            self.phase = "paused"
        elif isinstance(event, Resumed):
            if self.phase in ("paused", "pausing"):
                self.phase = "running"
        elif isinstance(event, CheckpointSaved):
            self.last_checkpoint = event
        elif isinstance(event, RunFinished):
            self.phase = "finished"
            self.finished = event
            self.run_dir = event.run_dir
            base = event.metrics.get("base_wer") if isinstance(event.metrics, dict) else None
            if isinstance(base, (int, float)):
                self.base_wer = float(base)
            base_keep = event.metrics.get("base_keep_wer") if isinstance(event.metrics, dict) else None
            if isinstance(base_keep, (int, float)):
                self.base_keep_wer = float(base_keep)
        elif isinstance(event, RunFailed):
            self.phase = "failed"
            self.failed = event
        elif isinstance(event, RunCancelled):
            self.phase = "cancelled"
            self.cancelled = event
        elif isinstance(event, LogEvent):
            self.version -= 1  # log lines go straight to the log panel; nothing to redraw

    def mark(self, phase: str) -> None:
        """A phase the user asked for (pausing/cancelling) until the job confirms it with an event."""
        self.phase = phase
        self.version += 1
