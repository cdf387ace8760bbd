"""The Transcribe console's results: one row per clip, one or two models, optional reference WER.

Rows are kept as data (`ClipRow`) and the table is rebuilt from them when the column layout
changes (compare mode on/off, a resize), because text columns wrap to a width computed from the
table's size. A clip's row is added once all its models have a result, so row heights are
measured once, with the final text. A file transcribed with timestamps (one file, not a folder)
shows its segments, one line each with its start-end time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text
from textual.widgets import DataTable

from whisper_tui.inference.metrics import clip_errors

from screens.presenters.run_format import fmt_rate
from screens.widgets.word_diff import side_by_side

BASE = "base"
MODEL = "model"


@dataclass
class ClipRow:
    path: Path
    reference: str | None
    results: dict = field(default_factory=dict)  # role -> whisper_tui.inference.transcribe.Transcription

    @property
    def duration_s(self) -> float:
        return max((r.duration_s for r in self.results.values()), default=0.0)

    @property
    def segments(self) -> tuple:
        """The chosen model's timed segments (subtitles.Segment), when it was decoded with timestamps."""
        result = self.results.get(MODEL)
        return tuple(getattr(result, "segments", ()) or ()) if result is not None and result.ok else ()

    def wer(self, role: str) -> float | None:
        result = self.results.get(role)
        if self.reference is None or result is None or not result.ok:
            return None
        return clip_errors(self.reference, result.text).wer


def span_text(start: float, end: float) -> str:
    """'0:03.0–0:08.5' (minutes:seconds.tenths), hours in front from an hour on."""
    def clock(seconds: float) -> str:
        tenths = max(0, round(seconds * 10))
        h, rest = divmod(tenths, 36000)
        m, rest = divmod(rest, 600)
        return (f"{h}:{m:02d}" if h else f"{m}") + f":{rest // 10:02d}.{rest % 10}"

    return f"{clock(start)}–{clock(end)}"


def segments_text(segments) -> Text:
    """One line per segment: its time span (dim) and text."""
    text = Text()
    for i, segment in enumerate(segments):
        text.append(("\n" if i else "") + span_text(segment.start, segment.end), style="dim")
        text.append(f"  {segment.text}")
    return text


def _text_cell(result) -> Text:
    if result is None:
        return Text("…", style="dim")
    if not result.ok:
        return Text(result.error or "failed", style="red")
    if getattr(result, "segments", ()):
        return segments_text(result.segments)
    return Text(result.text) if result.text else Text("(no speech)", style="dim italic")


class ResultsTable(DataTable):
    """Clips and their transcripts; `compare` shows the bundled model and the chosen one side by side."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.clip_rows: list[ClipRow] = []
        self.compare = False
        self.model_label = "model"
        self.base_label = "tiny.en"
        self._has_references = False
        self._built_width = 0

    # -- data -------------------------------------------------------------------------------
    def reset(self, *, compare: bool, model_label: str, base_label: str = "tiny.en") -> None:
        self.clip_rows = []
        self.compare = compare
        self.model_label = model_label
        self.base_label = base_label
        self._has_references = False
        self.rebuild()

    def add_clip(self, row: ClipRow) -> None:
        self.clip_rows.append(row)
        if row.reference is not None and not self._has_references:
            self._has_references = True
            self.rebuild()  # a WER column appears
            return
        self._add_row(row)

    def row_for_cursor(self) -> ClipRow | None:
        if not self.clip_rows or self.cursor_row < 0 or self.cursor_row >= len(self.clip_rows):
            return None
        return self.clip_rows[self.cursor_row]

    # -- layout -----------------------------------------------------------------------------
    def _columns(self) -> list[tuple[str, str, int | None]]:
        """(key, label, width); text columns share what the fixed ones leave."""
        width = max(self.size.width - 2, 40)
        narrow = width < 100
        wer = self._has_references
        fixed: list[tuple[str, str, int]] = [("file", "File", 14 if narrow else 22), ("dur", "Dur", 5)]
        if self.compare:
            if wer:
                tail = ([("wer_base", "WER base", 8), ("wer_model", "WER tuned", 9)] if not narrow
                        else [("wer_base", "WER b", 6), ("wer_model", "WER t", 6)])
            else:
                tail = []
            texts = [("base", self.base_label, 0), ("model", self.model_label, 0)]
        else:
            tail = ([("wer_model", "WER", 6)] if wer else []) + [("time", "Time", 5), ("rtf", "RTF", 5)]
            texts = [("model", "Text", 0)]
        used = sum(w + 2 for _, _, w in fixed + tail)  # DataTable pads each cell by one on both sides
        text_width = max(16, (width - used) // len(texts) - 2)
        texts = [(k, label if len(label) <= text_width else ("fine-tuned" if k == "model" else label[:text_width]), 0)
                 for k, label, _ in texts]
        return [*fixed, *((k, label, text_width) for k, label, _ in texts), *tail]

    def rebuild(self) -> None:
        cursor = self.cursor_row
        self.clear(columns=True)
        for key, label, width in self._columns():
            self.add_column(label, key=key, width=width)
        for row in self.clip_rows:
            self._add_row(row)
        self._built_width = self.size.width
        if self.clip_rows:
            self.move_cursor(row=min(max(cursor, 0), len(self.clip_rows) - 1))

    def on_resize(self) -> None:
        if self.size.width != self._built_width:
            self.rebuild()

    def _add_row(self, row: ClipRow) -> None:
        base, model = row.results.get(BASE), row.results.get(MODEL)
        cells: dict[str, object] = {"file": Text(row.path.name, overflow="ellipsis"),
                                    "dur": f"{row.duration_s:.1f}s"}
        if self.compare:
            if base is not None and model is not None and base.ok and model.ok:
                cells["base"], cells["model"] = side_by_side(base.text, model.text)
            else:
                cells["base"], cells["model"] = _text_cell(base), _text_cell(model)
            cells["wer_base"] = fmt_rate(row.wer(BASE))
            cells["wer_model"] = fmt_rate(row.wer(MODEL))
        else:
            cells["model"] = _text_cell(model)
            cells["wer_model"] = fmt_rate(row.wer(MODEL))
            cells["time"] = f"{model.elapsed_s:.1f}s" if model is not None else ""
            cells["rtf"] = f"{model.rtf:.2f}" if model is not None and model.ok else ""
        keys = [key for key, _, _ in self._columns()]
        self.add_row(*(cells.get(key, "") for key in keys), height=None, key=str(row.path))
