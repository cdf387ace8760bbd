"""metadata.csv cut into raw records: the one cutter the review and the relabel share."""

from __future__ import annotations

from pathlib import Path

import pytest

from whisper_tui.data.csv_records import raw_records
from whisper_tui.errors import DatasetError


def test_records_join_back_into_the_same_text_with_every_line_ending():
    text = ('file_name,transcription\r\n"a.wav","two\nlines"\r\n\nb.wav,plain\rc.wav,"quoted, comma"\n'
            'd.wav,no final newline')
    records = raw_records(text, Path("metadata.csv"))
    assert "".join(r.raw for r in records) == text
    assert [r.fields for r in records] == [["file_name", "transcription"], ["a.wav", "two\nlines"], [],
                                           ["b.wav", "plain"], ["c.wav", "quoted, comma"],
                                           ["d.wav", "no final newline"]]
    assert [r.line for r in records] == [1, 2, 4, 5, 6, 7]  # the quoted newline makes record 2 two lines


def test_a_line_csv_cannot_parse_is_named():
    with pytest.raises(DatasetError) as err:
        raw_records("file_name,transcription\na.wav," + "x" * 200_000 + "\n", Path("ds/metadata.csv"))  # over csv's field limit
    assert "ds/metadata.csv line 2" in err.value.message
