"""Reviewing a labelled dataset: correct transcripts, mark rows reviewed, undo, save without surprises.

`whisper-tui label` writes metadata.csv with `source,confidence,no_speech,flags,status` columns and
every row `status = auto`. A person then goes through it: corrects a transcript (the row becomes
`reviewed`), or accepts it as it is. This module is that workflow without any UI:

- A save rewrites only the lines of the rows that changed: every other byte of metadata.csv stays as
  it was (a user's quoting, line endings, BOM and column order survive, and a diff of the file shows
  exactly the reviewed rows). A file without a status column gains one in its header the first time
  a row is reviewed; rows never reviewed keep their short line (readers take a missing field as empty).
- Saves are atomic (temp file + rename): a kill mid-save leaves the previous metadata.csv.
- Before writing, the file on disk is compared with what was read (or last written): if anything else
  changed it (an editor, a relabel run), the save is refused with a `DatasetError` naming the file,
  never overwriting that change.
- Every change is an undo step holding the exact old lines, so undoing restores the file byte for byte.

`data.only_reviewed` (training uses only reviewed rows) is decided here too (`resolve_only_reviewed`).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from whisper_tui.data.csv_records import raw_records
from whisper_tui.data.metadata import FILE_COLUMN, METADATA_FILE, TEXT_COLUMN, csv_header, csv_rows, read_metadata
from whisper_tui.errors import DatasetError

STATUS_COLUMN = "status"
AUTO_STATUS = "auto"
REVIEWED = "reviewed"
ONLY_REVIEWED_KEY = "data.only_reviewed"
ONLY_REVIEWED_CHOICES = ("auto", "true", "false")


@dataclass(frozen=True)
class ReviewRow:
    """One metadata.csv record as the review needs it (the transcript whitespace-normalised, like training)."""

    index: int  # 0-based position among the data records
    line: int  # line where the record started when the file was read (header = 1), as Clip.row
    file_name: str
    transcription: str
    status: str  # "auto", "reviewed", or "" (no status column / empty)
    confidence: float | None
    no_speech: float | None
    flags: tuple[str, ...]

    @property
    def reviewed(self) -> bool:
        return self.status == REVIEWED

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


@dataclass(frozen=True)
class ReviewCounts:
    reviewed: int
    total: int
    reviewed_s: float  # audio seconds of the reviewed rows (rows whose duration is known)
    total_s: float

    def summary(self) -> str:
        """'reviewed 12/310 · 1.4 of 38.2 min audio'."""
        return (f"reviewed {self.reviewed}/{self.total} · {self.reviewed_s / 60:.1f} of "
                f"{self.total_s / 60:.1f} min audio")


@dataclass
class _Step:
    """What one change replaced: the segments' old text (index -> text), so undo is byte-exact."""

    what: str
    record: int
    old_segments: dict[int, str]
    old_fields: dict[int, list[str]]
    old_names: list[str] | None = None  # the header's names when this step added the status column


@dataclass
class ReviewSheet:
    """metadata.csv of one dataset, open for review. Build with `ReviewSheet.open(folder)`."""

    path: Path
    names: list[str]  # header column names, lower-case, in file order
    rows: list[ReviewRow]
    _prefix: bytes  # a UTF-8 BOM when the file had one
    _delimiter: str
    _segments: list[str]  # the file's text cut into: header record, data records, blank lines
    _record_segment: list[int]  # data record index -> its segment
    _fields: list[list[str]]  # raw fields of every data record
    _disk: bytes  # what metadata.csv holds as far as we know (read or last written)
    _header_segment: int = 0
    _fi: int = 0  # file_name's position
    _ti: int = 1  # transcription's position
    _undo: list[_Step] = field(default_factory=list)

    # -- reading -------------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: str | os.PathLike) -> ReviewSheet:
        folder = Path(folder).expanduser()
        path = folder / METADATA_FILE
        raw = _read(path)
        return cls._parse(path, raw)

    @classmethod
    def _parse(cls, path: Path, raw: bytes) -> ReviewSheet:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise DatasetError(f"{path} is UTF-16 (Excel's \"Unicode text\"); it can be read but not edited here",
                               "save it as CSV UTF-8, then open the folder again", where=str(path))
        prefix = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
        text = raw[len(prefix):].decode("utf-8", errors="surrogateescape")
        _records_found, names, delimiter = csv_header(csv_rows(text, ",", path), text, path)  # names what is missing
        segments: list[str] = []
        records: list[tuple[int, list[str], int]] = []  # (start line, fields, segment)
        header_at: int | None = None
        for record in raw_records(text, path, delimiter):
            segments.append(record.raw)
            if not record.fields or not any(f.strip() for f in record.fields):
                continue  # a blank line: kept as it is, not a record
            if header_at is None:
                header_at = len(segments) - 1
                continue
            records.append((record.line, record.fields, len(segments) - 1))
        if "".join(segments) != text:  # never write a file we could not cut back into the same bytes
            raise DatasetError(f"{path}: the file could not be split into rows exactly, so it is not edited",
                               "open it in a text editor and check for stray quotes", where=str(path))
        fi, ti = names.index(FILE_COLUMN), names.index(TEXT_COLUMN)
        sheet = cls(path=path, names=list(names), rows=[], _prefix=prefix, _delimiter=delimiter, _segments=segments,
                    _record_segment=[seg for _line, _f, seg in records], _fields=[f for _l, f, _s in records],
                    _disk=raw, _header_segment=header_at or 0, _fi=fi, _ti=ti)
        sheet.rows = [sheet._row(i, line) for i, (line, _f, _s) in enumerate(records)]
        return sheet

    def _value(self, fields_: list[str], column: str) -> str:
        if column not in self.names:
            return ""
        at = self.names.index(column)
        return fields_[at] if at < len(fields_) else ""

    def _row(self, index: int, line: int) -> ReviewRow:
        fields_ = self._fields[index]
        flags = tuple(f.strip() for f in self._value(fields_, "flags").split(";") if f.strip())
        return ReviewRow(index=index, line=line, file_name=self._value(fields_, "file_name").strip(),
                         transcription=" ".join(self._value(fields_, "transcription").split()),
                         status=self._value(fields_, STATUS_COLUMN).strip().lower(),
                         confidence=_float(self._value(fields_, "confidence")),
                         no_speech=_float(self._value(fields_, "no_speech")), flags=flags)

    @property
    def has_status(self) -> bool:
        return STATUS_COLUMN in self.names

    def row_at_line(self, line: int) -> ReviewRow | None:
        """The record that started on `line` when the file was read (how the Dataset screen names rows)."""
        return next((r for r in self.rows if r.line == line), None)

    # -- changes -------------------------------------------------------------------------------
    def edit(self, index: int, transcription: str) -> ReviewRow:
        """Set a row's transcript (whitespace normalised) and mark it reviewed; saved at once."""
        text = " ".join(transcription.split())
        if not text:
            raise DatasetError(f"{self.path}: an empty transcription cannot be saved for "
                               f"{self.rows[index].file_name}", "type what is said in the clip",
                               where=str(self.path))
        return self._change("edit", index, {self._ti: text})

    def mark_reviewed(self, index: int) -> ReviewRow:
        """Mark a row reviewed as it is; saved at once. A row already reviewed is left alone (no undo step)."""
        if self.rows[index].reviewed:
            return self.rows[index]
        return self._change("mark", index, {})

    def _change(self, what: str, index: int, values: dict[int, str]) -> ReviewRow:
        step = _Step(what, index, {}, {index: list(self._fields[index])})
        names = self.names if self.has_status else [*self.names, STATUS_COLUMN]
        fields_ = list(self._fields[index]) + [""] * max(0, len(names) - len(self._fields[index]))
        for at, value in values.items():
            fields_[at] = value
        fields_[names.index(STATUS_COLUMN)] = REVIEWED
        if fields_ == self._fields[index]:
            return self.rows[index]  # already reviewed with this text: nothing to save or undo
        if not self.has_status:  # the header gains the column; its other bytes stay
            step.old_names = list(self.names)
            at = self._header_segment
            step.old_segments[at] = header = self._segments[at]
            ending = _ending(header)
            self._segments[at] = header[:len(header) - len(ending)] + self._delimiter + STATUS_COLUMN + ending
            self.names = names
        segment = self._record_segment[index]
        step.old_segments[segment] = self._segments[segment]
        self._fields[index] = fields_
        self._segments[segment] = _format(fields_, self._delimiter, _ending(self._segments[segment]))
        self.rows[index] = self._row(index, self.rows[index].line)
        try:
            self._save()
        except BaseException:
            self._restore(step)
            raise
        self._undo.append(step)
        return self.rows[index]

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    def undo(self) -> ReviewRow | None:
        """Put back what the last change replaced (the file as it was, byte for byte); saved at once."""
        if not self._undo:
            return None
        step = self._undo[-1]
        redo = _Step(step.what, step.record, {i: self._segments[i] for i in step.old_segments},
                     {i: list(self._fields[i]) for i in step.old_fields},
                     list(self.names) if step.old_names is not None else None)
        self._restore(step)
        try:
            self._save()
        except BaseException:
            self._restore(redo)
            raise
        self._undo.pop()
        return self.rows[step.record]

    def _restore(self, step: _Step) -> None:
        for segment, text in step.old_segments.items():
            self._segments[segment] = text
        for index, fields_ in step.old_fields.items():
            self._fields[index] = list(fields_)
        if step.old_names is not None:
            self.names = list(step.old_names)
        for index in step.old_fields:
            self.rows[index] = self._row(index, self.rows[index].line)

    # -- saving --------------------------------------------------------------------------------
    def content(self) -> bytes:
        """The bytes a save writes now."""
        return self._prefix + "".join(self._segments).encode("utf-8", errors="surrogateescape")

    def changed_on_disk(self) -> bool:
        try:
            return self.path.read_bytes() != self._disk
        except OSError:
            return True

    def _save(self) -> None:
        from whisper_tui.storage.atomic import atomic_write_bytes

        if self.changed_on_disk():
            raise DatasetError(f"{self.path} changed on disk since it was opened (another program or a "
                               "`whisper-tui label` run wrote it); your change was not saved",
                               "open the folder again to see the new version, then redo the change",
                               where=str(self.path))
        data = self.content()
        try:
            atomic_write_bytes(self.path, data)
        except PermissionError as exc:
            raise DatasetError(f"Cannot write {self.path}: permission denied; your change was not saved",
                               "make the file and its folder writable, then try again", where=str(self.path)) from exc
        except OSError as exc:
            raise DatasetError(f"Cannot write {self.path}: {exc.strerror or exc}; your change was not saved",
                               "check the disk and the folder's permissions", where=str(self.path)) from exc
        self._disk = data

    # -- progress ------------------------------------------------------------------------------
    def counts(self, durations: Mapping[str, float] | None = None) -> ReviewCounts:
        """Reviewed rows and their audio; `durations` (file_name -> seconds) from a validation report."""
        durations = durations or {}
        reviewed = [r for r in self.rows if r.reviewed]
        return ReviewCounts(len(reviewed), len(self.rows),
                            sum((durations.get(r.file_name) or 0.0 for r in reviewed), 0.0),
                            sum((durations.get(r.file_name) or 0.0 for r in self.rows), 0.0))

    def next_unreviewed(self, after: int, order: list[int] | None = None) -> int | None:
        """The first row not yet reviewed after position `after` in `order` (row indexes; default file order)."""
        order = list(range(len(self.rows))) if order is None else order
        start = order.index(after) + 1 if after in order else 0
        for index in order[start:] + order[:start]:
            if not self.rows[index].reviewed:
                return index
        return None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise DatasetError(f"No {path.name} in {path.parent}", "label the folder first (whisper-tui label), "
                           "or add metadata.csv with file_name,transcription", where=str(path)) from exc
    except OSError as exc:
        raise DatasetError(f"Cannot read {path}: {exc.strerror}", "check the file's permissions",
                           where=str(path)) from exc


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _ending(segment: str) -> str:
    for ending in ("\r\n", "\n", "\r"):
        if segment.endswith(ending):
            return ending
    return ""  # the last line of a file without a final newline


def _format(fields_: list[str], delimiter: str, ending: str) -> str:
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter, lineterminator=ending).writerow(fields_)
    return buf.getvalue()


# -- data.only_reviewed -----------------------------------------------------------------------

def has_status_column(clips) -> bool:
    """Whether metadata.csv had a status column (`Clip.extra` carries every named extra column)."""
    return any(any(k == STATUS_COLUMN for k, _v in clip.extra) for clip in clips)


def resolve_only_reviewed(setting, clips) -> bool:
    """`data.only_reviewed` as a yes/no for these clips: auto (or None) = on when there is a status column."""
    value = str(setting).strip().lower() if setting is not None else "auto"
    if value in ("true", "false"):
        return value == "true"
    if value != "auto":
        raise DatasetError(f"{ONLY_REVIEWED_KEY} must be auto, true or false (got {setting!r})",
                           "use auto to train only on reviewed rows when the dataset has a status column",
                           where=ONLY_REVIEWED_KEY)
    return has_status_column(clips)


def reviewed_clips(clips, setting, folder: str | os.PathLike = "") -> tuple[list, bool]:
    """(the clips training may use, whether the filter applied). Raises when it leaves none.

    Raising here (before any model loads) is the "fail early": a labelled dataset nobody has reviewed
    yet would otherwise train on its own machine transcripts.
    """
    clips = list(clips)
    if not resolve_only_reviewed(setting, clips):
        return clips, False
    kept = [c for c in clips if c.column(STATUS_COLUMN).strip().lower() == REVIEWED]
    if clips and not kept:
        where = f"{folder}: " if folder else ""
        raise DatasetError(f"{where}none of the {len(clips)} usable clips is reviewed, and {ONLY_REVIEWED_KEY} "
                           "trains only on reviewed rows",
                           "review rows in the Dataset screen (r accepts a row, e edits it), or set "
                           f"{ONLY_REVIEWED_KEY} = false to train on the machine transcripts",
                           where=ONLY_REVIEWED_KEY)
    return kept, True


def with_sheet_status(clips, sheet: ReviewSheet | None) -> list:
    """The clips with the status the sheet has now (reviews since the folder was read), matched by line."""
    from dataclasses import replace

    if sheet is None or not sheet.has_status:
        return list(clips)
    status = {row.line: row.status for row in sheet.rows}
    out = []
    for clip in clips:
        if clip.row in status and clip.column(STATUS_COLUMN).strip().lower() != status[clip.row]:
            extra = tuple((k, v) for k, v in clip.extra if k != STATUS_COLUMN) + ((STATUS_COLUMN, status[clip.row]),)
            clip = replace(clip, extra=extra)
        out.append(clip)
    return out


def only_reviewed_summary(clips, setting) -> str:
    """'only reviewed: 42 of 310 clips', or '' when the filter does not apply (for the UI's summaries)."""
    clips = list(clips)
    try:
        on = resolve_only_reviewed(setting, clips)
    except DatasetError:
        return ""
    if not on:
        return ""
    kept = sum(1 for c in clips if c.column(STATUS_COLUMN).strip().lower() == REVIEWED)
    return f"only reviewed: {kept} of {len(clips)} clips"


_NOTE_CACHE: dict[tuple, str] = {}


def only_reviewed_note(train_dir: str | os.PathLike, setting) -> str:
    """only_reviewed_summary for a folder's metadata.csv rows (reads no audio; cached while the file is unchanged).

    For the Train setup summary, which is redrawn on every form change. "" when the folder has no
    readable metadata.csv or the filter is off.
    """
    if not str(train_dir).strip():
        return ""
    path = Path(train_dir).expanduser() / METADATA_FILE
    try:
        stat = path.stat()
    except OSError:
        return ""
    key = (str(path), stat.st_mtime_ns, stat.st_size, str(setting))
    if key not in _NOTE_CACHE:
        try:
            clips, _problems = read_metadata(path.parent)
        except DatasetError:
            clips = []
        _NOTE_CACHE.clear()  # one folder at a time is shown
        _NOTE_CACHE[key] = only_reviewed_summary(clips, setting)
    return _NOTE_CACHE[key]
