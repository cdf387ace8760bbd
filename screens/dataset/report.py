"""The full validation report of a dataset folder as text, in a modal (`v` in the Dataset screen)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class ReportScreen(ModalScreen[None]):
    """The full validation report as text (what `whisper-tui validate` prints)."""

    BINDINGS = [Binding("escape,q,v", "close", "Close", id="report.close")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="report-box"):
            yield Static(Text("Validation report — escape closes", style="bold"), id="report-title")
            with VerticalScroll(id="report-body"):
                yield Static(Text(self.text), id="report-text")

    def on_mount(self) -> None:
        self.query_one("#report-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
