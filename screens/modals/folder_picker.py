"""A keyboard folder picker: a directory tree of folders only; o (or the button) picks the highlighted one.

Folders holding a metadata.csv are marked, so a dataset is easy to spot in a tree of projects.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Label
from textual.widgets.tree import TreeNode


class FolderTree(DirectoryTree):
    """Folders only; a dataset folder (metadata.csv inside) gets a ✓."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if p.is_dir() and not p.name.startswith(".")]

    def render_label(self, node: TreeNode, base_style: Style, style: Style) -> Text:
        label = super().render_label(node, base_style, style)
        path = node.data.path if node.data is not None else None
        if path is not None and (Path(path) / "metadata.csv").is_file():
            label.append(" ✓ dataset", style="green")
        return label


class FolderPicker(ModalScreen[Path | None]):
    """Dismisses with the chosen folder, or None."""

    BINDINGS = [
        Binding("o", "pick", "Open this folder", id="picker.pick"),
        Binding("backspace", "up", "Parent folder", id="picker.up"),
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
    ]

    def __init__(self, start: Path) -> None:
        super().__init__()
        start = start.expanduser()
        while not start.is_dir() and start != start.parent:
            start = start.parent
        self.root = start

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Label("", id="picker-title")
            yield FolderTree(self.root, id="picker-tree")
            with Horizontal(id="picker-buttons"):
                yield Button("Cancel (esc)", id="picker-cancel", compact=True)
                yield Button("Open folder (o)", id="picker-open", variant="primary", compact=True)

    def on_mount(self) -> None:
        self._show_root()
        self.query_one(FolderTree).focus()

    def _show_root(self) -> None:
        self.query_one("#picker-title", Label).update(
            f"{self.root}  — ↑↓ move · enter opens · o picks · backspace goes up")

    def _highlighted(self) -> Path:
        tree = self.query_one(FolderTree)
        node = tree.cursor_node
        return Path(node.data.path) if node is not None and node.data is not None else self.root

    def action_pick(self) -> None:
        self.dismiss(self._highlighted())

    def action_up(self) -> None:
        if self.root.parent != self.root:
            self.root = self.root.parent
            self.query_one(FolderTree).path = self.root
            self._show_root()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "picker-open":
            self.action_pick()
        else:
            self.action_cancel()
