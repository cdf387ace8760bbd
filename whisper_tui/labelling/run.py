"""`label_folder(audio_dir, out_dir)`: a folder of recordings in, a dataset to review out.

Every audio file under `audio_dir` (recursively) becomes rows of `out_dir/metadata.csv`
(`table.LABEL_COLUMNS`) with a clip each under `out_dir/clips/`: a file of at most `max_s`
seconds is one clip (copied as it is); a longer one is cut at pauses (`segments.py`) and each clip
keeps the text its 30 s window gave it. Decoded with that context, tiny.en (int8) hears a
recording with room noise better than clip by clip: label WER 0.129 in context vs 0.194 for the
same clips decoded alone, on eSpeak sentences (0.034 vs 0.034 on the Asterisk prompts), so the
extra decoding of every clip would cost twice the time for a worse text. A relabel decodes each
clip file on its own (the recording may be gone; only the clip is sure to be there). Silence and
music are left out and counted (`verdict.py`). An any-window model (window.py) decodes a file kept
whole, and a relabelled clip, at the shortest of its windows that holds it; a longer recording is
cut in windows of its longest (`decoding.window_to_decode`).

Running it again on the same `out_dir` is how a dataset gets better:
- a file already labelled, unchanged, with the same model and its `auto` rows as they were
  written is skipped: an interrupted run continues where it stopped;
- with another model (a fine-tune of this very data), every row still `auto` is transcribed
  again from its clip; a row with any other status (`reviewed`) is left byte for byte as it is,
  and so is its clip;
- an `auto` row edited by hand is transcribed again; a recording that changed on disk is cut
  again (its `auto` rows replaced; a reviewed row's span is not labelled twice).

`out_dir/label.json` records the last run (model, backend, counts, speed) and, per recording, its
size and mtime, the model that labelled it and the texts written, which is how the next run
knows what it may skip. metadata.csv and label.json are written atomically after every file, so
a Ctrl+C (`should_stop`) or a kill loses at most the file in progress.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from whisper_tui.data.audio import AUDIO_EXTENSIONS, SAMPLE_RATE, audio_info
from whisper_tui.data.sinc_resample import load_audio  # numpy resampling: no torch on the ct2 path
from whisper_tui.errors import AudioError, DatasetError, WhisperTuiError
from whisper_tui.inference.backends import windows_label
from whisper_tui.inference import energy
from whisper_tui.labelling.segments import MAX_CLIP_S, PlannedClip, decode_long, plan_clips
from whisper_tui.labelling.table import AUTO, LabelTable, Row, format_number, format_source
from whisper_tui.labelling.verdict import judge
from whisper_tui.storage.atomic import atomic_write_bytes, atomic_write_text

LABEL_FILE = "label.json"
CLIPS_DIR = "clips"
STATE_VERSION = 1


@dataclass(frozen=True)
class LabelProgress:
    done_s: float
    total_s: float
    files_done: int
    files_total: int
    current: str


@dataclass
class LabelReport:
    out_dir: Path
    model: str = ""
    backend: str = ""
    files: int = 0  # recordings found
    files_labelled: int = 0  # cut and transcribed this run
    files_relabelled: int = 0  # existing rows transcribed again
    files_skipped: int = 0  # already done, nothing to do
    written: int = 0  # new rows
    relabelled: int = 0  # auto rows transcribed again
    changed: int = 0  # of those, how many texts changed
    kept_reviewed: int = 0  # rows not auto, left as they were
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> clips
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    audio_s: float = 0.0  # seconds of audio decoded this run
    elapsed_s: float = 0.0
    load_s: float = 0.0  # of elapsed_s, loading the model
    stopped: bool = False
    windows: tuple[int, ...] = ()  # the model's windows (several: an any-window model), once it is loaded

    @property
    def audio_seconds_per_second(self) -> float:
        """Labelling speed, not counting the model's loading."""
        busy = self.elapsed_s - self.load_s
        return self.audio_s / busy if busy > 0 else 0.0

    def to_json(self) -> dict:
        return {"model": self.model, "backend": self.backend, "files": self.files,
                "files_labelled": self.files_labelled, "files_relabelled": self.files_relabelled,
                "files_skipped": self.files_skipped, "segments_written": self.written,
                "left_out": dict(self.left_out), "relabelled": self.relabelled, "changed": self.changed,
                "kept_reviewed": self.kept_reviewed, "failed": [list(f) for f in self.failed],
                "audio_s": round(self.audio_s, 2), "elapsed_s": round(self.elapsed_s, 2), "load_s": round(self.load_s, 2),
                "audio_seconds_per_second": round(self.audio_seconds_per_second, 2), "stopped": self.stopped,
                "windows": list(self.windows)}

    def summary(self) -> str:
        left = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in sorted(self.left_out.items()) if n) or "none"
        lines = [f"{self.out_dir}: {self.written} new row(s) from {self.files_labelled} recording(s); "
                 f"left out: {left}",
                 f"relabelled {self.relabelled} auto row(s) ({self.changed} text(s) changed); "
                 f"{self.kept_reviewed} reviewed row(s) kept as they were; "
                 f"{self.files_skipped} recording(s) already done",
                 f"{self.audio_s:.1f} s of audio in {self.elapsed_s:.1f} s ({self.load_s:.1f} s loading the model; "
                 f"{self.audio_seconds_per_second:.1f} audio-s/s) with {self.model} ({self.backend}"
                 + (f", {windows_label(self.windows)}" if len(self.windows) > 1 else "") + ")"]
        if self.failed:
            lines.append(f"{len(self.failed)} file(s) could not be read: "
                         + "; ".join(f"{f} ({why})" for f, why in self.failed[:5]))
        if self.stopped:
            lines.append("stopped before the end: run the same command again to continue")
        return "\n".join(lines)


def list_recordings(audio_dir: Path, skip: Path | None = None) -> list[Path]:
    """Audio files under `audio_dir`, recursively, sorted; hidden folders and `skip` (the output) left out."""
    found = []
    for root, dirs, files in os.walk(audio_dir):
        root_path = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and (skip is None or (root_path / d).resolve() != skip))
        found += [root_path / f for f in files if Path(f).suffix.lower() in AUDIO_EXTENSIONS and not f.startswith(".")]
    return sorted(found, key=lambda p: p.relative_to(audio_dir).as_posix())


def is_label_dataset(folder: Path) -> bool:
    return (folder / LABEL_FILE).is_file()


def _check_folders(audio_dir: Path, out_dir: Path) -> None:
    if not audio_dir.exists():
        raise AudioError(f"{audio_dir} does not exist", "give the folder that holds your recordings",
                         where=str(audio_dir))
    if not audio_dir.is_dir():
        raise AudioError(f"{audio_dir} is not a folder", "give the folder that holds your recordings",
                         where=str(audio_dir))
    if out_dir.exists() and not out_dir.is_dir():
        raise DatasetError(f"{out_dir} exists and is not a folder", "give a new folder for the dataset",
                           where=str(out_dir))
    if out_dir.is_dir() and any(out_dir.iterdir()) and not is_label_dataset(out_dir):
        raise DatasetError(f"{out_dir} already holds files that `whisper-tui label` did not write (no {LABEL_FILE})",
                           "give a new or empty folder; nothing was changed", where=str(out_dir))


def read_state(out_dir: Path) -> dict:
    try:
        state = json.loads((out_dir / LABEL_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"version": STATE_VERSION, "files": {}}
    if not isinstance(state, dict) or not isinstance(state.get("files"), dict):
        return {"version": STATE_VERSION, "files": {}}
    return state


class _Labeller:
    """One run: the table, the state and the decoder (loaded only when a file needs it)."""

    def __init__(self, audio_dir: Path, out_dir: Path, model: str, backend: str, report: LabelReport,
                 max_s: float, should_stop, log) -> None:
        self.audio_dir, self.out_dir, self.model, self.backend = audio_dir, out_dir, model, backend
        self.report, self.max_s = report, max_s
        self.should_stop = should_stop or (lambda: False)
        self.log = log or (lambda _msg: None)
        self.table = LabelTable.read(out_dir)
        self.state = read_state(out_dir)
        self.key = f"{backend}:{model}"
        self._decoder = None
        self.taken = {Path(r.get("file_name")).name.lower() for r in self.table.data_rows()}

    @property
    def decoder(self):
        if self._decoder is None:
            from whisper_tui.labelling.decoding import make_decoder

            self.log(f"loading {self.model} ({self.backend})")
            started = time.perf_counter()
            self._decoder = make_decoder(self.model, self.backend)
            self.report.load_s += time.perf_counter() - started
            self.report.windows = tuple(self._decoder.windows)
        return self._decoder

    # --- per recording ---

    def rows_of(self, rel: str) -> list[Row]:
        return [r for r in self.table.data_rows() if r.source is not None and r.source[0] == rel]

    def label_file(self, path: Path, rel: str, on_done_s: Callable[[float], None]) -> bool:
        """Bring one recording's rows up to date; False when stopped part way (nothing of it written)."""
        st = path.stat()
        entry = self.state["files"].get(rel)
        rows = self.rows_of(rel)
        same_audio = bool(entry) and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns
        kept = [r for r in rows if r.status != AUTO]
        self.report.kept_reviewed += len(kept)
        if same_audio:
            texts = entry.get("texts", {})
            auto = [r for r in rows if r.status == AUTO]
            if entry.get("model") == self.key:
                stale = [r for r in auto if texts.get(r.get("file_name")) != r.get("transcription")]
            else:
                stale = auto
            if not stale:
                self.report.files_skipped += 1
                return True
            if not self.relabel(rel, stale, texts):
                return False
            self.report.files_relabelled += 1
            entry.update(model=self.key, texts={r.get("file_name"): r.get("transcription")
                                                for r in self.rows_of(rel) if r.status == AUTO})
            return True
        new_rows = self.fresh(path, rel, kept, on_done_s)
        if new_rows is None:
            return False
        for row in rows:
            if row.status == AUTO:
                self.table.remove(row)
                if not any(r.get("file_name") == row.get("file_name") for r in new_rows):
                    (self.out_dir / row.get("file_name")).unlink(missing_ok=True)
        for row in new_rows:
            self.table.rows.append(row)
        self.report.written += len(new_rows)
        self.report.files_labelled += 1
        self.state["files"][rel] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "model": self.key,
                                    "texts": {r.get("file_name"): r.get("transcription") for r in new_rows}}
        return True

    def relabel(self, rel: str, stale: list[Row], texts: dict) -> bool:
        results = []
        for row in stale:
            if self.should_stop():
                return False
            try:
                wave = load_audio(self.out_dir / row.get("file_name"))
            except WhisperTuiError as exc:
                self.log(f"{rel}: cannot relabel {row.get('file_name')}: {exc.message}")
                continue
            db = energy.frame_db(wave)
            results.append((row, *self.transcribe(wave, db, energy.pause_level(db))))
            self.report.audio_s += len(wave) / SAMPLE_RATE
        for row, text, verdict, no_speech in results:
            self.report.relabelled += 1
            if verdict.left_out is not None:  # was speech for the earlier model: keep the text, say so
                flags = sorted(set(filter(None, row.get("flags").split(";"))) | {"no_speech"})
                row.update(flags=";".join(flags), no_speech=format_number(no_speech))
                continue
            self.report.changed += text != row.get("transcription")
            row.update(transcription=text, confidence=format_number(verdict.confidence),
                       no_speech=format_number(no_speech), flags=";".join(verdict.flags))
        return True

    def transcribe(self, clip: np.ndarray, clip_db: np.ndarray, pause_level: float):
        """(text, verdict, no-speech probability) for one clip, decoded on its own."""
        decoded = self.decoder.decode(clip, timestamps=False)
        eot = self.decoder.eot
        ids = [t for t in decoded.tokens if t < eot]
        probs = [p for t, p in zip(decoded.tokens, decoded.probs) if t < eot]
        text = self.decoder.text(ids)
        verdict = judge(text, probs, decoded.no_speech, len(clip) / SAMPLE_RATE,
                        energy.voiced_seconds(clip_db, pause_level))
        return text, verdict, decoded.no_speech

    def fresh(self, path: Path, rel: str, kept: list[Row], on_done_s) -> list[Row] | None:
        """New rows (clips written) for a recording; None when stopped."""
        wave = load_audio(path)
        duration = len(wave) / SAMPLE_RATE
        db = energy.frame_db(wave)
        left = Counter()
        if duration <= self.max_s and energy.is_silent(db):
            self.report.left_out["silence"] = self.report.left_out.get("silence", 0) + 1
            return []
        # at most the model's longest window (30 s; a short-window fine-tune's own): a longer file is cut
        # with timestamps at that window, and an any-window model decodes a whole one at a shorter window
        clip_s = min(self.max_s, self.decoder.window_s)
        whole = duration <= clip_s
        if whole:
            planned = [PlannedClip(0.0, round(duration, 2))]
        else:
            found = decode_long(self.decoder, wave, window_s=clip_s,
                                should_stop=self.should_stop, on_window=on_done_s)
            if found is None:
                return None
            segments, silent = found
            left["silence"] += silent
            planned = plan_clips(segments, db, duration, max_s=clip_s)
        kept_spans = [r.source[1:] for r in kept]
        rows = []
        for plan in planned:
            start, end = plan.start, plan.end
            if any(start < b and a < end for a, b in kept_spans):
                continue  # a reviewed row already covers this stretch
            clip = wave[int(round(start * SAMPLE_RATE)):int(round(end * SAMPLE_RATE))]
            clip_db = energy.frame_db(clip)
            if energy.is_silent(clip_db):
                left["silence"] += 1
                continue
            if whole:
                if self.should_stop():
                    return None
                text, verdict, no_speech = self.transcribe(clip, clip_db, energy.pause_level(db))
            else:
                # the text its window gave: decoded with the context around it, tiny.en hears a noisy
                # recording better than clip by clip (module docstring)
                text, no_speech = self.decoder.text(plan.ids), plan.no_speech
                verdict = judge(text, plan.probs, no_speech, len(clip) / SAMPLE_RATE,
                                energy.voiced_seconds(clip_db, energy.pause_level(db)), window_shared=True)
            if verdict.left_out is not None:
                left[verdict.left_out] += 1
                continue
            name = self.claim(rel, None if whole else start, path.suffix.lower() if whole else ".wav")
            self.write_clip(self.out_dir / CLIPS_DIR / name, path if whole else clip)
            rows.append(Row({"file_name": f"{CLIPS_DIR}/{name}", "transcription": text,
                             "source": format_source(rel, start, end), "confidence": format_number(verdict.confidence),
                             "no_speech": format_number(no_speech), "flags": ";".join(verdict.flags),
                             "status": AUTO}))
        for why, n in left.items():
            self.report.left_out[why] = self.report.left_out.get(why, 0) + n
        self.report.audio_s += duration
        return rows

    def claim(self, rel: str, start: float | None, suffix: str) -> str:
        from whisper_tui.data.importers.writer import tidy_name

        stem = tidy_name(str(Path(rel).with_suffix("")).replace(os.sep, "__").replace("/", "__"))
        base = stem if start is None else f"{stem}_{int(round(start * 100)):07d}"
        name, n = f"{base}{suffix}", 1
        while name.lower() in self.taken:
            n += 1
            name = f"{base}-{n}{suffix}"
        self.taken.add(name.lower())
        return name

    @staticmethod
    def write_clip(dest: Path, audio: Path | np.ndarray) -> None:
        import soundfile as sf

        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(audio, Path):
            atomic_write_bytes(dest, audio.read_bytes())
            return
        buf = io.BytesIO()
        sf.write(buf, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        atomic_write_bytes(dest, buf.getvalue())

    def save(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / CLIPS_DIR).mkdir(exist_ok=True)
        self.table.save(self.out_dir)
        self.state.update(version=STATE_VERSION, model=self.model, backend=self.backend,
                          updated=time.strftime("%Y-%m-%dT%H:%M:%S"), last_run=self.report.to_json())
        atomic_write_text(self.out_dir / LABEL_FILE, json.dumps(self.state, indent=1, ensure_ascii=False) + "\n")


def label_folder(audio_dir: str | os.PathLike, out_dir: str | os.PathLike, *, model: str = "tiny.en",
                 backend: str | None = None, on_progress: Callable[[LabelProgress], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, log: Callable[[str], None] | None = None,
                 max_s: float = MAX_CLIP_S) -> LabelReport:
    """Label every recording under `audio_dir` into the dataset folder `out_dir` (see the module docstring).

    `model` is anything `resolve_model` takes (tiny.en, a run folder, a model folder); `backend`
    "ct2" or "torch" (default: ct2 when CTranslate2 is installed). Raises AudioError/DatasetError
    for a missing or empty `audio_dir` and for an `out_dir` holding someone else's files.
    """
    from whisper_tui.labelling.decoding import default_backend

    started = time.perf_counter()
    audio_dir, out_dir = Path(audio_dir).expanduser().absolute(), Path(out_dir).expanduser().absolute()
    _check_folders(audio_dir, out_dir)
    if not 2.0 <= max_s <= MAX_CLIP_S:
        raise WhisperTuiError(f"clips of at most {max_s:g} s: must be between 2 and {MAX_CLIP_S:g} s",
                              f"use the default of {MAX_CLIP_S:g} s", where="max_s")
    files = list_recordings(audio_dir, skip=out_dir.resolve())
    if not files:
        raise AudioError(f"no audio files in {audio_dir}",
                         f"supported: {', '.join(sorted(AUDIO_EXTENSIONS))} (sub-folders are searched too)",
                         where=str(audio_dir))
    backend = backend or default_backend()
    report = LabelReport(out_dir, model=str(model), backend=backend, files=len(files))
    job = _Labeller(audio_dir, out_dir, str(model), backend, report, max_s, should_stop, log)
    durations = {}
    for path in files:
        try:
            durations[path] = audio_info(path).duration_s
        except AudioError as exc:
            report.failed.append((path.relative_to(audio_dir).as_posix(), exc.message))
    total_s = sum(durations.values())
    done_s = 0.0

    def progress(files_done: int, current: str, extra_s: float = 0.0) -> None:
        if on_progress is not None:
            on_progress(LabelProgress(min(total_s, done_s + extra_s), total_s, files_done, len(durations), current))

    try:
        for k, path in enumerate(durations):
            rel = path.relative_to(audio_dir).as_posix()
            if job.should_stop():
                report.stopped = True
                break
            progress(k, rel)
            try:
                finished = job.label_file(path, rel, lambda s, k=k, rel=rel: progress(k, rel, s))
            except AudioError as exc:
                report.failed.append((rel, exc.message))
                finished = True
            if not finished:
                report.stopped = True
                break
            done_s += durations[path]
            report.elapsed_s = time.perf_counter() - started
            job.save()
            progress(k + 1, rel)
    finally:
        report.elapsed_s = time.perf_counter() - started
        if out_dir.is_dir() or report.written:
            job.save()
    return report
