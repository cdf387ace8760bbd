"""The Dataset screen's table model: one row per listed clip, filtered and sorted without Textual.

Kept apart from the screen so filtering/sorting rules are plain functions with plain tests, and
the screen only turns rows into cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ERROR, WARNING = "error", "warning"

# column key -> (header, sort value of a ClipRow; None = unknown, always listed last)
COLUMNS: dict[str, tuple[str, object]] = {
    "row": ("#", lambda r: r.row),
    "file": ("File", lambda r: r.file_name.lower()),
    "duration": ("Dur s", lambda r: r.duration_s),
    "rate": ("Hz", lambda r: r.sample_rate),
    "channels": ("Ch", lambda r: r.channels),
    "problems": ("Problems", lambda r: (-_severity_rank(r.severity), r.problem_text)),
    "transcript": ("Transcript", lambda r: r.transcription.lower()),  # last: long, and shown below anyway
}
SORT_CYCLE = ("row", "file", "duration", "rate", "channels", "problems", "transcript")


def _severity_rank(severity: str) -> int:
    return {ERROR: 2, WARNING: 1}.get(severity, 0)


@dataclass(frozen=True)
class ClipRow:
    row: int  # metadata.csv line (what an editor shows)
    file_name: str
    path: Path
    transcription: str
    duration_s: float | None  # None when the file is missing or unreadable
    sample_rate: int | None
    channels: int | None
    problems: tuple  # whisper_tui.data.dataset.Problem for this row, worst first

    @property
    def severity(self) -> str:
        """'error', 'warning' or '' (the worst of this row's problems)."""
        if any(p.severity == ERROR for p in self.problems):
            return ERROR
        return WARNING if self.problems else ""

    @property
    def problem_text(self) -> str:
        return ", ".join(dict.fromkeys(p.kind for p in self.problems))

    @property
    def key(self) -> str:
        return f"row-{self.row}"


def rows_from_report(report) -> list[ClipRow]:
    """Rows in metadata order; a row's problems are those `validate_dataset` tied to its line."""
    by_row: dict[int, list] = {}
    for problem in report.problems:
        if problem.row is not None:
            by_row.setdefault(problem.row, []).append(problem)
    rows = []
    for clip in report.clips:
        info = report.clip_infos.get(clip.file_name)
        problems = sorted(by_row.get(clip.row, []), key=lambda p: -_severity_rank(p.severity))
        rows.append(ClipRow(
            row=clip.row, file_name=clip.file_name, path=Path(clip.path), transcription=clip.transcription,
            duration_s=info.duration_s if info else None, sample_rate=info.sample_rate if info else None,
            channels=info.channels if info else None, problems=tuple(problems)))
    return rows


def folder_problems(report) -> list:
    """Problems not tied to a clip row (e.g. the header's extra columns)."""
    clip_rows = {clip.row for clip in report.clips}
    return [p for p in report.problems if p.row is None or p.row not in clip_rows]


def filter_rows(rows: list[ClipRow], text: str = "", problems_only: bool = False) -> list[ClipRow]:
    """Case-insensitive match of every word of `text` against file name, transcript and problem kinds."""
    words = text.lower().split()
    out = []
    for row in rows:
        if problems_only and not row.problems:
            continue
        haystack = f"{row.file_name} {row.transcription} {row.problem_text}".lower()
        if all(word in haystack for word in words):
            out.append(row)
    return out


def sort_rows(rows: list[ClipRow], column: str, reverse: bool = False) -> list[ClipRow]:
    """Stable sort by one column; rows whose value is unknown (missing file) stay at the bottom."""
    value = COLUMNS[column][1]
    known = [r for r in rows if value(r) is not None]  # type: ignore[operator]
    unknown = [r for r in rows if value(r) is None]  # type: ignore[operator]
    return sorted(known, key=value, reverse=reverse) + unknown  # type: ignore[arg-type]


def format_clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour up: how audio lengths are usually written."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def histogram_bin_seconds(max_duration: float, target_bins: int = 24) -> float:
    """A round bin width giving about `target_bins` bins up to the longest clip."""
    for width in (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0):
        if max_duration / width <= target_bins:
            return width
    return 60.0
