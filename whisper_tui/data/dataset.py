"""A dataset is a folder of audio clips plus `metadata.csv` (`file_name,transcription`).

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
- Validation reads headers only, plus the samples of small files for the silence check, so a
  hundred clips validate in well under two seconds.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from whisper_tui.storage.atomic import atomic_write_bytes
from whisper_tui.data.audio import AUDIO_EXTENSIONS, SAMPLE_RATE, AudioInfo, audio_info, read_mono
from whisper_tui.errors import AudioError, DatasetError, WhisperTuiError
from whisper_tui.data.splitting import AUTO, Split, check_separate_test_set, split_dataset
from whisper_tui.models.window import WHISPER_WINDOW_S, suggested_window_s

METADATA_FILE = "metadata.csv"
FILE_COLUMN = "file_name"
TEXT_COLUMN = "transcription"
MAX_CLIP_SECONDS = float(WHISPER_WINDOW_S)  # longer clips would be cut mid-sentence
MIN_CLIP_SECONDS = 0.1
SILENCE_DBFS = -60.0
_SILENCE_RMS = 10 ** (SILENCE_DBFS / 20)
# Samples (frames x channels) we are willing to decode just to look for silence.
_SILENCE_MAX_SAMPLES = {"pcm": 3_000_000, "compressed": 400_000}

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
# warnings that still keep a clip out of training (and out of the test set: its WER would mislead)
_NOT_FOR_TRAINING = {"too_long", "transcript_too_long", "implausible_rate"}
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


def _problem(kind: str, message: str, row: int | None = None, file_name: str = "", hint: str = "") -> Problem:
    return Problem(kind, message, row, file_name, PROBLEM_KINDS[kind][0], hint)


# --------------------------------------------------------------------------- reading metadata


def _dataset_folder(folder: str | os.PathLike) -> Path:
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


def _records(text: str, delimiter: str, csv_path: Path) -> list[tuple[int, list[str]]]:
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


def _header(records: list[tuple[int, list[str]]], text: str, csv_path: Path):
    """Find the delimiter and column positions; DatasetError naming what is missing."""
    if not records:
        raise DatasetError(f"{csv_path} is empty", f"the first line must be `{FILE_COLUMN},{TEXT_COLUMN}`, "
                           "then one row per clip", where=str(csv_path))
    names = [h.strip().lower() for h in records[0][1]]
    if len(names) == 1:
        for delimiter in ("\t", ";"):
            if delimiter in records[0][1][0]:
                alt = _records(text, delimiter, csv_path)
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
    folder = _dataset_folder(folder)
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
    folder = _dataset_folder(folder)
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
    records, names, _delimiter = _header(_records(text, ",", csv_path), text, csv_path)
    return _rows_to_clips(folder, csv_path, records, names)


def _rows_to_clips(folder: Path, csv_path: Path, records, names) -> tuple[list[Clip], list[Problem]]:
    problems: list[Problem] = []
    fi, ti = names.index(FILE_COLUMN), names.index(TEXT_COLUMN)
    extra_at = [(i, n) for i, n in enumerate(names) if i not in (fi, ti) and n]
    extra = [n or f"(column {i + 1})" for i, n in enumerate(names) if i not in (fi, ti) and n not in KNOWN_COLUMNS]
    if extra:
        problems.append(_problem("extra_column", f"{METADATA_FILE} has extra column(s) "
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
            problems.append(_problem("extra_column", f"{_clean(fields[fi]).strip()}: more fields than the header "
                                     f"has columns; the extra ones were {how}", row, _clean(fields[fi]).strip(),
                                     "quote transcripts that contain commas"))
        fields = fields + [""] * (len(names) - len(fields))
        raw_name, raw_text = fields[fi].strip(), " ".join(fields[ti].split())
        name, transcription = _clean(raw_name), _clean(raw_text)
        bad = _bad_bytes(raw_name + raw_text)
        if bad:
            problems.append(_problem("encoding", f"{name or '(no file_name)'}: text that is not valid UTF-8 "
                                     f"({', '.join(sorted(set(bad)))}) in {METADATA_FILE}", row, name,
                                     f"re-save {METADATA_FILE} as UTF-8"))
        if not name:
            problems.append(_problem("missing", "no file_name on this row", row, "",
                                     f"fill in the {FILE_COLUMN} column or delete the row"))
            continue
        path, leads_to = _resolve_inside(folder_real, folder, raw_name)
        if path is None:
            problems.append(_problem("escapes_folder", f"{name} leads outside the dataset folder (to {leads_to}); "
                                     "it was not read", row, name,
                                     "copy the clip into the dataset folder and give its path relative to it"))
            continue
        if not transcription:
            problems.append(_problem("empty_transcript", f"{name} has an empty transcription", row, name,
                                     "type what is said in the clip, or delete the row"))
        if path in first_row:
            problems.append(_problem("duplicate", f"{name} is listed again (first on row {first_row[path]}); "
                                     "this row is not used", row, name, "delete one of the rows"))
        else:
            first_row[path] = row
        clips.append(Clip(name, path, transcription, row,
                          tuple((n, " ".join(_clean(fields[i]).split())) for i, n in extra_at)))
    return clips, problems


# --------------------------------------------------------------------------- validation


def _is_pcm(subtype: str) -> bool:
    return subtype.startswith(("PCM", "FLOAT", "DOUBLE", "ULAW", "ALAW"))


def _silence_checkable(info: AudioInfo) -> bool:
    limit = _SILENCE_MAX_SAMPLES["pcm" if _is_pcm(info.subtype) else "compressed"]
    return info.frames * info.channels <= limit


def _audio_problems(clip: Clip, check_silence: bool) -> tuple[AudioInfo | None, list[Problem]]:
    name, row = clip.file_name, clip.row
    if not clip.path.exists():
        return None, [_problem("missing", f"{name} not found ({clip.path})", row, name,
                               "copy the file into the dataset folder or fix the file_name")]
    try:
        info = audio_info(clip.path)
    except AudioError as exc:
        return None, [_problem("unreadable", exc.message, row, name, exc.hint)]
    out = []
    if info.duration_s < MIN_CLIP_SECONDS:
        out.append(_problem("too_short", f"{name} lasts {info.duration_s:.3f} s", row, name,
                            "re-export the clip or delete the row"))
    elif info.duration_s > MAX_CLIP_SECONDS:
        out.append(_problem("too_long", f"{name} lasts {info.duration_s:.1f} s (Whisper sees {MAX_CLIP_SECONDS:g} s)",
                            row, name, f"split it into clips under {MAX_CLIP_SECONDS:g} s"))
    if info.sample_rate != SAMPLE_RATE:
        out.append(_problem("odd_sample_rate", f"{name} is {info.sample_rate} Hz; it will be resampled to "
                            f"{SAMPLE_RATE} Hz", row, name, f"export at {SAMPLE_RATE} Hz to skip resampling"))
    if check_silence and info.duration_s >= MIN_CLIP_SECONDS and _silence_checkable(info):
        try:
            wave, _sr = read_mono(clip.path)
        except AudioError as exc:
            return info, out + [_problem("unreadable", exc.message, row, name, exc.hint)]
        level = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
        if level < _SILENCE_RMS:
            how = f"{20 * np.log10(level):.0f} dBFS" if level > 0 else "every sample is zero"
            out.append(_problem("silence", f"{name} is silent ({how})", row, name,
                                "check the recording; a silent clip teaches the model to hallucinate"))
    return info, out


@dataclass
class DatasetReport:
    """Everything `whisper-tui validate` and the dataset browser show about one folder."""

    folder: Path
    clips: list[Clip]
    clip_infos: dict[str, AudioInfo]  # by Clip.file_name; absent when the file is missing/unreadable
    problems: list[Problem]
    metadata_generated: bool = False  # metadata.csv was just written from .txt sidecars
    test_report: DatasetReport | None = None  # set by load_dataset_split for an explicit test folder
    split: Split | None = None  # set by load_dataset_split: which clips train and test, and how
    _usable: list[Clip] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        excluded = {p.row for p in self.problems if p.row is not None
                    and (p.severity == ERROR or p.kind in _NOT_FOR_TRAINING)}
        self._usable = [c for c in self.clips if c.row not in excluded]

    @property
    def usable_clips(self) -> list[Clip]:
        """Clips with no error and not too long: what training and evaluation use."""
        return list(self._usable)

    @property
    def counts(self) -> dict[str, int]:
        """Problems per kind, only kinds that occur, in the PROBLEM_KINDS order."""
        c = Counter(p.kind for p in self.problems)
        return {k: c[k] for k in PROBLEM_KINDS if c[k]}

    def left_out(self) -> dict[str, int]:
        """Why rows are not used for training or testing: rows per problem kind (a row counts once, under its
        first such problem), in the PROBLEM_KINDS order."""
        used = {c.row for c in self._usable}
        first: dict = {}
        for p in self.problems:
            if p.row is not None and p.row not in used and (p.severity == ERROR or p.kind in _NOT_FOR_TRAINING):
                first.setdefault(p.row, p.kind)
        c = Counter(first.values())
        return {k: c[k] for k in PROBLEM_KINDS if c[k]}

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    def problems_for(self, clip: Clip) -> list[Problem]:
        return [p for p in self.problems if p.row == clip.row]

    def durations(self, usable_only: bool = False) -> list[float]:
        """One duration per distinct file (duplicates counted once)."""
        clips = self._usable if usable_only else self.clips
        seen, out = set(), []
        for c in clips:
            info = self.clip_infos.get(c.file_name)
            if info is not None and c.path not in seen:
                seen.add(c.path)
                out.append(info.duration_s)
        return out

    @property
    def total_seconds(self) -> float:
        return float(sum(self.durations()))

    @property
    def usable_seconds(self) -> float:
        return float(sum(self.durations(usable_only=True)))

    @property
    def total_hours(self) -> float:
        return self.total_seconds / 3600

    def format_text(self, max_rows: int | None = None) -> str:
        lines = [f"Dataset: {self.folder}"]
        if self.metadata_generated:
            lines.append(f"  ({METADATA_FILE} was generated from the .txt files beside the audio)")
        lines.append(f"Clips: {len(self.clips)} listed, {len(self._usable)} usable for training")
        lines.append(f"Audio: {_hms(self.total_seconds)} in total ({self.total_hours:.2f} h), "
                     f"{_hms(self.usable_seconds)} usable")
        durs = self.durations()
        if durs:
            lines.append(f"Durations: min {min(durs):.1f} s, median {float(np.median(durs)):.1f} s, "
                         f"max {max(durs):.1f} s")
            window = suggested_window_s(max(durs))
            if window:
                lines.append(f"Tip: every clip fits a {window} s encoder window; training with "
                             f"--set model.window_s={window} runs faster and so does the tuned model "
                             "(README: Short encoder windows)")
        if self.split is not None:
            lines.append(f"Split: {self.split.summary()}")
            groups = self.split.test_groups()
            if groups:
                lines.append(f"  test set: {self.split.describe_test()}")
            for note in self.split.notes:
                lines.append(f"  warning: {note}")
        if not self.problems:
            lines.append("No problems found.")
            return "\n".join(lines)
        lines.append(f"Problems: {len(self.errors)} error(s), {len(self.warnings)} warning(s)")
        for kind, n in self.counts.items():
            severity, meaning = PROBLEM_KINDS[kind]
            lines.append(f"  {kind:<17} {n:>5}  {severity:<7}  {meaning}")
        lines.append("Rows:")
        shown = sorted(self.problems, key=lambda p: (p.row or 0, list(PROBLEM_KINDS).index(p.kind)))
        for p in shown[:max_rows] if max_rows is not None else shown:
            where = f"row {p.row}" if p.row else "file"
            hint = f" — {p.hint}" if p.hint else ""
            lines.append(f"  {where:>9}  {p.severity:<7}  {p.kind:<17} {p.message}{hint}")
        if max_rows is not None and len(shown) > max_rows:
            lines.append(f"  ... and {len(shown) - max_rows} more")
        return "\n".join(lines)


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _transcript_problems(clips: list[Clip], infos: dict[str, AudioInfo], skip_rows: set) -> list[Problem]:
    """Transcripts too long for the decoder, and word rates no speaker has (transcript_checks.py)."""
    from whisper_tui.data.transcript_checks import MAX_TRANSCRIPT_TOKENS, implausible_rate, token_counts

    checked = [c for c in clips if c.row not in skip_rows and c.transcription.strip()]
    out = []
    counts = token_counts([c.transcription for c in checked]) or [0] * len(checked)
    for clip, tokens in zip(checked, counts):
        name = clip.file_name
        if tokens > MAX_TRANSCRIPT_TOKENS:
            out.append(_problem("transcript_too_long", f"{name}: the transcript is {tokens} tokens; Whisper's decoder "
                                f"holds {MAX_TRANSCRIPT_TOKENS}", clip.row, name,
                                "split the clip and its transcript into shorter ones (e.g. whisper-tui import)"))
        info = infos.get(name)
        why = implausible_rate(clip.transcription, info.duration_s) if info is not None else None
        if why is not None and not any(p.row == clip.row for p in out):
            out.append(_problem("implausible_rate", f"{name}: {why}", clip.row, name,
                                "check that the transcript belongs to this file and is complete"))
    return out


def validate_dataset(folder: str | os.PathLike, *, check_silence: bool = True) -> DatasetReport:
    """Read metadata (generating it from sidecars if need be) and check every listed clip."""
    folder = _dataset_folder(folder)
    try:
        generated = ensure_metadata(folder)
    except WhisperTuiError:
        generated = False  # read-only folder: read_metadata uses the sidecars in memory
    clips, problems = read_metadata(folder)
    duplicate_rows = {p.row for p in problems if p.kind == "duplicate"}
    infos: dict[str, AudioInfo] = {}
    for clip in clips:
        if clip.row in duplicate_rows:
            continue  # the first row for this file is checked
        info, found = _audio_problems(clip, check_silence)
        if info is not None:
            infos[clip.file_name] = info
        problems.extend(found)
    for clip in clips:  # duplicates share the first row's file
        if clip.row in duplicate_rows and clip.file_name not in infos:
            first = next((c for c in clips if c.path == clip.path and c.file_name in infos), None)
            if first is not None:
                infos[clip.file_name] = infos[first.file_name]
    # rows already left out (an error, too long) need no second reason
    already_out = duplicate_rows | {p.row for p in problems if p.severity == ERROR or p.kind in _NOT_FOR_TRAINING}
    problems.extend(_transcript_problems(clips, infos, already_out))
    order = list(PROBLEM_KINDS)
    problems.sort(key=lambda p: (p.row or 0, order.index(p.kind)))
    return DatasetReport(folder, clips, infos, problems, generated)


# --------------------------------------------------------------------------- splitting


def _split_key(seed: int, clip: Clip) -> str:
    return hashlib.sha256(f"{seed}\0{clip.file_name}".encode("utf-8", "surrogatepass")).hexdigest()


def split_clips(clips: list[Clip], test_split: float, seed: int = 42) -> tuple[list[Clip], list[Clip]]:
    """Deterministic train/test split: each clip's side depends on (seed, file name), not on row order.

    0.0 -> no test clips, 1.0 -> all clips are test clips; in between at least one clip on each
    side when there are two or more. Both lists keep metadata order.
    """
    if not isinstance(test_split, (int, float)) or not 0.0 <= float(test_split) <= 1.0:
        raise DatasetError(f"test_split must be between 0 and 1, got {test_split!r}",
                           "use e.g. 0.2 for 20% test clips", where="data.test_split")
    clips = list(clips)
    n = len(clips)
    n_test = int(round(n * float(test_split)))
    if 0.0 < test_split < 1.0 and n >= 2:
        n_test = min(max(n_test, 1), n - 1)
    ranked = sorted(range(n), key=lambda i: _split_key(seed, clips[i]))
    test_idx = set(ranked[:n_test])
    return ([c for i, c in enumerate(clips) if i not in test_idx],
            [c for i, c in enumerate(clips) if i in test_idx])


def load_dataset_split(train_dir: str | os.PathLike, test_split: float = 0.2, seed: int = 42,
                       test_dir: str | os.PathLike | None = None,
                       split_by: str = AUTO, only_reviewed=None) -> tuple[list[Clip], list[Clip], DatasetReport]:
    """Validated usable clips split into train/test; an explicit `test_dir` replaces `test_split`.

    The split holds out whole groups (`split_by`, see splitting.py): by default no sentence is on
    both sides. The report's `split` says how it was made and what was left out; with `test_dir`
    its `test_report` holds the test folder's report. Problem rows are reported, not raised: the
    caller decides what to do with zero usable clips. `only_reviewed` (data.only_reviewed: None/"auto" =
    on when metadata.csv has a status column) keeps only rows marked reviewed (review.py), on both sides.
    """
    from whisper_tui.data.review import reviewed_clips

    report = validate_dataset(train_dir)
    usable, _filtered = reviewed_clips(report.usable_clips, only_reviewed, report.folder)
    if test_dir is None:
        report.split = split_dataset(usable, test_split, seed, split_by)
        return report.split.train, report.split.test, report
    if Path(test_dir).expanduser().resolve() == report.folder.resolve():
        raise DatasetError(f"The test folder is the training folder: {test_dir}",
                           "leave data.test_dir empty to split the folder with data.test_split",
                           where="data.test_dir")
    report.test_report = validate_dataset(test_dir)
    test_usable, _filtered = reviewed_clips(report.test_report.usable_clips, only_reviewed, report.test_report.folder)
    report.split = check_separate_test_set(usable, test_usable)
    return report.split.train, report.split.test, report


# --------------------------------------------------------------------------- for the UI


def duration_histogram(durations, bin_seconds: float = 1.0, max_seconds: float | None = None):
    """[(start_s, end_s, count)] with fixed-width bins from 0; the last bin catches everything above max."""
    durs = [float(d) for d in durations]
    if not durs:
        return []
    top = max(durs) if max_seconds is None else max_seconds
    n_bins = max(1, int(np.ceil(top / bin_seconds)))
    counts = [0] * n_bins
    for d in durs:
        counts[min(int(d // bin_seconds), n_bins - 1)] += 1
    return [(i * bin_seconds, (i + 1) * bin_seconds, c) for i, c in enumerate(counts)]
