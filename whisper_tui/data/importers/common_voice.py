"""Mozilla Common Voice: a language folder with `clips/` and tab-separated lists (`train.tsv`, ...).

Which lists are read: `train.tsv`, `dev.tsv` and `test.tsv` when there are any (their name becomes
the `split` column); otherwise `validated.tsv`; otherwise every list with `path` and `sentence`
columns except `invalidated.tsv`, `other.tsv` and `reported.tsv` (clips the community rejected or
has not checked). A single `.tsv` given as the source is read alone. `client_id` becomes
`speaker`, so the split can hold out whole voices; `age`, `gender`, `accents` and `locale` are kept.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from whisper_tui.data.importers.common import read_text, split_from_name
from whisper_tui.data.importers.entries import Entry, FileAudio, Options, Plan, Skipped

NAME = "common-voice"
LABEL = "Common Voice release"
LOOKS_FOR = "Common Voice (*.tsv lists with path and sentence columns, and clips/)"
SPLIT_LISTS = ("train.tsv", "dev.tsv", "test.tsv")
NOT_CHECKED = ("invalidated.tsv", "other.tsv", "reported.tsv")
CLIPS = "clips"
# Common Voice column -> metadata.csv column
COLUMNS = {"client_id": "speaker", "age": "age", "gender": "gender", "accents": "accent", "accent": "accent",
           "locale": "language"}


def _table(path: Path) -> list[list[str]]:
    # Sentences are not quoted in Common Voice lists: a quote is part of the text.
    return list(csv.reader(io.StringIO(read_text(path), newline=""), delimiter="\t", quoting=csv.QUOTE_NONE))


def _header(path: Path) -> list[str]:
    try:
        with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
            return [h.strip().lower() for h in fh.readline().rstrip("\r\n").split("\t")]
    except OSError:
        return []


def is_list(path: Path) -> bool:
    names = _header(path) if path.suffix.lower() == ".tsv" and path.is_file() else []
    return "path" in names and "sentence" in names


def lists(src: Path) -> list[Path]:
    if src.is_file():
        return [src] if is_list(src) else []
    if not (src / CLIPS).is_dir():
        return []
    found = sorted(p for p in src.glob("*.tsv") if is_list(p))
    named = {p.name.lower(): p for p in found}
    if any(n in named for n in SPLIT_LISTS):
        return [named[n] for n in SPLIT_LISTS if n in named]
    if "validated.tsv" in named:
        return [named["validated.tsv"]]
    return [p for p in found if p.name.lower() not in NOT_CHECKED]


def detect(src: Path) -> bool:
    return bool(lists(src))


def _rows(files: list[Path], folder: Path) -> Iterator[Entry | Skipped]:
    for tsv in files:
        table = _table(tsv)
        if not table:
            continue
        names = [h.strip().lower() for h in table[0]]
        split = split_from_name(tsv.stem) if tsv.name.lower() in SPLIT_LISTS else ""
        for number, fields in enumerate(table[1:], start=2):
            if not any(f.strip() for f in fields):
                continue
            row = dict(zip(names, (f.strip() for f in fields)))
            where = f"{tsv.name} line {number}"
            clip = row.get("path", "")
            if not clip:
                yield Skipped(where, "no path")
                continue
            columns = {COLUMNS[k]: v for k, v in row.items() if k in COLUMNS and v}
            columns.update(split=split, source=f"{CLIPS}/{clip}")
            yield Entry(FileAudio(folder / CLIPS / clip), row.get("sentence", ""), Path(clip).stem, columns, where)


def read(src: Path, options: Options) -> Plan:
    files = lists(src)
    folder = src.parent if src.is_file() else src
    total = sum(max(0, f.read_bytes().rstrip(b"\n").count(b"\n")) for f in files)  # rows below the header
    return Plan(_rows(files, folder), total, [f"lists read: {', '.join(f.name for f in files)}"])
