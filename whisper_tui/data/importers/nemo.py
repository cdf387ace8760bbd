"""NeMo-style manifests: JSON lines with `audio_filepath`, `text` and `duration` (and optionally `offset`).

A source is one manifest file or a folder of them (`*.json`, `*.jsonl`). Relative audio paths are
taken from the manifest's folder (as NeMo does), then from the source folder. A row with an
`offset`, or a `duration` shorter than its file, names a stretch of a longer recording: that
stretch is cut into a clip of its own. A manifest whose name says train/dev/test gives the rows a
`split`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from whisper_tui.data.audio import audio_info
from whisper_tui.errors import WhisperTuiError
from whisper_tui.data.importers.common import read_text, relative, split_from_name
from whisper_tui.data.importers.entries import Entry, FileAudio, Options, Plan, SegmentAudio, Skipped

NAME = "nemo"
LABEL = "NeMo JSONL manifest"
LOOKS_FOR = "NeMo manifests (*.json / *.jsonl lines with audio_filepath and text)"
SUFFIXES = (".json", ".jsonl")
_SPEAKER_KEYS = ("speaker", "speaker_id", "spk_id", "spk")
_LANGUAGE_KEYS = ("lang", "language", "source_lang")


def _first_record(path: Path) -> dict | None:
    try:
        with path.open("rb") as fh:
            for raw in fh:
                line = raw.decode("utf-8-sig", errors="replace").strip()
                if line:
                    record = json.loads(line)
                    return record if isinstance(record, dict) else None
    except (OSError, ValueError):
        return None
    return None


def is_manifest(path: Path) -> bool:
    if path.suffix.lower() not in SUFFIXES or not path.is_file():
        return False
    record = _first_record(path)
    return record is not None and "audio_filepath" in record


def manifests(src: Path) -> list[Path]:
    if src.is_file():
        return [src] if is_manifest(src) else []
    return sorted(p for p in src.iterdir() if is_manifest(p))


def detect(src: Path) -> bool:
    return bool(manifests(src))


def _audio_path(value: str, manifest: Path, root: Path) -> Path:
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    for base in (manifest.parent, root):
        if (base / path).exists():
            return base / path
    return manifest.parent / path


def _first(record: dict, keys: tuple[str, ...]) -> str:
    return next((str(record[k]) for k in keys if record.get(k) not in (None, "")), "")


def _entry(record: dict, manifest: Path, root: Path, where: str, split: str) -> Entry | Skipped:
    value = record.get("audio_filepath")
    if not isinstance(value, str) or not value.strip():
        return Skipped(where, "no audio_filepath")
    path = _audio_path(value.strip(), manifest, root)
    text = record.get("text", record.get("pred_text", ""))
    columns = {"speaker": _first(record, _SPEAKER_KEYS), "language": _first(record, _LANGUAGE_KEYS),
               "split": split, "source": value.strip()}
    try:
        offset = float(record.get("offset") or 0.0)
        duration = float(record["duration"]) if record.get("duration") not in (None, "") else None
    except (TypeError, ValueError):
        return Skipped(where, f"offset/duration are not numbers ({record.get('offset')!r}, {record.get('duration')!r})")
    audio: FileAudio | SegmentAudio = FileAudio(path)
    if path.is_file() and (offset > 0 or duration is not None and "offset" in record):
        try:
            whole = audio_info(path).duration_s
        except WhisperTuiError:
            whole = None  # the writer reports the file as unreadable
        end = whole if duration is None or whole is None else min(whole, offset + duration)
        if whole is not None and (offset > 0 or end < whole - 0.05):
            audio = SegmentAudio(path, offset, end)
            columns.update(start=f"{offset:.3f}", end=f"{end:.3f}")
            columns["source"] = f"{value.strip()} {offset:.3f}-{end:.3f}"
    stem = path.stem if isinstance(audio, FileAudio) else f"{path.stem}_{round(offset * 1000):08d}"
    return Entry(audio, str(text or ""), stem, columns, where)


def _rows(files: list[Path], root: Path) -> Iterator[Entry | Skipped]:
    for manifest in files:
        split = split_from_name(manifest.stem)
        name = relative(manifest, root) if manifest != root else manifest.name
        for number, line in enumerate(read_text(manifest).splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{name} line {number}"
            try:
                record = json.loads(line)
            except ValueError as exc:
                yield Skipped(where, f"not JSON ({exc.msg})")
                continue
            if not isinstance(record, dict):
                yield Skipped(where, "not a JSON object")
                continue
            yield _entry(record, manifest, root, where, split)


def read(src: Path, options: Options) -> Plan:
    files = manifests(src)
    root = src if src.is_dir() else src.parent
    total = sum(1 for f in files for line in read_text(f).splitlines() if line.strip())
    notes = [f"manifests: {', '.join(f.name for f in files)}"] if len(files) > 1 else []
    return Plan(_rows(files, root), total, notes)
