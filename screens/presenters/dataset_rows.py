"""The Dataset screen's table model: one row per listed clip, filtered and sorted without Textual.

Kept apart from the screen so filtering/sorting rules are plain functions with plain tests, and
the screen only turns rows into cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ERROR, WARNING = "error", "warning"
ROW_STYLES = {ERROR: "red", WARNING: "yellow", "": ""}  # a row's colour in the table, by its worst problem

# column key -> (header, sort value of a ClipRow; None = unknown, always listed last)
COLUMNS: dict[str, tuple[str, object]] = {
    "row": ("#", lambda r: r.row),
    "file": ("File", lambda r: r.file_name.lower()),
    # a labelled dataset's columns (`whisper-tui label`): shown only when metadata.csv has them
    "status": ("Status", lambda r: (r.status == REVIEWED, not r.flags, r.status)),
    "confidence": ("Conf", lambda r: r.confidence),
    "duration": ("Dur s", lambda r: r.duration_s),
    "rate": ("Hz", lambda r: r.sample_rate),
    "channels": ("Ch", lambda r: r.channels),
    "problems": ("Problems", lambda r: (-_severity_rank(r.severity), r.problem_text)),
    "transcript": ("Transcript", lambda r: r.transcription.lower()),  # last: long, and shown below anyway
}
SORT_CYCLE = ("row", "file", "status", "confidence", "duration", "rate", "channels", "problems", "transcript")
REVIEW_COLUMNS = ("status", "confidence")
WORST = "worst"  # not a column: review order (see worst_first)
REVIEWED = "reviewed"
STATUS_FILTERS = ("", "auto", REVIEWED, "flagged")  # "" = all rows; auto = not reviewed yet


def worst_first(row: ClipRow) -> tuple:
    """Rows most in need of a look first: not yet reviewed, flagged, then lowest confidence (unknown last)."""
    return (row.status == REVIEWED, not row.flags, 2.0 if row.confidence is None else row.confidence, row.row)


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
    status: str = ""  # metadata.csv's status column: "auto", "reviewed" or "" (none)
    confidence: float | None = None  # mean token probability `whisper-tui label` wrote
    flags: tuple[str, ...] = ()  # likely-hallucination kinds `whisper-tui label` wrote

    @property
    def reviewed(self) -> bool:
        return self.status == REVIEWED

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
            channels=info.channels if info else None, problems=tuple(problems),
            status=clip.column("status").strip().lower(), confidence=_float(clip.column("confidence")),
            flags=tuple(f.strip() for f in clip.column("flags").split(";") if f.strip())))
    return rows


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def review_columns(report) -> tuple[str, ...]:
    """Which of the labelled-dataset columns metadata.csv has (status, confidence)."""
    names = {name for clip in report.clips for name, _value in clip.extra}
    return tuple(c for c in REVIEW_COLUMNS if c in names)


def folder_problems(report) -> list:
    """Problems not tied to a clip row (e.g. the header's extra columns)."""
    clip_rows = {clip.row for clip in report.clips}
    return [p for p in report.problems if p.row is None or p.row not in clip_rows]


def filter_rows(rows: list[ClipRow], text: str = "", problems_only: bool = False, status: str = "") -> list[ClipRow]:
    """Case-insensitive match of every word of `text` against file name, transcript and problem kinds.

    `status`: "" all rows, "auto" those not reviewed yet, "reviewed", or "flagged" (label flags).
    """
    words = text.lower().split()
    out = []
    for row in rows:
        if problems_only and not row.problems:
            continue
        if (status == "auto" and row.reviewed) or (status == REVIEWED and not row.reviewed) \
                or (status == "flagged" and not row.flags):
            continue
        haystack = f"{row.file_name} {row.transcription} {row.problem_text} {' '.join(row.flags)}".lower()
        if all(word in haystack for word in words):
            out.append(row)
    return out


def sort_rows(rows: list[ClipRow], column: str, reverse: bool = False) -> list[ClipRow]:
    """Stable sort by one column (or WORST); rows whose value is unknown (missing file) stay at the bottom."""
    value = worst_first if column == WORST else COLUMNS[column][1]
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
