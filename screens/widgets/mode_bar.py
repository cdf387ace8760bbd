"""The one-line bar at the top of every main screen: where you are and how to get elsewhere.

It lists the five views with their number keys, highlights the one it sits on, and (clickable)
switches mode for mouse users. On the right it shows the app's `status_line` (e.g. a training run
in progress) so a run stays visible from every screen.
"""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from screens.modes import MAIN_MODES  # (mode, key, label); re-exported for help and the palette

SHORT_LABELS = {"train": "Train"}  # used when the bar is narrow


class ModeBar(Widget):
    """`whisper-tui  1 Dataset  2 Train setup  3 Dashboard  4 Transcribe  5 Runs      ● training 40%`.

    With no status to show, the right end says `? help`; while a text field is being edited (where `?`
    is typed: screens/field_editing.py) it says `f1 help  esc leave field` (`esc done` at 80 columns) instead.
    """

    DEFAULT_CSS = """
    ModeBar {
        dock: top;
        height: 1;
        background: $panel;
        color: $text-muted;
    }
    """

    status: reactive[str] = reactive("")
    editing: reactive[bool] = reactive(False)

    def __init__(self, mode: str | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mode = mode  # None: ask the app which mode our screen belongs to

    def on_mount(self) -> None:
        if self.mode is None:
            finder = getattr(self.app, "mode_of_screen", None)
            self.mode = finder(self.screen) if finder else None
        if hasattr(self.app, "status_line"):
            self.watch(self.app, "status_line", self._status_changed)
        if hasattr(self.app, "field_editing"):
            self.watch(self.app, "field_editing", self._editing_changed)

    def _status_changed(self, value: str) -> None:
        self.status = value

    def _editing_changed(self, value: bool) -> None:
        self.editing = value

    def _tabs(self, short: bool, title: bool) -> Content:
        parts = ["[b] whisper-tui [/b]"] if title else [" "]
        for mode, key, label in MAIN_MODES:
            name = SHORT_LABELS.get(mode, label) if short else label
            click = f"@click=app.switch_mode('{mode}')"
            if mode == self.mode:
                parts.append(f"[{click} reverse b] {key} {name} [/]")
            else:
                parts.append(f"[{click}] [b]{key}[/b] {name} [/]")
        return Content.from_markup("".join(parts))

    def _right(self) -> list[Content]:
        """What can go at the right end, most informative first."""
        if self.status:
            return [Content.from_markup("[b $warning] $status [/]", status=self.status)]
        if self.editing:  # `?` would be typed into the field: say which keys still work
            return [Content.from_markup(f"[@click=app.help][b]f1[/b] help[/]  [@click=app.leave_field][b]esc[/b] "
                                        f"{leave}[/] ") for leave in ("leave field", "done")] + [
                    Content.from_markup("[@click=app.help][b]f1[/b] help [/]")]
        # footers may be too narrow to show these keys: keep help and the palette one glance away
        return [Content.from_markup("[@click=app.help][b]?[/b] help[/]  [@click=app.command_palette][b]^p[/b] "
                                    "commands [/]"),
                Content.from_markup("[@click=app.help][b]?[/b] help [/]")]

    def render(self) -> Content:
        width = self.content_size.width
        variants = [(short, title) for short, title in ((False, True), (True, True), (True, False))]
        for right in self._right():
            for short, title in variants:
                tabs = self._tabs(short, title)
                if tabs.cell_length + right.cell_length + 1 <= width:
                    return Content.assemble(tabs, " " * (width - tabs.cell_length - right.cell_length), right)
        return self._tabs(True, False)
