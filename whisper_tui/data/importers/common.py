"""Small helpers the format readers share: reading text files as people save them, split names, paths."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from whisper_tui.data.audio import AUDIO_EXTENSIONS

_TOKEN = re.compile(r"[^a-z0-9]+")
# a word in a file or folder name -> the value of the `split` column (splitting.py reads dev/validation as test)
SPLIT_WORDS = {"train": "train", "training": "train", "test": "test", "testing": "test", "dev": "dev",
               "devel": "dev", "validation": "validation", "valid": "validation", "val": "validation"}


def read_text(path: Path) -> str:
    """A text file as UTF-8 (BOM or not; UTF-16 with a BOM too); undecodable bytes become U+FFFD."""
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.decode("utf-8", errors="replace")


def split_from_name(*names: str) -> str:
    """"train" for "train_manifest.json" or "train-clean-100", "dev" for "dev.tsv"; "" when no name says."""
    for name in names:
        for token in _TOKEN.split(name.lower()):
            if token in SPLIT_WORDS:
                return SPLIT_WORDS[token]
    return ""


def relative(path: Path, root: Path) -> str:
    """`path` as written relative to `root` when it is inside it (for the `source` column), else in full."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file() and not path.name.startswith(".")


def seconds_text(seconds: float) -> str:
    """12.5 -> "00:00:12.500", the way subtitles write times (for the `source` column)."""
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


DETECT_DEPTH = 5  # detection looks this many folders down (LibriSpeech: ROOT/subset/speaker/chapter/x.trans.txt)
DETECT_LIMIT = 20_000  # ... and at this many names at most: opening a home folder must not walk the whole disk


def find_files(src: Path, match: Callable[[str], bool], *, max_depth: int | None = None,
               limit: int | None = None) -> Iterator[Path]:
    """Files under `src` whose name `match`es, in sorted order; hidden files and folders are passed over.

    `max_depth` and `limit` (names looked at) bound the walk, for detection; reading walks everything.
    """
    seen = 0
    root_depth = len(src.parts)
    for folder, dirs, files in os.walk(src):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if max_depth is not None and len(here.parts) - root_depth >= max_depth:
            dirs[:] = []
        for name in sorted(files):
            seen += 1
            if limit is not None and seen > limit:
                return
            if not name.startswith(".") and match(name):
                yield here / name
        seen += len(dirs)
