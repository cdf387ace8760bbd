"""A labelled dataset's metadata.csv, read and written so rows nobody changed keep their exact bytes.

A person's review is the valuable part of a labelled dataset: a relabel must not touch a
`reviewed` row, not even by re-quoting it or reformatting its confidence. So every record keeps
the text it was read from (`Row.raw`, all its physical lines, quoted newlines included) and is
written back from that text unless a value was changed. Only changed and new rows are written
by the csv module. The header and column order of an existing file are kept too.

Columns (a contract the Dataset screen and the training filter code against): `LABEL_COLUMNS`.
`source` is `REL/PATH.wav 12.34-20.10`: the recording relative to the labelled folder and the
clip's start and end in it (seconds, 2 decimals).
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from whisper_tui.data.csv_records import raw_records
from whisper_tui.data.metadata import FILE_COLUMN, METADATA_FILE, TEXT_COLUMN
from whisper_tui.errors import DatasetError
from whisper_tui.storage.atomic import atomic_write_bytes

LABEL_COLUMNS = (FILE_COLUMN, TEXT_COLUMN, "source", "confidence", "no_speech", "flags", "status")
AUTO, REVIEWED = "auto", "reviewed"
_REQUIRED = (FILE_COLUMN, TEXT_COLUMN, "source", "status")
_BOM = "\ufeff"
_SOURCE = re.compile(r"^(?P<path>.+) (?P<start>\d+(?:\.\d+)?)-(?P<end>\d+(?:\.\d+)?)$")


def format_source(rel: str, start: float, end: float) -> str:
    return f"{rel} {start:.2f}-{end:.2f}"


def parse_source(source: str) -> tuple[str, float, float] | None:
    """(path, start, end) of a `source` value, or None when it is not in that form."""
    m = _SOURCE.match(source or "")
    if m is None:
        return None
    return m.group("path"), float(m.group("start")), float(m.group("end"))


def format_number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


@dataclass
class Row:
    values: dict[str, str]
    raw: str | None = None  # the record as read (with its line end); None once a value changed

    def get(self, column: str) -> str:
        return self.values.get(column, "")

    @property
    def status(self) -> str:
        return self.get("status").strip().lower()

    @property
    def source(self) -> tuple[str, float, float] | None:
        return parse_source(self.get("source"))

    def update(self, **values: str) -> bool:
        """Set columns; True (and the row is rewritten) when any value really changed."""
        changed = {k: v for k, v in values.items() if self.values.get(k, "") != v}
        if changed:
            self.values.update(changed)
            self.raw = None
        return bool(changed)


class LabelTable:
    """metadata.csv of a labelled dataset: its columns and rows, in file order."""

    def __init__(self, columns: tuple[str, ...] = LABEL_COLUMNS) -> None:
        self.columns = columns
        self.rows: list[Row | str] = []  # a str is a blank line kept as it was
        self.header_raw: str | None = None
        self.bom = ""

    @classmethod
    def read(cls, folder: str | os.PathLike) -> LabelTable:
        path = Path(folder) / METADATA_FILE
        if not path.is_file():
            return cls()
        try:
            text = path.read_bytes().decode("utf-8", errors="surrogateescape")
        except OSError as exc:
            raise DatasetError(f"Cannot read {path}: {exc.strerror}", "check the file's permissions",
                               where=str(path)) from exc
        table = cls()
        if text.startswith(_BOM):
            table.bom, text = _BOM, text[1:]
        for record in raw_records(text, path):
            raw, fields = record.raw, record.fields
            if table.header_raw is None:
                table.columns = tuple(f.strip() for f in fields)
                table.header_raw = raw
                missing = [c for c in _REQUIRED if c not in table.columns]
                if missing:
                    raise DatasetError(f"{path} has no {', '.join(missing)} column(s): it is not a labelled dataset",
                                       "label into a new folder", where=str(path))
                continue
            if not fields:
                table.rows.append(raw)
                continue
            table.rows.append(Row(dict(zip(table.columns, fields)), raw))
        return table

    def data_rows(self) -> list[Row]:
        return [r for r in self.rows if isinstance(r, Row)]

    def add(self, **values: str) -> Row:
        row = Row({c: values.get(c, "") for c in self.columns})
        self.rows.append(row)
        return row

    def remove(self, row: Row) -> None:
        self.rows.remove(row)

    def to_bytes(self) -> bytes:
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\n")
        out.write(self.bom)
        if self.header_raw is not None:
            out.write(self.header_raw if self.header_raw.endswith("\n") else self.header_raw + "\n")
        else:
            writer.writerow(self.columns)
        for row in self.rows:
            raw = row if isinstance(row, str) else row.raw
            if raw is not None:
                out.write(raw if raw.endswith("\n") else raw + "\n")
            else:
                writer.writerow([row.values.get(c, "") for c in self.columns])
        return out.getvalue().encode("utf-8", errors="surrogateescape")

    def save(self, folder: str | os.PathLike) -> None:
        atomic_write_bytes(Path(folder) / METADATA_FILE, self.to_bytes())
