"""Shell-like completion for folder fields: type the start of a name, press → to accept.

Suggests the first folder (then file, when `dirs_only` is off) whose name starts with what was
typed, with a trailing "/" on folders so the next level can be completed straight away. Listing
a folder is cheap, but Textual caches suggestions per value anyway.
"""

from __future__ import annotations

import os
from pathlib import Path

from textual.suggester import Suggester

MAX_ENTRIES = 2000  # don't stall on huge folders (audio datasets can hold 100k files)


class PathSuggester(Suggester):
    def __init__(self, *, dirs_only: bool = True, extra: tuple[str, ...] = ()) -> None:
        super().__init__(use_cache=True, case_sensitive=True)
        self.dirs_only = dirs_only
        self.extra = extra  # non-path values to suggest too (e.g. "tiny.en" for a model field)

    async def get_suggestion(self, value: str) -> str | None:
        for word in self.extra:
            if value and word.startswith(value) and word != value:
                return word
        if not value or not (value.startswith(("/", "~", ".")) or os.sep in value):
            return None
        head, _, prefix = value.rpartition("/")
        folder = Path(os.path.expanduser(head or "/"))
        try:
            entries = []
            with os.scandir(folder) as it:
                for i, entry in enumerate(it):
                    if i >= MAX_ENTRIES:
                        break
                    if entry.name.startswith(prefix) and (prefix.startswith(".") or not entry.name.startswith(".")):
                        entries.append(entry)
        except OSError:
            return None
        dirs = sorted(e.name for e in entries if e.is_dir())
        files = [] if self.dirs_only else sorted(e.name for e in entries if not e.is_dir())
        for name in dirs:
            candidate = f"{head}/{name}/"
            if candidate != value:
                return candidate
        for name in files:
            if name != prefix:
                return f"{head}/{name}"
        return None
