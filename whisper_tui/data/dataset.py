"""Validate a dataset folder (metadata.csv read by metadata.py) and split it into train and test.

Validation reads headers only, plus the samples of small files for the silence check, so a hundred clips
validate in well under two seconds. Every problem is a `Problem` (metadata.py) whose `kind` the UI and CLI
key on; `DatasetReport` is what `whisper-tui validate` and the dataset browser show. `load_dataset_split`
validates, keeps the reviewed rows (review.py) and splits by whole groups (splitting.py).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from whisper_tui.data.audio import SAMPLE_RATE, AudioInfo, audio_info, read_mono
from whisper_tui.data.metadata import (  # noqa: F401  (the names other modules read from here too)
    ERROR,
    FILE_COLUMN,
    KNOWN_COLUMNS,
    MAX_CLIP_SECONDS,
    METADATA_FILE,
    MIN_CLIP_SECONDS,
    PROBLEM_KINDS,
    SILENCE_DBFS,
    TEXT_COLUMN,
    WARNING,
    Clip,
    Problem,
    dataset_folder,
    ensure_metadata,
    make_problem,
    metadata_csv_bytes,
    read_metadata,
)
from whisper_tui.data.review import reviewed_clips
from whisper_tui.data.splitting import AUTO, Split, check_separate_test_set, split_dataset
from whisper_tui.errors import AudioError, DatasetError, WhisperTuiError
from whisper_tui.models.window import suggested_window_s

_SILENCE_RMS = 10 ** (SILENCE_DBFS / 20)
# Samples (frames x channels) we are willing to decode just to look for silence.
_SILENCE_MAX_SAMPLES = {"pcm": 3_000_000, "compressed": 400_000}
# warnings that still keep a clip out of training (and out of the test set: its WER would mislead)
_NOT_FOR_TRAINING = {"too_long", "transcript_too_long", "implausible_rate"}


# --------------------------------------------------------------------------- validation


def _is_pcm(subtype: str) -> bool:
    return subtype.startswith(("PCM", "FLOAT", "DOUBLE", "ULAW", "ALAW"))


def _silence_checkable(info: AudioInfo) -> bool:
    limit = _SILENCE_MAX_SAMPLES["pcm" if _is_pcm(info.subtype) else "compressed"]
    return info.frames * info.channels <= limit


def _audio_problems(clip: Clip, check_silence: bool) -> tuple[AudioInfo | None, list[Problem]]:
    name, row = clip.file_name, clip.row
    if not clip.path.exists():
        return None, [make_problem("missing", f"{name} not found ({clip.path})", row, name,
                               "copy the file into the dataset folder or fix the file_name")]
    try:
        info = audio_info(clip.path)
    except AudioError as exc:
        return None, [make_problem("unreadable", exc.message, row, name, exc.hint)]
    out = []
    if info.duration_s < MIN_CLIP_SECONDS:
        out.append(make_problem("too_short", f"{name} lasts {info.duration_s:.3f} s", row, name,
                            "re-export the clip or delete the row"))
    elif info.duration_s > MAX_CLIP_SECONDS:
        out.append(make_problem("too_long", f"{name} lasts {info.duration_s:.1f} s (Whisper sees {MAX_CLIP_SECONDS:g} s)",
                            row, name, f"split it into clips under {MAX_CLIP_SECONDS:g} s"))
    if info.sample_rate != SAMPLE_RATE:
        out.append(make_problem("odd_sample_rate", f"{name} is {info.sample_rate} Hz; it will be resampled to "
                            f"{SAMPLE_RATE} Hz", row, name, f"export at {SAMPLE_RATE} Hz to skip resampling"))
    if check_silence and info.duration_s >= MIN_CLIP_SECONDS and _silence_checkable(info):
        try:
            wave, _sr = read_mono(clip.path)
        except AudioError as exc:
            return info, out + [make_problem("unreadable", exc.message, row, name, exc.hint)]
        level = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
        if level < _SILENCE_RMS:
            how = f"{20 * np.log10(level):.0f} dBFS" if level > 0 else "every sample is zero"
            out.append(make_problem("silence", f"{name} is silent ({how})", row, name,
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
            out.append(make_problem("transcript_too_long", f"{name}: the transcript is {tokens} tokens; Whisper's decoder "
                                f"holds {MAX_TRANSCRIPT_TOKENS}", clip.row, name,
                                "split the clip and its transcript into shorter ones (e.g. whisper-tui import)"))
        info = infos.get(name)
        why = implausible_rate(clip.transcription, info.duration_s) if info is not None else None
        if why is not None and not any(p.row == clip.row for p in out):
            out.append(make_problem("implausible_rate", f"{name}: {why}", clip.row, name,
                                "check that the transcript belongs to this file and is complete"))
    return out


def validate_dataset(folder: str | os.PathLike, *, check_silence: bool = True) -> DatasetReport:
    """Read metadata (generating it from sidecars if need be) and check every listed clip."""
    folder = dataset_folder(folder)
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
