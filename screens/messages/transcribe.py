"""Messages from the transcription worker thread to the Transcribe console."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message


class TranscribeStatus(Message):
    """A line for the status bar ("loading model…", "transcribing 4/12 with …")."""

    def __init__(self, job: int, text: str) -> None:
        super().__init__()
        self.job = job
        self.text = text


class TranscribeResult(Message):
    """One file done by every model of the run: {"base" (tiny.en in compare mode) | "model": Transcription}."""

    def __init__(self, job: int, results: dict) -> None:
        super().__init__()
        self.job = job
        self.results = results


class TranscribeFinished(Message):
    def __init__(self, job: int, stopped: bool = False) -> None:
        super().__init__()
        self.job = job
        self.stopped = stopped


class TranscribeFiles(Message):
    """The files about to be transcribed and their references (read in the worker: folders can be big)."""

    def __init__(self, job: int, files: list[Path], references: dict[Path, str]) -> None:
        super().__init__()
        self.job = job
        self.files = files
        self.references = references


class TranscribeLoaded(Message):
    """Every model of the run is loaded: {role: what it runs on ("CTranslate2 int8", "torch")}, for the results."""

    def __init__(self, job: int, engines: dict[str, str], ran_with: str = "") -> None:
        super().__init__()
        self.job = job
        self.engines = engines
        self.ran_with = ran_with  # the done line's "with ...": each backend once (presenters.transcribe_backend)
