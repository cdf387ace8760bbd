"""A dialog asking for one folder path (where to write something), pre-filled with a suggestion.

It only collects the path: whether the folder can be written is the engine's to say, when it
writes, and the screen that asked reports that.
"""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from screens.widgets.path_suggester import PathSuggester


class FolderPrompt(ModalScreen[Path | None]):
    """Dismisses with the folder typed (user's ~ expanded), or None on escape / Cancel."""

    DEFAULT_CSS = """
    FolderPrompt { align: center middle; }
    FolderPrompt > #folder-prompt-box {
        width: 90%; max-width: 100; height: auto; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    FolderPrompt #folder-prompt-note { color: $text-muted; }
    FolderPrompt #folder-prompt-error { color: $error; }
    FolderPrompt #folder-prompt-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    FolderPrompt Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="folder_prompt.cancel")]

    def __init__(self, title: str, suggestion: Path | str, note: str = "", ok_label: str = "Save") -> None:
        super().__init__()
        self.title_text = title
        self.suggestion = str(suggestion)
        self.note = note
        self.ok_label = ok_label

    def compose(self) -> ComposeResult:
        with Vertical(id="folder-prompt-box"):
            yield Label(self.title_text, id="folder-prompt-title")
            if self.note:
                yield Static(self.note, id="folder-prompt-note")
            yield Input(self.suggestion, suggester=PathSuggester(), id="folder-prompt-input")
            yield Static("", id="folder-prompt-error")
            with Horizontal(id="folder-prompt-buttons"):
                yield Button("Cancel (esc)", id="folder-prompt-cancel", compact=True)
                yield Button(f"{self.ok_label} (enter)", id="folder-prompt-ok", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#folder-prompt-input", Input).focus()

    def _accept(self) -> None:
        value = self.query_one("#folder-prompt-input", Input).value.strip()
        if not value:
            self.query_one("#folder-prompt-error", Static).update("Type a folder: a new or empty one.")
            return
        self.dismiss(Path(value).expanduser())

    @on(Input.Submitted, "#folder-prompt-input")
    def _submitted(self) -> None:
        self._accept()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "folder-prompt-ok":
            self._accept()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
