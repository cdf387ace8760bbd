"""A dataset is a folder of audio clips plus `metadata.csv` (`file_name,transcription`): reading that file.

This is the Hugging Face AudioFolder convention the seed tool used, so existing folders work
as they are. Reading is forgiving where the intent is obvious (BOM, UTF-16 from Excel, tabs or
semicolons, quoted commas and newlines, whitespace) and strict where guessing would train on
wrong data. Every row-level issue becomes a `Problem` with a stable `kind` string the UI and CLI
key on; only folder-level failures (no folder, no metadata, a missing column, a broken quote)
raise `DatasetError`.

Choices worth knowing:
- Rows are numbered by the line of `metadata.csv` where they start (the header is line 1), i.e.
  what an editor shows, even when a quoted transcript spans several lines.
- Bytes that are not UTF-8 are decoded as U+FFFD and the row gets an "encoding" error (it is
  not trained on): a transcript with mojibake would teach the model the mojibake.
- A `file_name` that leaves the folder (`../x.wav`, an absolute path elsewhere, a symlink out)
  is refused before anything opens it: a shared dataset must not make us read other files.

The checks of the audio itself, the report and the train/test split are in dataset.py.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from whisper_tui.data.audio import AUDIO_EXTENSIONS, SAMPLE_RATE
from whisper_tui.errors import DatasetError
from whisper_tui.models.window import WHISPER_WINDOW_S
from whisper_tui.storage.atomic import atomic_write_bytes

METADATA_FILE = "metadata.csv"
FILE_COLUMN = "file_name"
TEXT_COLUMN = "transcription"
MAX_CLIP_SECONDS = float(WHISPER_WINDOW_S)  # longer clips would be cut mid-sentence
MIN_CLIP_SECONDS = 0.1
SILENCE_DBFS = -60.0

ERROR = "error"
WARNING = "warning"

# kind -> (severity, what it means); the keys are a stable vocabulary for the UI and CLI.
PROBLEM_KINDS: dict[str, tuple[str, str]] = {
    "missing": (ERROR, "audio file not found (or no file_name)"),
    "unreadable": (ERROR, "not a readable audio file"),
    "escapes_folder": (ERROR, "path leads outside the dataset folder; not read"),
    "encoding": (ERROR, "text that is not valid UTF-8 in metadata.csv"),
    "empty_transcript": (ERROR, "empty transcription"),
    "duplicate": (ERROR, "file listed more than once"),
    "too_short": (ERROR, f"shorter than {MIN_CLIP_SECONDS:g} s"),
    "too_long": (WARNING, f"longer than {MAX_CLIP_SECONDS:g} s; skipped in training"),
    "transcript_too_long": (WARNING, "more tokens than Whisper's decoder holds; skipped in training"),
    "implausible_rate": (WARNING, "words per second implausible for the clip (wrong transcript?); skipped"),
    "odd_sample_rate": (WARNING, f"not {SAMPLE_RATE} Hz; will be resampled"),
    "silence": (WARNING, f"silent (below {SILENCE_DBFS:g} dBFS)"),
    "extra_column": (WARNING, "extra column(s) not trained on"),
}
# Extra columns with a known meaning: no warning for them. `speaker` and `split` are read by the
# train/test split; the others are written by labelling and import tools and kept as they are.
KNOWN_COLUMNS = ("speaker", "split", "source", "confidence", "no_speech", "flags", "status", "duration",
                 "start", "end", "language", "gender", "age", "accent")
_TEXT_ALIASES = ("text", "transcript", "sentence", "sentences", "label", "normalized_text", "caption")



@dataclass(frozen=True)
class Clip:
    file_name: str  # as written in metadata.csv
    path: Path  # resolved, inside the dataset folder
    transcription: str
    row: int  # line of metadata.csv where the row starts (header = 1)
    # Other metadata.csv columns of this row, (lower-case name, value) pairs: `speaker` and `split` decide
    # how the data is split (splitting.py); the rest is carried for the tools that wrote it.
    extra: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def column(self, name: str, default: str = "") -> str:
        """The value of another metadata.csv column on this row ("" when the row or the file has none)."""
        return next((v for k, v in self.extra if k == name), default)


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str  # names the file; the row is in `row`
    row: int | None = None
    file_name: str = ""
    severity: str = ERROR
    hint: str = ""

    def __str__(self) -> str:
        where = f"row {self.row}: " if self.row else ""
        return f"{where}{self.message}" + (f" — {self.hint}" if self.hint else "")


def make_problem(kind: str, message: str, row: int | None = None, file_name: str = "", hint: str = "") -> Problem:
    return Problem(kind, message, row, file_name, PROBLEM_KINDS[kind][0], hint)



# --------------------------------------------------------------------------- reading metadata


def dataset_folder(folder: str | os.PathLike) -> Path:
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise DatasetError(f"Dataset folder not found: {folder}", "check the path (data.train_dir / data.test_dir)",
                           where=str(folder))
    if not folder.is_dir():
        raise DatasetError(f"Not a folder: {folder}",
                           f"a dataset is a folder holding the audio files and {METADATA_FILE}", where=str(folder))
    return folder


def _decode(raw: bytes) -> str:
    """UTF-8 (BOM or not) with bad bytes kept as surrogates so the row can be named later."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text"
        return raw.decode("utf-16", errors="replace")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.decode("utf-8", errors="surrogateescape")


_SURROGATES = re.compile("[\udc80-\udcff]")


def _bad_bytes(text: str) -> list[str]:
    """Undecodable bytes (kept as surrogates) and U+FFFD left by an earlier bad conversion."""
    out = [f"0x{ord(ch) - 0xDC00:02X}" for ch in _SURROGATES.findall(text)]
    return out + ["U+FFFD"] * text.count("\ufffd")


def _clean(text: str) -> str:
    return _SURROGATES.sub("\ufffd", text)


def csv_rows(text: str, delimiter: str, csv_path: Path) -> list[tuple[int, list[str]]]:
    """(start line, fields) for every non-blank record."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out: list[tuple[int, list[str]]] = []
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DatasetError(f"{csv_path} line {start}: cannot parse CSV ({exc})",
                               "check the quotes on that line; quote transcripts that contain commas",
                               where=f"{csv_path}:{start}") from exc
        if fields and any(f.strip() for f in fields):
            out.append((start, fields))
    _check_unclosed_quote(out, csv_path)
    return out


_ROW_START = re.compile(r"\n[^\n,;\t]+\.(" + "|".join(e.lstrip(".") for e in sorted(AUDIO_EXTENSIONS)) + r")\s*[,;\t]",
                        re.IGNORECASE)


def _check_unclosed_quote(records: list[tuple[int, list[str]]], csv_path: Path) -> None:
    """A quote never closed swallows every later row into one transcript; say so instead."""
    if not records:
        return
    start, fields = records[-1]
    if any(_ROW_START.search(f) for f in fields):
        raise DatasetError(f"{csv_path} line {start}: a quote (\") opened on this row is never closed, "
                           "so the rows after it were read as part of its transcription",
                           "close the quote, or double it (\"\") if it is part of the text",
                           where=f"{csv_path}:{start}")


def csv_header(records: list[tuple[int, list[str]]], text: str, csv_path: Path):
    """Find the delimiter and column positions; DatasetError naming what is missing."""
    if not records:
        raise DatasetError(f"{csv_path} is empty", f"the first line must be `{FILE_COLUMN},{TEXT_COLUMN}`, "
                           "then one row per clip", where=str(csv_path))
    names = [h.strip().lower() for h in records[0][1]]
    if len(names) == 1:
        for delimiter in ("\t", ";"):
            if delimiter in records[0][1][0]:
                alt = csv_rows(text, delimiter, csv_path)
                alt_names = [h.strip().lower() for h in alt[0][1]]
                if FILE_COLUMN in alt_names and TEXT_COLUMN in alt_names:
                    return alt, alt_names, delimiter
    missing = [c for c in (FILE_COLUMN, TEXT_COLUMN) if c not in names]
    if missing:
        found = ", ".join(repr(n) for n in names) or "nothing"
        hint = f"the first line must be `{FILE_COLUMN},{TEXT_COLUMN}` (Hugging Face AudioFolder format)"
        alias = next((n for n in names if n in _TEXT_ALIASES), None)
        if TEXT_COLUMN in missing and alias:
            hint = f"rename the column {alias!r} to {TEXT_COLUMN!r}"
        elif names and Path(names[0]).suffix in AUDIO_EXTENSIONS:
            hint = f"the first line looks like data: add the header line `{FILE_COLUMN},{TEXT_COLUMN}` above it"
        raise DatasetError(f"{csv_path}: missing column {', '.join(repr(m) for m in missing)} (found {found})",
                           hint, where=str(csv_path))
    return records, names, ","


def _resolve_inside(folder_real: Path, folder: Path, name: str) -> tuple[Path | None, Path]:
    """(path inside the folder or None, where it actually leads). Looks at links, never opens the file."""
    rel = name
    if "\\" in name and not (folder / name).exists():
        rel = name.replace("\\", "/")  # written on Windows
    candidate = Path(rel)
    full = candidate if candidate.is_absolute() else folder / candidate
    try:
        real = full.resolve()
    except (OSError, RuntimeError):  # symlink loop
        return None, full
    return (real if real.is_relative_to(folder_real) else None), real


def _sidecar_rows(folder: Path) -> list[tuple[str, str]]:
    """(audio file name, transcript) for audio files in `folder`, when any has a `.txt` beside it."""
    audio = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()
                   and not p.name.startswith("."))
    if not any(p.with_suffix(".txt").is_file() for p in audio):
        return []
    folder_real = folder.resolve()
    rows = []
    for p in audio:
        txt = p.with_suffix(".txt")
        inside = txt.is_file() and txt.resolve().is_relative_to(folder_real)  # never read a link out
        text = _decode(txt.read_bytes()) if inside else ""
        rows.append((p.name, " ".join(text.split())))
    return rows


def metadata_csv_bytes(rows: list[tuple[str, ...]], extra_columns: tuple[str, ...] = ()) -> bytes:
    """metadata.csv text: file_name, transcription, then `extra_columns` (each row gives a value per column)."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([FILE_COLUMN, TEXT_COLUMN, *extra_columns])
    writer.writerows(rows)
    # surrogateescape writes undecodable sidecar bytes back as they were, so reading flags their row.
    return buf.getvalue().encode("utf-8", errors="surrogateescape")


def ensure_metadata(folder: str | os.PathLike) -> bool:
    """Write metadata.csv from `.txt` sidecars if it is missing (atomically). True if written."""
    folder = dataset_folder(folder)
    target = folder / METADATA_FILE
    if target.exists():
        return False
    rows = _sidecar_rows(folder)
    if not rows:
        return False
    try:
        atomic_write_bytes(target, metadata_csv_bytes(rows))
    except PermissionError as exc:
        raise DatasetError(f"Cannot write {target}: permission denied",
                           f"make the folder writable or create {METADATA_FILE} yourself", where=str(target)) from exc
    return True


def read_metadata(folder: str | os.PathLike) -> tuple[list[Clip], list[Problem]]:
    """Parse metadata.csv (or the `.txt` sidecars, in memory, if there is none). Opens no audio."""
    folder = dataset_folder(folder)
    csv_path = folder / METADATA_FILE
    if csv_path.is_file():
        try:
            text = _decode(csv_path.read_bytes())
        except OSError as exc:
            raise DatasetError(f"Cannot read {csv_path}: {exc.strerror}", "check the file's permissions",
                               where=str(csv_path)) from exc
    else:
        rows = _sidecar_rows(folder)
        if not rows:
            raise DatasetError(f"No {METADATA_FILE} in {folder}",
                               f"add {METADATA_FILE} with the columns `{FILE_COLUMN},{TEXT_COLUMN}`, "
                               "or a .txt transcript beside each audio file", where=str(folder))
        text = metadata_csv_bytes(rows).decode("utf-8", errors="surrogateescape")
    records, names, _delimiter = csv_header(csv_rows(text, ",", csv_path), text, csv_path)
    return _rows_to_clips(folder, csv_path, records, names)


def _rows_to_clips(folder: Path, csv_path: Path, records, names) -> tuple[list[Clip], list[Problem]]:
    problems: list[Problem] = []
    fi, ti = names.index(FILE_COLUMN), names.index(TEXT_COLUMN)
    extra_at = [(i, n) for i, n in enumerate(names) if i not in (fi, ti) and n]
    extra = [n or f"(column {i + 1})" for i, n in enumerate(names) if i not in (fi, ti) and n not in KNOWN_COLUMNS]
    if extra:
        problems.append(make_problem("extra_column", f"{METADATA_FILE} has extra column(s) "
                                 f"{', '.join(repr(e) for e in extra)}; they are not trained on", 1,
                                 hint="a column can still decide the train/test split: data.split_by = its name"))
    folder_real = folder.resolve()
    clips: list[Clip] = []
    first_row: dict[Path, int] = {}
    for row, fields in records[1:]:
        if len(fields) > len(names):
            if ti == len(names) - 1:  # an unquoted comma inside the transcript: keep the whole text
                fields = fields[:ti] + [",".join(fields[ti:])]
                how = "joined into the transcription"
            else:
                how = "ignored"
            problems.append(make_problem("extra_column", f"{_clean(fields[fi]).strip()}: more fields than the header "
                                     f"has columns; the extra ones were {how}", row, _clean(fields[fi]).strip(),
                                     "quote transcripts that contain commas"))
        fields = fields + [""] * (len(names) - len(fields))
        raw_name, raw_text = fields[fi].strip(), " ".join(fields[ti].split())
        name, transcription = _clean(raw_name), _clean(raw_text)
        bad = _bad_bytes(raw_name + raw_text)
        if bad:
            problems.append(make_problem("encoding", f"{name or '(no file_name)'}: text that is not valid UTF-8 "
                                     f"({', '.join(sorted(set(bad)))}) in {METADATA_FILE}", row, name,
                                     f"re-save {METADATA_FILE} as UTF-8"))
        if not name:
            problems.append(make_problem("missing", "no file_name on this row", row, "",
                                     f"fill in the {FILE_COLUMN} column or delete the row"))
            continue
        path, leads_to = _resolve_inside(folder_real, folder, raw_name)
        if path is None:
            problems.append(make_problem("escapes_folder", f"{name} leads outside the dataset folder (to {leads_to}); "
                                     "it was not read", row, name,
                                     "copy the clip into the dataset folder and give its path relative to it"))
            continue
        if not transcription:
            problems.append(make_problem("empty_transcript", f"{name} has an empty transcription", row, name,
                                     "type what is said in the clip, or delete the row"))
        if path in first_row:
            problems.append(make_problem("duplicate", f"{name} is listed again (first on row {first_row[path]}); "
                                     "this row is not used", row, name, "delete one of the rows"))
        else:
            first_row[path] = row
        clips.append(Clip(name, path, transcription, row,
                          tuple((n, " ".join(_clean(fields[i]).split())) for i, n in extra_at)))
    return clips, problems
