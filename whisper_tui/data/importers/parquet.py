"""Parquet files with an audio column (a Hugging Face dataset repository's `data/*.parquet`).

Every `*.parquet` under the source is read, one row group at a time; a file or folder name that
says train/dev/validation/test (`train-00000-of-00002.parquet`, `data/test/...`) gives the `split`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from whisper_tui.errors import DatasetError
from whisper_tui.data.importers.common import DETECT_DEPTH, DETECT_LIMIT, find_files, relative, split_from_name
from whisper_tui.data.importers.entries import Entry, Options, Plan, Skipped
from whisper_tui.data.importers.hf_table import pick_columns, table_rows, wanted_columns

NAME = "parquet"
LABEL = "Parquet files with an audio column"
LOOKS_FOR = "*.parquet files with an audio column (a struct of bytes and path)"
BATCH_ROWS = 64


def _is_parquet(name: str) -> bool:
    return name.lower().endswith(".parquet")


def files(src: Path, *, quick: bool = False) -> list[Path]:
    if src.is_file():
        return [src] if _is_parquet(src.name) else []
    if quick:
        return list(itertools.islice(find_files(src, _is_parquet, max_depth=DETECT_DEPTH, limit=DETECT_LIMIT), 1))
    return list(find_files(src, _is_parquet))


def detect(src: Path) -> bool:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for path in files(src, quick=True):
        try:
            pick_columns(pq.read_schema(path), None, str(path))
            return True
        except DatasetError as exc:
            return "no transcript column" in exc.message  # audio is there: read() says which column is missing
        except (pa.ArrowInvalid, OSError):
            return False
    return False


def _rows(paths: list[Path], root: Path, options: Options) -> Iterator[Entry | Skipped]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for path in paths:
        label = relative(path, root)
        try:
            pf = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DatasetError(f"{path}: not a parquet file ({exc})", "check it was copied completely",
                               where=str(path)) from exc
        schema = pf.schema_arrow
        audio, text = pick_columns(schema, options.text_column, str(path))
        parts = path.relative_to(root).parts if path.is_relative_to(root) else (path.name,)
        batches = pf.iter_batches(batch_size=BATCH_ROWS, columns=wanted_columns(schema, audio, text))
        yield from table_rows(batches, audio, text, label=label, split=split_from_name(*reversed(parts)),
                              base=path.parent)


def read(src: Path, options: Options) -> Plan:
    import pyarrow.parquet as pq

    paths = files(src)
    root = src.parent if src.is_file() else src
    try:
        total = sum(pq.ParquetFile(p).metadata.num_rows for p in paths)
    except Exception:  # noqa: BLE001 - only a progress total; the real read reports the error
        total = None
    return Plan(_rows(paths, root, options), total, [f"{len(paths)} parquet file(s)"])
