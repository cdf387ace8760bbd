"""When a text field is "being edited", so that `?` types a question mark instead of opening the help.

A field that merely has focus (Tab reached it, a screen put the cursor there, its text is selected)
is not being edited: `?` there opens the help, as the mode bar says. It becomes edited once the user
works in it: types a character other than `?`, deletes, moves the cursor, pastes, or presses Enter.
It stops being edited when focus leaves it. A text field in a dialog (a name, a folder) is always
being edited: typing is what the dialog is for.
"""

from __future__ import annotations

from textual import events
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, TextArea

HELP_CHARACTER = "?"
# Keys that work on the text (besides printable characters): pressing one means the user is editing.
EDIT_KEYS = frozenset({
    "enter", "backspace", "delete", "left", "right", "home", "end", "ctrl+left", "ctrl+right",
    "ctrl+a", "ctrl+e", "ctrl+u", "ctrl+k", "ctrl+w", "ctrl+d", "ctrl+f", "ctrl+v", "ctrl+x", "ctrl+z",
    "shift+left", "shift+right", "shift+home", "shift+end", "space",
})


def is_text_field(widget: Widget | None) -> bool:
    return isinstance(widget, Input | TextArea)


def starts_editing(event: events.Key | events.Paste) -> bool:
    """Does this key (or paste), sent to a focused text field, mean the user is working in it?"""
    if isinstance(event, events.Paste):
        return True
    if event.character == HELP_CHARACTER:
        return False
    return event.is_printable or event.key in EDIT_KEYS


class FieldEditing:
    """The app's record of which text field, if any, the user is editing."""

    def __init__(self) -> None:
        self._field: Widget | None = None

    def saw(self, event: events.Key | events.Paste, focused: Widget | None) -> bool:
        """Note a key/paste about to reach `focused`; True when that made a field edited."""
        if self._field is focused or not is_text_field(focused) or not starts_editing(event):
            return False
        self._field = focused
        return True

    def left(self, widget: Widget) -> bool:
        """Focus left `widget`; True when it was the edited field."""
        if widget is self._field:
            self._field = None
            return True
        return False

    def editing(self, focused: Widget | None, screen) -> bool:
        if not is_text_field(focused):
            return False
        return focused is self._field or isinstance(screen, ModalScreen)
