"""`?` opens this: every key of every screen, the current screen's first.

The tables are built from the screens' own BINDINGS (and the app's), so the help can never
disagree with the footer or miss a key someone added later. A screen's `HELP` class attribute,
when set, is shown as one line of explanation under its title.
"""

from __future__ import annotations

import importlib

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from screens.widgets.mode_bar import MAIN_MODES

# Keys that Textual's widgets handle themselves: listed so keyboard users know they exist.
EVERYWHERE_EXTRA: tuple[tuple[str, str], ...] = (
    ("tab / shift+tab", "move between fields and panels"),
    ("ctrl+p", "command palette: screens, profiles, actions"),
)
FORM_KEYS: tuple[tuple[str, str], ...] = (
    ("enter", "apply a field / press a button"),
    ("space", "toggle a switch or checkbox"),
    ("up / down", "move in tables and lists"),
    ("? in a text field", "help, until you type there; then a question mark (f1 is help everywhere)"),
    ("escape", "leave a text field: number keys switch screens again"),
)


def binding_rows(bindings_source, app) -> list[tuple[str, str]]:
    """(key display, description) for each binding with a description, in declaration order."""
    rows: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    bindings = BindingsMap(bindings_source) if not isinstance(bindings_source, BindingsMap) else bindings_source
    for binding_list in bindings.key_to_bindings.values():
        for binding in binding_list:
            if not binding.description or binding.system:
                continue
            row = (app.get_key_display(binding), binding.tooltip or binding.description)  # the longer wording
            if row not in seen:
                seen.add(row)
                rows.append(row)
    return _merge_keys(rows)


def _merge_keys(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Several keys for one description ('f1' and '?') become one row: '? / f1'."""
    merged: dict[str, list[str]] = {}
    for key, description in rows:
        merged.setdefault(description, []).append(key)
    return [(" / ".join(keys), description) for description, keys in merged.items()]


def _table(rows: list[tuple[str, str]]) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0), expand=True)
    table.add_column("key", style="bold", no_wrap=True, min_width=10)
    table.add_column("does", ratio=1)
    for key, description in rows:
        table.add_row(key, description)
    return table


def _screen_class(app, mode: str) -> type[Screen] | None:
    screen = app.mode_screen(mode) if hasattr(app, "mode_screen") else None
    if screen is not None:
        return type(screen)
    module_name, class_name = app.MODE_CLASSES.get(mode, (None, None)) if hasattr(app, "MODE_CLASSES") else (None, None)
    if module_name is None:
        return None
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        return None


class HelpScreen(ModalScreen[None]):
    """Key reference; escape, q, ? or f1 closes it, number keys close it and switch screens."""

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close help", id="help.close"),
        # modal screens don't see the app's keys: number keys must still go places. Same ids as the app's
        # mode bindings (app._mode_binding), so a keymap that moves "mode.runs" moves it here too.
        *(Binding(key, f"app.switch_mode('{mode}')", show=False, id=f"mode.{mode}")
          for mode, key, _label in MAIN_MODES),
    ]

    def __init__(self, current_mode: str | None = None) -> None:
        super().__init__()
        self.current_mode = current_mode

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(Text("Keys  —  escape closes, ↑/↓ scroll", style="bold"), id="help-title")
            with VerticalScroll(id="help-body"):
                for title, note, rows in self.sections():
                    yield Static(Text(title, style="bold underline"), classes="help-section")
                    if note:
                        yield Static(Text(note, style="italic"), classes="help-note")
                    yield Static(_table(rows), classes="help-table")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def sections(self) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """(title, note, rows): the current screen, then everywhere, then the other screens."""
        app = self.app
        common = binding_rows(Screen._merged_bindings or BindingsMap(), app)
        by_mode: dict[str, tuple[str, str, list[tuple[str, str]]]] = {}
        for mode, key, label in MAIN_MODES:
            cls = _screen_class(app, mode)
            if cls is None:
                continue
            rows = binding_rows(cls._merged_bindings or BindingsMap(), app)
            rows = [row for row in rows if row not in common]
            note = (getattr(cls, "HELP", None) or "").strip()
            by_mode[mode] = (f"{label} screen (key {key})", note, rows or [("—", "no keys of its own")])
        app_rows = binding_rows(type(app)._merged_bindings or BindingsMap(), app)
        common = [row for row in common if row[1] not in {"Focus Next", "Focus Previous"}]
        everywhere = ("Everywhere", "", app_rows + list(EVERYWHERE_EXTRA) + common + list(FORM_KEYS))
        ordered = []
        if self.current_mode in by_mode:
            ordered.append(by_mode.pop(self.current_mode))
        ordered.append(everywhere)
        ordered.extend(by_mode.values())
        return ordered

    def action_close(self) -> None:
        self.dismiss(None)
