"""Long recordings with a plain `.txt` transcript (no times): aligned, then cut (align.py does both).

The aligner recognises the recording with the base model, places the transcript's words in time
and cuts clips of at most 30 s at sentence ends. A clip whose words were mostly not found in the
audio comes back with status "poor": it is written to `review/` (a dataset folder of its own, to
listen to and fix), not to the training metadata. The aligner is imported only when needed; a
build without it says so instead of importing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from whisper_tui.errors import DatasetError, WhisperTuiError
from whisper_tui.data.importers.common import read_text, relative, seconds_text
from whisper_tui.data.importers.entries import Entry, MovedAudio, Options, Plan, Skipped
from whisper_tui.data.importers.recordings import transcribed

NAME = "transcript"
LABEL = "Long recordings with a plain transcript"
LOOKS_FOR = "recordings over 30 s with a .txt of the same name beside them (and no subtitles)"


def detect(src: Path) -> bool:
    return bool(transcribed(src, quick=True))


def aligner() -> Callable | None:
    try:
        from whisper_tui.data.importers.align import cut_by_alignment
    except ImportError:
        return None
    return cut_by_alignment


def _rows(pairs: list[tuple[Path, Path]], root: Path, options: Options, cut: Callable) -> Iterator[Entry | Skipped]:
    scratch = options.scratch or root
    for number, (audio, txt) in enumerate(pairs, start=1):
        name = relative(audio, root)
        out = scratch / f"aligned-{number:04d}"

        def progress(done: int, total: int, name=name) -> None:
            if options.on_progress is not None:
                options.on_progress(done, total, f"aligning {name}")

        try:
            rows = cut(audio, read_text(txt), out, model=options.align_model, on_progress=progress)
        except WhisperTuiError as exc:
            yield Skipped(name, f"could not align ({exc})")
            continue
        for row in rows:
            start, end = float(row["start"]), float(row["end"])
            span = f"{seconds_text(start)}-{seconds_text(end)}"
            quality = row.get("quality")
            columns = {"source": f"{name} {span}", "start": f"{start:.3f}", "end": f"{end:.3f}",
                       "confidence": "" if quality is None else f"{float(quality):.3f}",
                       "status": str(row.get("status", ""))}
            entry = Entry(MovedAudio(out / row["file_name"]), str(row.get("text", "")), Path(row["file_name"]).stem,
                          columns, f"{name} {span}")
            if row.get("status") == "poor":
                entry.review = f"poor alignment (quality {columns['confidence'] or '?'})"
            yield entry


def read(src: Path, options: Options) -> Plan:
    pairs = transcribed(src)
    cut = aligner()
    if cut is None:
        raise DatasetError(f"{src}: long recordings with a plain .txt transcript need aligning, which this build "
                           "of whisper-tui cannot do yet",
                           "give each recording subtitles (.srt or .vtt with the same name), or cut it into "
                           "clips of at most 30 s yourself", where=str(src))
    root = src.parent if src.is_file() else src
    notes = [f"{len(pairs)} recording(s) aligned with their transcript by the base model"]
    return Plan(_rows(pairs, root, options, cut), None, notes)
