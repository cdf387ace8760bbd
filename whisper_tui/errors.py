"""User-facing errors.

Every problem a user can fix (bad file, bad profile key, missing model) is raised as a
`WhisperTuiError` subclass carrying a one-line message that names the file/row/key and a
hint that says what to do. The CLI prints `str(err)` and exits non-zero; the TUI shows it in
a notification or on the field. Anything else is a bug and may show a traceback in logs only.
"""

from __future__ import annotations

from whisper_tui.exit_codes import EXIT_TRAINING, EXIT_USER


class WhisperTuiError(Exception):
    """Base class: `message` says what is wrong, `hint` says what to do about it."""

    exit_code = EXIT_USER

    def __init__(self, message: str, hint: str = "", *, where: str = "") -> None:
        self.message = message
        self.hint = hint
        self.where = where  # file, row or key the problem is about (for the TUI to highlight)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text = f"{text} — {self.hint}"
        return text


class AudioError(WhisperTuiError):
    """An audio file is missing, empty, corrupt or not audio."""


class DatasetError(WhisperTuiError):
    """A dataset folder or its metadata.csv cannot be used."""


class ProfileError(WhisperTuiError):
    """A training profile has a syntax error, an unknown key, a wrong type or an out-of-range value."""


class ModelError(WhisperTuiError):
    """A model name/path cannot be resolved or is not a Whisper model."""


class OfflineError(ModelError):
    """A Hub model was asked for while offline and it is not in the local cache."""


class TrainingError(WhisperTuiError):
    """Training failed for a reason the user can act on (out of memory, disk full, ...)."""

    exit_code = EXIT_TRAINING


class OutOfMemory(TrainingError):
    """CUDA OOM or MemoryError during training."""


class DiskFull(TrainingError):
    """Saving a checkpoint or model failed because the disk is full."""


class RunFolderError(WhisperTuiError):
    """An output/run folder is busy (another run holds it) or half written."""


class NotOurFolder(WhisperTuiError):
    """A folder that would be replaced was not written by whisper-tui (no marker), so it is left alone."""
