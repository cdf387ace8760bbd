"""Transcribe console (placeholder until the full screen lands)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static


class TranscribeScreen(Screen):
    """Transcribe files with the bundled or a fine-tuned model."""

    def compose(self) -> ComposeResult:
        yield Static("Transcribe console", id="tx-title")
        yield Footer()

    def select_model(self, path) -> None:
        self.model_path = str(path)
