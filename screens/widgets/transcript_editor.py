"""Edit one transcript in place: the text in a field, and under it what changed against the old text, live.

The Dataset screen shows this panel instead of the clip details while a row is edited. The diff is
`word_diff.inline_diff(old, typed)` (removed words red and struck through, new words green), redrawn
on every key, so a correction is checked while it is typed. Enter or ctrl+s saves, escape cancels:
the panel only posts `Save` / `Cancel`; the screen writes the file and closes the panel (a failed
save leaves it open with the typed text, so nothing is lost).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from screens.widgets.word_diff import changed_word_count, inline_diff


class TranscriptEditor(Vertical):
    DEFAULT_CSS = """
    TranscriptEditor {
        height: 6;
        border: round $accent;
        padding: 0 1;
    }
    TranscriptEditor #te-input {
        width: 1fr;
    }
    TranscriptEditor #te-diff {
        height: 1fr;
        overflow-y: auto;
    }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save transcript", id="dataset.edit.save"),
        Binding("escape", "cancel", "Cancel edit", id="dataset.edit.cancel"),
    ]

    @dataclass
    class Save(Message):
        row_key: str
        text: str

    @dataclass
    class Cancel(Message):
        row_key: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.row_key = ""
        self.old_text = ""

    def compose(self) -> ComposeResult:
        yield Input(id="te-input", compact=True, placeholder="what is said in the clip")
        yield Static("", id="te-diff")

    def start(self, row_key: str, title: str, text: str) -> None:
        """Show `text` for editing (cursor at its end) and take the focus."""
        self.row_key, self.old_text = row_key, text
        self.border_title = title
        self.border_subtitle = "enter / ^s save · esc cancel"
        field = self.query_one("#te-input", Input)
        field.value = text
        field.cursor_position = len(text)
        self._show_diff(text)
        field.focus()

    @property
    def text(self) -> str:
        return self.query_one("#te-input", Input).value

    def _show_diff(self, typed: str) -> None:
        diff = Text()
        changed = changed_word_count(self.old_text, typed)
        if not changed:
            diff.append("no change yet (enter or ^s marks it reviewed as it is)", style="dim")
        else:
            diff.append_text(inline_diff(self.old_text, typed))
            diff.append(f"\n{changed} word(s) changed", style="dim")
        self.query_one("#te-diff", Static).update(diff)

    @on(Input.Changed, "#te-input")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self._show_diff(event.value)

    @on(Input.Submitted, "#te-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        self.post_message(self.Save(self.row_key, self.text))

    def action_cancel(self) -> None:
        self.post_message(self.Cancel(self.row_key))
