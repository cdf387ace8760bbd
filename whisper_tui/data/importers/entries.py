"""What a format reader hands the writer: one `Entry` per clip to be, or one `Skipped` with its reason.

An entry's audio is one of four kinds, each knowing how to put itself into the new dataset folder:
- `FileAudio`: an existing file, copied (a copy-on-write clone where the file system can make one,
  which costs no space), or hard-linked on request (`link=True`: no space either, but the clip and the
  source are then one file, so an editor that rewrites the clip in place would change the source).
- `EncodedAudio`: a whole encoded file held in memory (Hugging Face `{"bytes": ...}`), written as is.
- `SamplesAudio`: decoded samples (a Hugging Face `{"array": ...}` column), written as a WAV.
- `SegmentAudio`: a stretch of a long recording, cut into a new 16 kHz mono WAV.
Readers do not touch the output folder; the writer (writer.py) names, places and measures the clips.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from whisper_tui.data.audio import SAMPLE_RATE, audio_info
from whisper_tui.data.metadata import MAX_CLIP_SECONDS
from whisper_tui.errors import AudioError

LINKED, COPIED, WRITTEN, CUT = "linked", "copied", "written", "cut"


@dataclass(frozen=True)
class FileAudio:
    path: Path

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()

    def exists(self) -> bool:
        return self.path.is_file()

    def place(self, dest: Path, *, link: bool = False) -> str:
        """Copy the file to `dest` (a copy-on-write clone where the file system can), or hard-link it; COPIED/LINKED."""
        if link:
            try:
                os.link(self.path, dest, follow_symlinks=True)
                return LINKED
            except OSError as exc:
                if exc.errno not in _NO_LINK:
                    raise
        if not _clone(self.path, dest):
            shutil.copyfile(self.path, dest)
        return COPIED


_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EACCES, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}
_FICLONE = 0x40049409  # Linux ioctl: share the blocks copy-on-write (btrfs, XFS, bcachefs); a later write to
# either file copies the block first, so the source can never change through the clip


def _clone(src: Path, dest: Path) -> bool:
    """Copy-on-write clone of `src` as a new file `dest`; False (and no `dest`) where the file system cannot."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return False
    try:
        with open(src, "rb") as fin, open(dest, "xb") as fout:
            try:
                fcntl.ioctl(fout.fileno(), _FICLONE, fin.fileno())
                return True
            except OSError:
                pass
    except OSError:
        pass
    with contextlib.suppress(OSError):
        dest.unlink()
    return False


@dataclass(frozen=True)
class EncodedAudio:
    data: bytes
    suffix: str  # ".wav", ".flac", ... of the encoded bytes

    def exists(self) -> bool:
        return bool(self.data)

    def place(self, dest: Path, *, link: bool = False) -> str:
        dest.write_bytes(self.data)
        return WRITTEN


@dataclass(frozen=True)
class SamplesAudio:
    wave: np.ndarray = field(compare=False)
    sample_rate: int
    suffix: str = ".wav"

    def exists(self) -> bool:
        return self.wave.size > 0 and self.sample_rate > 0

    def place(self, dest: Path, *, link: bool = False) -> str:
        import soundfile as sf

        sf.write(dest, np.asarray(self.wave, dtype=np.float32), int(self.sample_rate), subtype="PCM_16",
                 format="WAV")
        return WRITTEN


@dataclass(frozen=True)
class SegmentAudio:
    """[start, end) seconds of `path`, written as a 16 kHz mono 16-bit WAV."""

    path: Path
    start: float
    end: float
    suffix: str = ".wav"

    def exists(self) -> bool:
        return self.path.is_file()

    def place(self, dest: Path, *, link: bool = False) -> str:
        import soundfile as sf

        from whisper_tui.data.audio import resample

        wave, rate = read_span(self.path, self.start, self.end)
        wave = resample(wave, rate, SAMPLE_RATE)
        sf.write(dest, wave, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        return CUT


@dataclass(frozen=True)
class MovedAudio(FileAudio):
    """A clip a helper already wrote into the import's scratch folder (the aligner's cuts): moved, not copied."""

    def place(self, dest: Path, *, link: bool = False) -> str:
        os.replace(self.path, dest)
        return CUT


def read_span(path: Path, start: float, end: float) -> tuple[np.ndarray, int]:
    """Mono float32 samples of [start, end) seconds, read by seeking (an hour-long file is never loaded whole)."""
    import soundfile as sf

    info = audio_info(path)
    first = max(0, round(start * info.sample_rate))
    last = min(info.frames, round(end * info.sample_rate))
    if last <= first:
        raise AudioError(f"{path}: {start:.2f}-{end:.2f} s is outside the recording ({info.duration_s:.2f} s)",
                         "check the cue times against the recording", where=str(path))
    try:
        with sf.SoundFile(str(path)) as fh:
            fh.seek(first)
            data = fh.read(last - first, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, ValueError) as exc:
        raise AudioError(f"Cannot read {path} at {start:.2f} s ({exc})", "convert it to WAV or FLAC and import again",
                         where=str(path)) from exc
    wave = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    return np.ascontiguousarray(wave, dtype=np.float32), info.sample_rate


Audio = FileAudio | EncodedAudio | SamplesAudio | SegmentAudio | MovedAudio


@dataclass
class Entry:
    """One clip to write: its audio, transcript, a file name to base the clip's name on, and extra columns."""

    audio: Audio
    text: str
    name: str  # wanted file name stem, e.g. "common_voice_en_1"; made unique by the writer
    columns: dict[str, str] = field(default_factory=dict)  # speaker, split, source, start, end, ...
    where: str = ""  # how the source names this row in messages ("train.tsv line 4")
    review: str = ""  # why it must not be trained on as it is: it goes to review/ instead of metadata.csv


@dataclass(frozen=True)
class Skipped:
    """A source row that did not become a clip, and why (shown by the CLI and stored in import.json)."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class Plan:
    """A reader's answer: the entries (read lazily where the source is large), how many, and remarks."""

    items: Iterable[Entry | Skipped]
    total: int | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Options:
    """Knobs some formats read; the defaults are what `whisper-tui import` uses."""

    max_segment_s: float = MAX_CLIP_SECONDS  # subtitles: a segment of merged cues is at most this long
    max_gap_s: float = 1.5  # subtitles: a longer pause between two cues starts a new segment
    align_model: str | None = None  # plain-transcript recordings: the model the aligner uses
    text_column: str | None = None  # Hugging Face tables: the transcript column (default: found by name)
    scratch: Path | None = None  # set by import_dataset: a folder inside the output for helpers' files
    on_progress: Callable[[int, int | None, str], None] | None = field(default=None, compare=False)
