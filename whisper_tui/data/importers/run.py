"""`import_dataset(src, out)`: detect the format, read it, write a dataset folder in one step."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from whisper_tui.storage.atomic import atomic_directory, check_replaceable, is_ours
from whisper_tui.data.metadata import MAX_CLIP_SECONDS
from whisper_tui.errors import DatasetError
from whisper_tui.data.importers.detect import detect_format, format_module
from whisper_tui.data.importers.entries import Options
from whisper_tui.data.importers.report import ImportReport
from whisper_tui.data.importers.writer import write_entries

SCRATCH = ".import-scratch"


def _check_out(src: Path, out: Path, force: bool) -> None:
    src_real, out_real = src.resolve(), out.resolve()
    if src_real == out_real or src_real.is_relative_to(out_real):
        raise DatasetError(f"{out} holds the source {src}; the import would replace it",
                           "write the dataset to a new folder", where=str(out))
    check_replaceable(out)  # a folder of someone's files is never replaced, --force or not
    if out.is_dir() and any(out.iterdir()) and not force:
        what = "an earlier import" if is_ours(out) else "files"
        raise DatasetError(f"{out} already exists and holds {what}", "pick another folder, or pass --force to "
                           "replace an earlier whisper-tui import", where=str(out))


def _checked(options: Options) -> Options:
    if not 1.0 <= options.max_segment_s <= MAX_CLIP_SECONDS:
        raise DatasetError(f"segments of at most {options.max_segment_s:g} s: must be between 1 and "
                           f"{MAX_CLIP_SECONDS:g} s (Whisper's window)", "use e.g. --max-seconds 20",
                           where="--max-seconds")
    if options.max_gap_s <= 0:
        raise DatasetError(f"--max-gap must be more than 0 s, got {options.max_gap_s:g}", "use e.g. --max-gap 1.5",
                           where="--max-gap")
    return options


def import_dataset(src: str | os.PathLike, out: str | os.PathLike, *, format: str | None = None,
                   link: bool = False, force: bool = False, options: Options | None = None,
                   on_progress: Callable[[int, int | None, str], None] | None = None,
                   on_detected: Callable[[str, str, Path], None] | None = None) -> ImportReport:
    """Import `src` into a new dataset folder `out` (clips/ + metadata.csv + import.json).

    `format` forces a FORMATS key instead of detecting one; `link` hard-links audio files instead of
    copying them; `force` replaces an earlier import in `out` (never a folder of other files).
    `on_detected(name, label, source)` is called once the format is known, `on_progress(done, total,
    what)` per row. Raises DatasetError when nothing could be imported (and then writes nothing).
    """
    options = _checked(options or Options())
    src, out = Path(src).expanduser(), Path(out).expanduser().absolute()
    if format:
        module = format_module(format)
        if not src.exists():
            raise DatasetError(f"Not found: {src}", "give the folder or file to import", where=str(src))
        if not module.detect(src):
            raise DatasetError(f"{src} does not look like {module.LABEL}: looked for {module.LOOKS_FOR}",
                               "leave out --format to let whisper-tui detect it", where=str(src))
    else:
        module, src = detect_format(src)
    _check_out(src, out, force)
    if on_detected is not None:
        on_detected(module.NAME, module.LABEL, src)
    report = ImportReport(src, out, module.NAME, module.LABEL)
    with atomic_directory(out) as tmp:
        scratch = tmp / SCRATCH
        plan = module.read(src, dataclasses.replace(options, scratch=scratch, on_progress=on_progress))
        report.notes.extend(plan.notes)
        write_entries(plan.items, tmp, report, link=link, total=plan.total, on_progress=on_progress)
        shutil.rmtree(scratch, ignore_errors=True)
        if report.clips == 0:
            reasons = ", ".join(f"{n} {kind}" for kind, n in report.skipped_by_reason.items()) or "no rows"
            raise DatasetError(f"Nothing imported from {src} ({module.LABEL}): {reasons}",
                               "; ".join(str(s) for s in report.skipped[:3]) or "check the source",
                               where=str(src))
    return report


def default_output(src: str | os.PathLike) -> tuple[Path, bool]:
    """Where the app writes an import of `src` (the data folder's imports/NAME), and whether that
    replaces an earlier import of the same source there; a folder that is not an import of it is
    never reused: NAME-2, NAME-3, ... instead."""
    import json

    from whisper_tui.config.locations import data_dir
    from whisper_tui.data.importers.writer import REPORT_FILE, tidy_name

    src = Path(src).expanduser()
    base, name = data_dir() / "imports", tidy_name(src.name or "import")
    for n in range(1, 10_000):
        out = base / (name if n == 1 else f"{name}-{n}")
        if not out.exists():
            return out, False
        try:
            earlier = json.loads((out / REPORT_FILE).read_text(encoding="utf-8")).get("source")
        except (OSError, ValueError, AttributeError):
            earlier = None
        if earlier == str(src) and is_ours(out):
            return out, True
    raise DatasetError(f"Too many imports of {src.name} in {base}", "remove some of them", where=str(base))
