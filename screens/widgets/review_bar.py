"""The review progress line of the Dataset screen: a bar of reviewed rows, the count and the audio minutes."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static


class ReviewBar(Horizontal):
    DEFAULT_CSS = """
    ReviewBar {
        height: 1;
    }
    ReviewBar #rb-label {
        width: auto;
        margin-right: 2;
    }
    ReviewBar ProgressBar {
        width: auto;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="rb-label")
        yield ProgressBar(total=1, show_eta=False, id="rb-bar")

    def show(self, counts) -> None:
        """`counts`: a whisper_tui.data.review.ReviewCounts."""
        self.query_one("#rb-label", Static).update(counts.summary())
        self.query_one("#rb-bar", ProgressBar).update(total=max(counts.total, 1), progress=counts.reviewed)
