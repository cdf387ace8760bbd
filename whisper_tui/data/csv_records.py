"""metadata.csv cut into records that join back into the very same text.

Two writers must leave the rows nobody changed exactly as they were: the review (a person's
corrections, `review.ReviewSheet`) and a relabel (which must not touch a reviewed row,
`labelling.table.LabelTable`). Both cut the file here, so each record keeps the text the csv
module read it from: all its physical lines, quoted newlines and its own line end included.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from whisper_tui.errors import DatasetError


@dataclass(frozen=True)
class RawRecord:
    raw: str  # the record's text as read, line end included (none on a last line without one)
    fields: list[str]  # what csv parsed from it ([] for a blank line)
    line: int  # the physical line it starts on (1 = the first line of the file)


def raw_records(text: str, path: Path, delimiter: str = ",") -> list[RawRecord]:
    """Every record of `text` (the file's content without a BOM), blank lines included, in order.

    Joining the `raw` texts gives `text` back. A line csv cannot parse raises DatasetError naming it.
    """
    lines = list(io.StringIO(text, newline=""))  # keeps each line's own ending: \n, \r\n or \r
    reader = csv.reader(iter(lines), delimiter=delimiter)
    records: list[RawRecord] = []
    while True:
        start = reader.line_num
        try:
            fields = next(reader)
        except StopIteration:
            return records
        except csv.Error as exc:
            raise DatasetError(f"{path} line {start + 1}: cannot parse CSV ({exc})",
                               "check the quotes on that line", where=f"{path}:{start + 1}") from exc
        records.append(RawRecord("".join(lines[start:reader.line_num]), fields, start + 1))
