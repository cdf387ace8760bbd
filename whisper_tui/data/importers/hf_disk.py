"""A Hugging Face `datasets` folder written by `save_to_disk`: `state.json` + `data-*.arrow` (Arrow streams).

A `DatasetDict` is a folder with `dataset_dict.json` and one such folder per split; the split
names become the `split` column. Read with pyarrow alone (no `datasets` install needed), one
record batch at a time, so a large set never sits in memory whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from whisper_tui.errors import DatasetError
from whisper_tui.data.importers.common import split_from_name
from whisper_tui.data.importers.entries import Entry, Options, Plan, Skipped
from whisper_tui.data.importers.hf_table import pick_columns, table_rows, wanted_columns

NAME = "hf-disk"
LABEL = "Hugging Face save_to_disk folder"
LOOKS_FOR = "a Hugging Face save_to_disk folder (state.json + data-*.arrow, or dataset_dict.json)"
STATE, DICT = "state.json", "dataset_dict.json"


def _is_dataset(folder: Path) -> bool:
    return (folder / STATE).is_file() and any(folder.glob("*.arrow"))


def parts(src: Path) -> list[tuple[str, Path]]:
    """(split name, dataset folder) pairs; [] when `src` is not a save_to_disk folder."""
    if not src.is_dir():
        return []
    if (src / DICT).is_file():
        try:
            splits = json.loads((src / DICT).read_text(encoding="utf-8")).get("splits") or []
        except (OSError, ValueError, AttributeError):
            splits = []
        found = [(str(s), src / str(s)) for s in splits if _is_dataset(src / str(s))]
        return found or [(p.name, p) for p in sorted(src.iterdir()) if p.is_dir() and _is_dataset(p)]
    if _is_dataset(src):
        try:
            split = json.loads((src / STATE).read_text(encoding="utf-8")).get("_split") or ""
        except (OSError, ValueError, AttributeError):
            split = ""
        return [(str(split), src)]
    return []


def detect(src: Path) -> bool:
    return bool(parts(src))


def arrow_files(folder: Path) -> list[Path]:
    try:
        state = json.loads((folder / STATE).read_text(encoding="utf-8"))
        files = [folder / f["filename"] for f in state.get("_data_files", [])]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        files = []
    return [f for f in files if f.is_file()] or sorted(folder.glob("*.arrow"))


def _reader(path: Path):
    import pyarrow as pa

    source = pa.memory_map(str(path), "r")
    try:
        return pa.ipc.open_stream(source)
    except pa.ArrowInvalid:
        return pa.ipc.open_file(source)


def _batches(reader):
    if hasattr(reader, "num_record_batches"):  # file format
        return (reader.get_batch(i) for i in range(reader.num_record_batches))
    return iter(reader)


def _select(batches, columns: list[str]):
    for batch in batches:
        yield batch.select(columns)


def _rows(found: list[tuple[str, Path]], options: Options) -> Iterator[Entry | Skipped]:
    import pyarrow as pa

    for split, folder in found:
        for path in arrow_files(folder):
            label = f"{folder.name}/{path.name}" if len(found) > 1 else path.name
            try:
                reader = _reader(path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise DatasetError(f"{path}: not an Arrow file ({exc})", "check the folder was written by "
                                   "save_to_disk and copied completely", where=str(path)) from exc
            audio, text = pick_columns(reader.schema, options.text_column, str(path))
            yield from table_rows(_select(_batches(reader), wanted_columns(reader.schema, audio, text)), audio, text,
                                  label=label, split=split_from_name(split) or split, base=folder)


def _count(found: list[tuple[str, Path]]) -> int | None:
    try:
        return sum(b.num_rows for _s, folder in found for p in arrow_files(folder) for b in _batches(_reader(p)))
    except Exception:  # noqa: BLE001 - only a progress total; the real read reports the error
        return None


def read(src: Path, options: Options) -> Plan:
    found = parts(src)
    notes = [f"splits: {', '.join(s for s, _f in found)}"] if any(s for s, _f in found) else []
    return Plan(_rows(found, options), _count(found), notes)
