"""Typed events a training job sends to its listeners (CLI progress bar, TUI dashboard, tests).

Listeners are plain callables `listener(event)`; they are called from the training thread, so a
UI must hand the event over to its own thread (Textual: `post_message`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class TrainingEvent:
    pass


@dataclass(frozen=True)
class RunStarted(TrainingEvent):
    run_dir: Path
    total_steps: int
    epochs: float
    train_clips: int
    test_clips: int
    strategy: str
    trainable_params: int
    total_params: int
    device: str
    precision: str
    resumed_from: Path | None = None
    budget_s: float = 0.0  # training.budget_s: total_steps and epochs are then the cap, the budget decides


@dataclass(frozen=True)
class StepEvent(TrainingEvent):
    step: int
    total_steps: int
    epoch: float
    loss: float
    learning_rate: float
    samples_per_second: float
    eta_seconds: float | None
    total_epochs: float = 0.0  # epochs the run goes to: under a time budget those that fit (0 = unknown)


@dataclass(frozen=True)
class EvalEvent(TrainingEvent):
    step: int
    epoch: float
    wer: float
    cer: float
    eval_loss: float | None = None
    is_best: bool = False
    # the keep set (general speech, keep_set.py), None when there is none
    keep_wer: float | None = None
    keep_cer: float | None = None
    keep_within: bool = True  # keep_wer is within training.keep_tolerance of the base model's
    keep_synthetic_wer: float | None = None  # the keep set's eSpeak sentences: a second line, never the rule's


@dataclass(frozen=True)
class EvalFailed(TrainingEvent):
    """An evaluation raised (generating, scoring): no figures for it, and the run goes on (issue 24)."""

    step: int
    reason: str  # "TypeError: 'NoneType' object is not subscriptable"
    during: str  # what was evaluated: "the test set at step 8", "the final evaluation", ...
    count: int = 1  # evaluations of this run that failed so far


@dataclass(frozen=True)
class LogEvent(TrainingEvent):
    message: str
    level: str = "info"  # "info" | "warning" | "error"


@dataclass(frozen=True)
class CheckpointSaved(TrainingEvent):
    path: Path
    step: int
    reason: str = "periodic"  # "periodic" | "best" | "cancel" | "final"


@dataclass(frozen=True)
class Paused(TrainingEvent):
    step: int


@dataclass(frozen=True)
class Resumed(TrainingEvent):
    step: int


@dataclass(frozen=True)
class RunFinished(TrainingEvent):
    run_dir: Path
    final_dir: Path
    best_dir: Path | None
    best_wer: float | None
    duration_s: float
    # base_wer, best_wer, best_step, final_wer, train/test/keep_clips, steps; keep set: base_keep_wer,
    # best_keep_wer, final_keep_wer, keep_tolerance, best_within_tolerance, keep_summary (text), keep_over
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RunFailed(TrainingEvent):
    reason: str
    hint: str = ""
    error_type: str = ""


@dataclass(frozen=True)
class RunCancelled(TrainingEvent):
    checkpoint_dir: Path | None
    step: int
