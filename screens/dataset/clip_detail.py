"""The highlighted clip in the Dataset screen: its transcript, details and problems, and its waveform (decoded
in a thread worker after a short delay, so arrowing through rows stays smooth)."""

from __future__ import annotations

import math
from pathlib import Path

from rich.text import Text
from textual import work
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from whisper_tui.errors import WhisperTuiError

from screens.messages import EngineFailed, WaveformLoaded
from screens.presenters.dataset_rows import ROW_STYLES, ClipRow
from screens.widgets.waveform import Waveform

WAVEFORM_DELAY = 0.15  # s of highlight before a clip is decoded (arrowing through rows stays smooth)


class ClipDetailMixin:
    """Needs the screen's `shown` rows, `#ds-table`, `#ds-wave` and `#ds-clip-info`."""

    _wave_timer = None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self._row_for_key(event.row_key.value if event.row_key else None)
        if row is None:
            return
        self._show_clip_info(row)
        if self._wave_timer is not None:
            self._wave_timer.stop()
        wave = self.query_one("#ds-wave", Waveform)
        wave.border_title = row.file_name
        if row.duration_s is None:
            wave.show_message("cannot draw: the file is missing or unreadable")
            return
        wave.show_message("loading…")
        self._wave_timer = self.set_timer(WAVEFORM_DELAY, lambda: self._load_wave(row.path))

    def _row_for_key(self, key: str | None) -> ClipRow | None:
        return next((r for r in self.shown if r.key == key), None)

    def _show_clip_info(self, row: ClipRow) -> None:
        text = Text()
        text.append(row.transcription or "(no transcription)", style="" if row.transcription else "dim")
        text.append("\n")
        text.append(f"row {row.row}", style="dim")
        if row.duration_s is not None:
            text.append(f" · {row.duration_s:.2f} s · {row.sample_rate} Hz · {row.channels} ch", style="dim")
        if row.status:
            text.append(f" · {row.status}", style="green" if row.reviewed else "dim")
        if row.confidence is not None:
            text.append(f" · confidence {row.confidence:.2f}", style="dim")
        text.append("\n")
        if row.flags:
            text.append(f"⚑ {', '.join(row.flags)}", style="bold yellow")
            text.append(" — check this transcript (e edits, r accepts)\n", style="dim")
        if not row.problems:
            text.append("no problems ✓", style="green")
        for problem in row.problems:
            text.append(f"{problem.kind}: ", style=f"bold {ROW_STYLES[problem.severity]}")
            text.append(problem.message)
            if problem.hint:
                text.append(f" — {problem.hint}", style="dim")
            text.append("\n")
        self.query_one("#ds-clip-info", Static).update(text)

    def _clear_detail(self, message: str) -> None:
        wave = self.query_one("#ds-wave", Waveform)
        wave.border_title = "Waveform"
        wave.show_message(message)
        self.query_one("#ds-clip-info", Static).update("")

    @work(thread=True, exclusive=True, group="waveform", exit_on_error=False, description="draw the waveform")
    def _load_wave(self, path: Path) -> None:
        from whisper_tui.data.audio import read_mono

        worker = get_current_worker()
        try:
            wave, rate = read_mono(path)
        except WhisperTuiError as exc:
            if not worker.is_cancelled:
                self.post_message(EngineFailed("draw the waveform", exc))
            return
        if not worker.is_cancelled:
            self.post_message(WaveformLoaded(path, wave, rate))

    def on_waveform_loaded(self, message: WaveformLoaded) -> None:
        table = self.query_one("#ds-table", DataTable)
        if not table.row_count:
            return
        row = self._row_for_key(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        if row is None or row.path != message.path:
            return  # the cursor moved on
        wave = self.query_one("#ds-wave", Waveform)
        wave.set_wave(message.wave)
        peak = float(abs(message.wave).max()) if message.wave.size else 0.0
        dbfs = f"{20 * math.log10(peak):.0f} dBFS" if peak > 0 else "silent"
        wave.border_title = f"{row.file_name} · peak {dbfs}" + (" · CLIPPED" if wave.clipped else "")
