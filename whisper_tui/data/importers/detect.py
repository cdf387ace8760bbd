"""Which format a source is in: the first reader, in a fixed order, that recognises it.

The order goes from the most specific marks to the loosest: a `save_to_disk` folder has its own
JSON files; Common Voice has `*.tsv` lists and `clips/`; a NeMo manifest is JSON lines with
`audio_filepath`; LibriSpeech has `*.trans.txt`; parquet needs an audio column; recordings only
need a subtitle or transcript beside them. A folder that matches nothing but holds exactly one
folder (an unpacked archive: `cv-corpus-17.0/en/`) is looked into once. A source that is already
a dataset, or matches nothing, is a DatasetError that says what was looked for.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from whisper_tui.data.metadata import METADATA_FILE
from whisper_tui.errors import DatasetError
from whisper_tui.data.importers import (
    common_voice,
    hf_disk,
    librispeech,
    nemo,
    parquet,
    subtitle_cuts,
    transcripts,
)
from whisper_tui.data.importers.common import is_audio

FORMATS: dict[str, ModuleType] = {m.NAME: m for m in (hf_disk, common_voice, nemo, librispeech, parquet,
                                                        subtitle_cuts, transcripts)}


def looked_for() -> str:
    return "; ".join(m.LOOKS_FOR for m in FORMATS.values())


def _already_a_dataset(src: Path) -> str:
    if src.is_dir() and (src / METADATA_FILE).is_file():
        return f"it has a {METADATA_FILE}"
    if src.is_dir() and any(is_audio(p) and p.with_suffix(".txt").is_file() for p in src.iterdir()):
        return "its clips have a .txt transcript beside them (validate reads such folders as they are)"
    return ""


def _match(src: Path) -> ModuleType | None:
    return next((m for m in FORMATS.values() if m.detect(src)), None)


def detect_format(src: str | Path) -> tuple[ModuleType, Path]:
    """(format module, the source it matched: `src` or the one folder inside it); DatasetError if none."""
    src = Path(src).expanduser()
    if not src.exists():
        raise DatasetError(f"Not found: {src}", "give the folder or file to import", where=str(src))
    if src.is_dir() and (src / METADATA_FILE).is_file():
        raise DatasetError(f"{src} is already a dataset (it has a {METADATA_FILE}); there is nothing to import",
                           "open it in the Dataset screen or check it with `whisper-tui validate`", where=str(src))
    found = _match(src)
    if found is not None:
        return found, src
    if src.is_dir():
        inner = [p for p in src.iterdir() if not p.name.startswith(".")]
        if len(inner) == 1 and inner[0].is_dir():
            found = _match(inner[0])
            if found is not None:
                return found, inner[0]
    already = _already_a_dataset(src)
    if already:
        raise DatasetError(f"{src} is already a dataset: {already}", "open it in the Dataset screen or check it "
                           "with `whisper-tui validate`", where=str(src))
    raise DatasetError(f"{src}: no known format found; looked for {looked_for()}",
                       "pass --format to say which it is, or see README: Bring your own data", where=str(src))


def format_module(name: str) -> ModuleType:
    if name not in FORMATS:
        raise DatasetError(f"Unknown format {name!r}", f"use one of: {', '.join(FORMATS)}", where="--format")
    return FORMATS[name]
