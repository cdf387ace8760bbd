"""A clip's waveform drawn with braille dots, so it works in any terminal and over SSH.

Each character cell holds 2×4 dots, which gives a 40-column, 4-row widget 80 amplitude columns
and 16 levels of resolution — enough to spot silence, clipping and truncated recordings at a
glance. The drawing is a pure function (`braille_waveform`) so it is tested without a terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

if TYPE_CHECKING:  # numpy loads with the first clip drawn, not with the app's first paint
    import numpy as np

BRAILLE_BASE = 0x2800
# bit for the dot at (x, y) inside a cell, x in 0..1, y in 0..3 (top to bottom)
_DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
CLIP_LEVEL = 0.999  # |sample| at or above this counts as clipped


def column_peaks(wave: np.ndarray, columns: int) -> np.ndarray:
    """Peak |amplitude| of `columns` equal slices of `wave` (empty slices read 0)."""
    import numpy as np

    if columns <= 0:
        return np.zeros(0, dtype=np.float32)
    wave = np.abs(np.asarray(wave, dtype=np.float32).ravel())
    if wave.size == 0:
        return np.zeros(columns, dtype=np.float32)
    edges = np.linspace(0, wave.size, columns + 1).astype(int)
    peaks = np.zeros(columns, dtype=np.float32)
    for i in range(columns):
        start, stop = edges[i], edges[i + 1]
        if stop > start:
            peaks[i] = wave[start:stop].max()
        elif start < wave.size:  # more columns than samples: repeat the nearest sample
            peaks[i] = wave[start]
    return peaks


def braille_waveform(wave: np.ndarray, width: int, height: int, *, normalise: bool = True) -> list[str]:
    """`height` lines of `width` braille characters: a symmetric envelope around the middle line.

    With `normalise` the loudest peak fills the height (quiet clips stay readable); otherwise full
    scale (|x| = 1) does. Every column with any sound gets at least its centre dots, so a quiet
    passage is distinguishable from digital silence (blank).
    """
    import numpy as np

    if width <= 0 or height <= 0:
        return []
    rows = height * 4
    peaks = column_peaks(wave, width * 2)
    scale = float(peaks.max()) if normalise and peaks.size and peaks.max() > 0 else 1.0
    cells = np.zeros((height, width), dtype=np.int32)
    centre = (rows - 1) / 2.0
    for x, peak in enumerate(peaks):
        if peak <= 0:
            continue
        half = max(0.5, min(1.0, peak / scale) * rows / 2.0)
        top = int(np.floor(centre - half + 0.5))
        bottom = int(np.ceil(centre + half - 0.5))
        for y in range(max(0, top), min(rows - 1, bottom) + 1):
            cells[y // 4, x // 2] |= _DOT_BITS[x % 2][y % 4]
    return ["".join(chr(BRAILLE_BASE + int(v)) for v in row) for row in cells]


class Waveform(Widget):
    """Shows one clip's waveform (or a message while loading / on error), redrawn to fit its size."""

    DEFAULT_CSS = """
    Waveform {
        height: 4;
        color: $accent;
    }
    Waveform.-message {
        color: $text-muted;
    }
    """

    message: reactive[str] = reactive("No clip selected")

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._wave: np.ndarray | None = None
        self._clipped = False

    def set_wave(self, wave: np.ndarray) -> None:
        import numpy as np

        self._wave = np.asarray(wave, dtype=np.float32)
        self._clipped = bool(self._wave.size and np.abs(self._wave).max() >= CLIP_LEVEL)
        self.message = ""
        self.set_class(False, "-message")
        self.refresh()

    def show_message(self, text: str) -> None:
        self._wave = None
        self.message = text
        self.set_class(True, "-message")

    @property
    def has_wave(self) -> bool:
        return self._wave is not None

    @property
    def clipped(self) -> bool:
        return self._clipped

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        if self._wave is None:
            return Text(self.message, no_wrap=True, overflow="ellipsis")
        lines = braille_waveform(self._wave, width, height)
        return Text("\n".join(lines), style="bold red" if self._clipped else "")
