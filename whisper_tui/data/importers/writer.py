"""Turn a reader's entries into a dataset folder: clips/ + metadata.csv + import.json.

The folder is built by the caller inside `atomic_directory`, so a failed or cancelled import
leaves nothing half written. Each entry is checked the same way whatever the format: it needs a
transcript and audio that exists and opens; each file gets a unique, tidy name under `clips/`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from whisper_tui.data.audio import audio_info
from whisper_tui.data.metadata import KNOWN_COLUMNS, MAX_CLIP_SECONDS, METADATA_FILE, metadata_csv_bytes
from whisper_tui.errors import AudioError
from whisper_tui.data.splitting import TEST_VALUES, TRAIN_VALUES
from whisper_tui.data.importers.entries import Entry, FileAudio, Skipped
from whisper_tui.data.importers.report import ImportReport

CLIPS_DIR = "clips"
REVIEW_DIR = "review"  # clips not to train on as they are (poor alignment), a dataset folder of their own
REPORT_FILE = "import.json"
EMPTY_TEXT, MISSING_AUDIO, UNREADABLE, DUPLICATE = "empty text", "missing audio", "unreadable audio", "duplicate"
_UNSAFE = re.compile(r"[^\w.-]+", re.UNICODE)
_MAX_STEM = 100

Progress = Callable[[int, int | None, str], None]  # (done, total or None, what) -> None


def tidy_name(stem: str) -> str:
    stem = _UNSAFE.sub("_", stem).strip("._") or "clip"
    return stem[:_MAX_STEM]


class _Names:
    """Unique file names under clips/: a second "a.wav" becomes "a-2.wav"."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def claim(self, stem: str, suffix: str) -> str:
        stem, n = tidy_name(stem), 1
        name = f"{stem}{suffix}"
        while name.lower() in self.taken:
            n += 1
            name = f"{stem}-{n}{suffix}"
        self.taken.add(name.lower())
        return name


def _column_order(seen: set[str]) -> tuple[str, ...]:
    known = [c for c in KNOWN_COLUMNS if c in seen]
    return tuple(known + sorted(seen - set(known)))


def _drop_one_sided_split(rows: list, report: ImportReport) -> None:
    """Keep `split` only when it names both sides: with one side only, data.split_by=auto would test on nothing."""
    values = {extra.get("split", "").casefold() for _f, _t, extra in rows} - {""}
    if not values or (values & TRAIN_VALUES and values & TEST_VALUES):
        return
    for _f, _t, extra in rows:
        extra.pop("split", None)
    report.notes.append(f"the source has only {'/'.join(sorted(values))} rows, so no split column was written "
                        "(data.split_by makes the train/test split)")


def _write_metadata(folder: Path, rows: list) -> tuple[str, ...]:
    columns = _column_order({k for _f, _t, extra in rows for k in extra})
    data = [(f, t, *(str(extra.get(c, "")) for c in columns)) for f, t, extra in rows]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / METADATA_FILE).write_bytes(metadata_csv_bytes(data, columns))
    return columns


def write_entries(items: Iterable[Entry | Skipped], folder: Path, report: ImportReport, *, link: bool = False,
                  total: int | None = None, on_progress: Progress | None = None) -> None:
    """Write every usable entry into `folder` (the temp folder of an atomic swap) and fill in `report`.

    Entries marked for review go to `folder/review/` (clips + a metadata.csv of their own), so they can
    be listened to and fixed, but are not in the training metadata.
    """
    names, sources = _Names(), {}
    rows: dict[Path, list] = {folder: [], folder / REVIEW_DIR: []}
    done = too_long = 0
    for item in items:
        done += 1
        if on_progress is not None:
            on_progress(done, total, item.where)
        if isinstance(item, Skipped):
            report.skipped.append(item)
            continue
        text = " ".join(item.text.split())
        if not text:
            report.skipped.append(Skipped(item.where, EMPTY_TEXT))
            continue
        if not item.audio.exists():
            what = f" ({item.audio.path})" if hasattr(item.audio, "path") else ""
            report.skipped.append(Skipped(item.where, f"{MISSING_AUDIO}{what}"))
            continue
        if isinstance(item.audio, FileAudio):
            key = item.audio.path.resolve()
            if key in sources:
                report.skipped.append(Skipped(item.where, f"{DUPLICATE} (same audio as {sources[key]})"))
                continue
            sources[key] = item.where
        home = folder / REVIEW_DIR if item.review else folder
        (home / CLIPS_DIR).mkdir(parents=True, exist_ok=True)
        name = names.claim(item.name, item.audio.suffix)
        dest = home / CLIPS_DIR / name
        try:
            how = item.audio.place(dest, link=link)
            info = audio_info(dest)
        except (AudioError, PermissionError) as exc:
            dest.unlink(missing_ok=True)
            detail = exc.message if isinstance(exc, AudioError) else f"permission denied: {exc.filename}"
            report.skipped.append(Skipped(item.where, f"{UNREADABLE} ({detail})"))
            continue
        columns = {k: v for k, v in item.columns.items() if v not in (None, "")}
        rows[home].append((f"{CLIPS_DIR}/{name}", text, columns))
        if item.review:
            report.review.append(Skipped(item.where, item.review))
            continue
        report.how[how] += 1
        report.clips += 1
        report.seconds += info.duration_s
        report.longest_s = max(report.longest_s, info.duration_s)
        too_long += info.duration_s > MAX_CLIP_SECONDS
    if too_long:
        report.notes.append(f"{too_long} clip(s) longer than {MAX_CLIP_SECONDS:g} s were kept, but training skips "
                            "them (validate lists them)")
    _drop_one_sided_split(rows[folder], report)
    (folder / CLIPS_DIR).mkdir(exist_ok=True)
    report.columns = _write_metadata(folder, rows[folder])
    if rows[folder / REVIEW_DIR]:
        _write_metadata(folder / REVIEW_DIR, rows[folder / REVIEW_DIR])
    (folder / REPORT_FILE).write_text(json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
