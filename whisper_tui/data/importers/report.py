"""What an import did: the format it found, what it wrote and where, and every row it left out and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from whisper_tui.data.importers.entries import Skipped

MAX_SKIPPED_SHOWN = 20


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass
class ImportReport:
    source: Path
    out: Path
    format: str  # a FORMATS key: "nemo", "common-voice", ...
    format_label: str  # "NeMo JSONL manifest"
    clips: int = 0
    seconds: float = 0.0
    longest_s: float = 0.0
    how: Counter = field(default_factory=Counter)  # "copied"/"linked"/"written"/"cut" -> clips
    columns: tuple[str, ...] = ()  # metadata.csv's extra columns
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one-line remarks from the reader (splits found, ...)
    review: list[Skipped] = field(default_factory=list)  # clips written to review/, not to the training metadata

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(_reason_kind(s.reason) for s in self.skipped).most_common())

    def to_json(self) -> dict:
        return {"source": str(self.source), "format": self.format, "clips": self.clips,
                "seconds": round(self.seconds, 3), "audio": dict(self.how), "columns": list(self.columns),
                "skipped": [{"where": s.where, "reason": s.reason} for s in self.skipped], "notes": self.notes,
                "review": [{"where": s.where, "reason": s.reason} for s in self.review]}

    def format_text(self, max_skipped: int = MAX_SKIPPED_SHOWN) -> str:
        lines = [f"Source: {self.source}", f"Format: {self.format_label} ({self.format})"]
        how = ", ".join(f"{n} {kind}" for kind, n in sorted(self.how.items()))
        lines.append(f"Clips: {self.clips} ({how or 'none'}), {_clock(self.seconds)} of audio"
                     + (f", longest {self.longest_s:.1f} s" if self.clips else ""))
        if self.columns:
            lines.append(f"Columns: file_name, transcription, {', '.join(self.columns)}")
        lines += [f"Note: {note}" for note in self.notes]
        if self.skipped:
            reasons = ", ".join(f"{n} {kind}" for kind, n in self.skipped_by_reason.items())
            lines.append(f"Skipped: {len(self.skipped)} ({reasons})")
            for item in self.skipped[:max_skipped]:
                lines.append(f"  {item}")
            if len(self.skipped) > max_skipped:
                lines.append(f"  ... and {len(self.skipped) - max_skipped} more (all of them in import.json)")
        else:
            lines.append("Skipped: none")
        if self.review:
            lines.append(f"Review: {len(self.review)} clip(s) not to train on as they are, in {self.out / 'review'} "
                         "(a dataset folder: listen, fix the text, then move the row and clip into the main one)")
            lines += [f"  {item}" for item in self.review[:max_skipped]]
        lines.append(f"Wrote: {self.out} (metadata.csv + clips/); check it with `whisper-tui validate {self.out}`")
        return "\n".join(lines)


def _reason_kind(reason: str) -> str:
    """The part of a reason before any detail: "missing audio (clips/x.mp3)" -> "missing audio"."""
    return reason.split(" (", 1)[0].split(":", 1)[0]
