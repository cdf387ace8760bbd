"""Asks for the two folders of "Label a folder": the recordings, and where the labelled dataset goes.

Each field completes paths (→) and has a Browse button (the folder picker). The output folder
follows the audio folder (`NAME-labelled` beside it) until the user types one of their own.
Dismisses with (audio folder, output folder) or None.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from screens.modals.folder_picker import FolderPicker
from screens.widgets.path_suggester import PathSuggester


def default_output(audio_dir: Path) -> Path | None:
    """`NAME-labelled` beside the audio folder; None while what is typed has no name yet ("/", "~")."""
    if not audio_dir.name:
        return None
    return audio_dir.with_name(f"{audio_dir.name}-labelled")


class LabelFolderModal(ModalScreen[tuple[Path, Path] | None]):
    DEFAULT_CSS = """
    LabelFolderModal {
        align: center middle;
    }
    LabelFolderModal #lf-box {
        width: 80%;
        max-width: 90;
        height: auto;
        border: round $accent;
        padding: 0 1;
        background: $surface;
    }
    LabelFolderModal .lf-row {
        height: 1;
        margin-bottom: 1;
    }
    LabelFolderModal .lf-row Input {
        width: 1fr;
    }
    LabelFolderModal .lf-row Button {
        margin-left: 1;
    }
    LabelFolderModal #lf-error {
        color: $error;
    }
    LabelFolderModal #lf-buttons {
        height: 1;
        align-horizontal: right;
    }
    LabelFolderModal #lf-buttons Button {
        margin-left: 2;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="label.cancel")]

    def __init__(self, start: Path | None = None) -> None:
        super().__init__()
        self.start = start
        self._out_typed = False

    def compose(self) -> ComposeResult:
        with Vertical(id="lf-box"):
            yield Static(Text("Label a folder of recordings", style="bold"))
            yield Static(Text("Every audio file is cut at pauses into clips of up to 30 s and transcribed with "
                              "tiny.en; you then correct the transcripts here. Nothing in the audio folder "
                              "is changed.", style="dim"))
            yield Label("Audio folder")
            with Horizontal(classes="lf-row"):
                yield Input(str(self.start or ""), id="lf-audio", compact=True, suggester=PathSuggester(),
                            placeholder="folder of wav/flac/ogg/mp3 recordings")
                yield Button("Browse", id="lf-audio-browse", compact=True)
            yield Label("Output dataset folder")
            with Horizontal(classes="lf-row"):
                yield Input("", id="lf-out", compact=True, suggester=PathSuggester(),
                            placeholder="new folder for the clips + metadata.csv")
                yield Button("Browse", id="lf-out-browse", compact=True)
            yield Static("", id="lf-error")
            with Horizontal(id="lf-buttons"):
                yield Button("Cancel (esc)", id="lf-cancel", compact=True)
                yield Button("Label", id="lf-ok", variant="primary", compact=True)

    def on_mount(self) -> None:
        self._follow_audio(self.query_one("#lf-audio", Input).value)
        self.query_one("#lf-audio", Input).focus()

    def _follow_audio(self, value: str) -> None:
        suggestion = default_output(Path(value.strip()).expanduser()) if value.strip() else None
        if not self._out_typed and suggestion is not None:
            self.query_one("#lf-out", Input).value = str(suggestion)

    @on(Input.Changed, "#lf-audio")
    def _audio_changed(self, event: Input.Changed) -> None:
        self._follow_audio(event.value)

    @on(Input.Changed, "#lf-out")
    def _out_changed(self, event: Input.Changed) -> None:
        if self.focused is event.input:
            self._out_typed = True

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_ok()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button = event.button.id
        if button == "lf-ok":
            self.action_ok()
        elif button == "lf-cancel":
            self.action_cancel()
        elif button in ("lf-audio-browse", "lf-out-browse"):
            field = self.query_one("#lf-audio" if button == "lf-audio-browse" else "#lf-out", Input)
            start = Path(field.value.strip() or "~").expanduser()

            def picked(folder: Path | None) -> None:
                if folder is not None:
                    if field.id == "lf-out":
                        self._out_typed = True
                    field.value = str(folder)

            self.app.push_screen(FolderPicker(start if start.exists() else Path.home()), picked)

    def action_ok(self) -> None:
        audio = self.query_one("#lf-audio", Input).value.strip()
        out = self.query_one("#lf-out", Input).value.strip()
        error = ""
        if not audio:
            error = "Choose the folder of recordings."
        elif not Path(audio).expanduser().is_dir():
            error = f"Not a folder: {audio}"
        elif not out:
            error = "Choose where the labelled dataset goes."
        elif Path(out).expanduser().resolve() == Path(audio).expanduser().resolve():
            error = "The output must be a new folder, not the audio folder."
        self.query_one("#lf-error", Static).update(error)
        if not error:
            self.dismiss((Path(audio).expanduser(), Path(out).expanduser()))

    def action_cancel(self) -> None:
        self.dismiss(None)
