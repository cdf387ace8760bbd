"""Past runs history (placeholder until the full screen lands)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static


class RunsScreen(Screen):
    """Lists past training runs."""

    def compose(self) -> ComposeResult:
        yield Static("Runs", id="runs-title")
        yield Footer()
