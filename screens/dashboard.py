"""Live training dashboard (placeholder until the full screen lands)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static


class DashboardScreen(Screen):
    """Shows a running training job."""

    def compose(self) -> ComposeResult:
        yield Static("No training run yet — press 2 to set up training.", id="dash-empty")
        yield Footer()

    @property
    def is_running(self) -> bool:
        return False

    def start_run(self, profile, output_dir=None, resume_from=None) -> None:
        raise NotImplementedError("dashboard is being built")

    def cancel_run(self) -> None:
        return None
