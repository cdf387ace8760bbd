"""The review progress line of the Dataset screen: a bar of reviewed rows, the count and the audio minutes."""

from __future__ import annotations

from rich.text import Text
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


def only_reviewed_text(profile) -> Text:
    """'only reviewed: 42 of 310 clips' for Train setup's summary (data.only_reviewed on data.train_dir), or nothing."""
    from whisper_tui.data.review import only_reviewed_note

    note = only_reviewed_note(profile.data.train_dir, profile.data.only_reviewed)
    if not note:
        return Text()
    none = note.startswith("only reviewed: 0 ")
    text = Text(f"\n{note}", style="bold red" if none else "bold")
    if none:
        text.append("\ntraining will stop: review rows in the Dataset screen or set data.only_reviewed = false",
                    style="red")
    return text
