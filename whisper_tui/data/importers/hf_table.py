"""Rows of a Hugging Face table (Arrow or parquet) -> entries: find the audio and text columns, decode nothing.

An `Audio` feature is stored as a struct `{"bytes": ..., "path": ...}`: the bytes are a whole
encoded file (written out as is, so nothing is re-encoded), or, when they are empty, `path` names
a file on disk. A struct with `array` and `sampling_rate` (decoded samples) is written as a WAV.
The text column is the first string column named like a transcript (`--text-column` picks one).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from whisper_tui.data.audio import AUDIO_EXTENSIONS
from whisper_tui.errors import DatasetError
from whisper_tui.data.importers.entries import EncodedAudio, Entry, FileAudio, SamplesAudio, Skipped

TEXT_COLUMNS = ("transcription", "text", "sentence", "transcript", "normalized_text", "raw_transcription",
                "raw_text", "sentences", "caption")
# table column -> metadata.csv column
COLUMNS = {"speaker_id": "speaker", "speaker": "speaker", "client_id": "speaker", "spk_id": "speaker",
           "gender": "gender", "age": "age", "accent": "accent", "accents": "accent", "language": "language",
           "locale": "language", "lang": "language"}
_MAGIC = ((b"RIFF", ".wav"), (b"fLaC", ".flac"), (b"OggS", ".ogg"), (b"ID3", ".mp3"), (b"FORM", ".aiff"))


def _is_audio_type(pa_type) -> bool:
    import pyarrow as pa

    if not pa.types.is_struct(pa_type):
        return False
    names = {pa_type.field(i).name for i in range(pa_type.num_fields)}
    return "bytes" in names or {"array", "sampling_rate"} <= names


def pick_columns(schema, text_column: str | None, where: str) -> tuple[str, str]:
    """(audio column, text column) of an Arrow schema; DatasetError naming the columns when either is missing."""
    import pyarrow as pa

    names = list(schema.names)
    audio = [n for n in names if _is_audio_type(schema.field(n).type)]
    audio.sort(key=lambda n: n != "audio")
    if not audio:
        raise DatasetError(f"{where}: no audio column (a struct with bytes/path) among {', '.join(names) or 'none'}",
                           "this table holds no audio; import the files it points to another way", where=where)
    strings = [n for n in names if pa.types.is_string(schema.field(n).type)
               or pa.types.is_large_string(schema.field(n).type)]
    if text_column:
        if text_column not in names:
            raise DatasetError(f"{where}: no column {text_column!r} (columns: {', '.join(names)})",
                               "give --text-column one of those", where=where)
        return audio[0], text_column
    lowered = {n.lower(): n for n in strings}
    text = next((lowered[t] for t in TEXT_COLUMNS if t in lowered), None)
    if text is None:
        raise DatasetError(f"{where}: no transcript column (looked for {', '.join(TEXT_COLUMNS)}; string columns: "
                           f"{', '.join(strings) or 'none'})", "name it with --text-column", where=where)
    return audio[0], text


def _suffix(data: bytes, path: str) -> str:
    ext = Path(path).suffix.lower() if path else ""
    if ext in AUDIO_EXTENSIONS:
        return ext
    return next((e for magic, e in _MAGIC if data.startswith(magic)), ".mp3" if data[:2] in (b"\xff\xfb", b"\xff\xf3",
                                                                                                b"\xff\xf2") else ".wav")


def _audio(value, base: Path):
    """The entry audio for one cell, or a reason it has none."""
    if not isinstance(value, dict):
        return "no audio in this row"
    data, path = value.get("bytes"), value.get("path") or ""
    if value.get("array") is not None:
        rate = int(value.get("sampling_rate") or 0)
        return SamplesAudio(np.asarray(value["array"], dtype=np.float32), rate) if rate > 0 else "no sampling_rate"
    if data:
        return EncodedAudio(bytes(data), _suffix(bytes(data), path))
    if path:
        p = Path(path).expanduser()
        return FileAudio(p if p.is_absolute() else base / p)
    return "no audio in this row"


def table_rows(batches: Iterable, audio_col: str, text_col: str, *, label: str, split: str, base: Path,
               start: int = 0) -> Iterator[Entry | Skipped]:
    """Entries for each row of `batches` (pyarrow RecordBatches); `label` names the file in messages."""
    index = start
    for batch in batches:
        for row in batch.to_pylist():
            where = f"{label} row {index}"
            audio = _audio(row.get(audio_col), base)
            index += 1
            if isinstance(audio, str):
                yield Skipped(where, audio)
                continue
            path = (row.get(audio_col) or {}).get("path") or ""
            columns = {COLUMNS[k]: str(v) for k, v in row.items() if k in COLUMNS and v not in (None, "")}
            columns.update(split=split, source=path or where)
            stem = Path(path).stem if path else f"{split or 'row'}_{index - 1:06d}"
            yield Entry(audio, str(row.get(text_col) or ""), stem, columns, where)


def wanted_columns(schema, audio_col: str, text_col: str) -> list[str]:
    """Only what becomes the dataset: other columns (often big: other audio, features) are never read."""
    return [n for n in schema.names if n in (audio_col, text_col) or n in COLUMNS]
