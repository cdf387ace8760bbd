"""Typed messages that carry engine results from worker threads to widgets.

Workers never touch widgets; they `post_message` one of these (thread-safe) and the handler
(`on_<snake_case_name>`) updates the UI on the main thread. Dataclasses keep the payload explicit.
Engine objects are typed loosely (`object`) where importing their module here would pull the engine's
heavier parts into the app's first paint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from whisper_tui.errors import WhisperTuiError
from whisper_tui.system.sysmon import SystemStats

if TYPE_CHECKING:  # annotations only: numpy is not loaded for the first paint
    import numpy as np


@dataclass
class EngineFailed(Message):
    """An engine call raised a user-fixable error; `action` says what was being done ("validate dataset")."""

    action: str
    error: WhisperTuiError


@dataclass
class DatasetValidated(Message):
    """`whisper_tui.data.dataset.validate_dataset(folder)` finished; `report` is its DatasetReport."""

    folder: Path
    report: object



@dataclass
class SampleDataReady(Message):
    folder: Path


@dataclass
class WaveformLoaded(Message):
    """A clip decoded for the waveform view (mono, at its own sample rate)."""

    path: Path
    wave: np.ndarray
    sample_rate: int


@dataclass
class SystemStatsRead(Message):
    """One `whisper_tui.system.sysmon.snapshot()`, e.g. to compare a memory estimate with what the machine has."""

    stats: SystemStats


@dataclass
class SampleDataProgress(Message):
    """`make_sample_dataset`'s on_progress: `done` of `total` clips rendered."""

    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SampleDataProgress)  # a backlog collapses to the latest count


@dataclass
class ReviewSheetRead(Message):
    """metadata.csv opened for review (`whisper_tui.data.review.ReviewSheet`), or why it cannot be edited."""

    folder: Path
    sheet: object | None
    error: WhisperTuiError | None = None


@dataclass
class LabelProgressed(Message):
    """`whisper_tui.labelling.label_folder`'s on_progress (a LabelProgress)."""

    progress: object

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LabelProgressed)


@dataclass
class LabelFinished(Message):
    """`label_folder` returned (also after a cancel: what was done is kept); `report` is its LabelReport."""

    report: object
    cancelled: bool = False
