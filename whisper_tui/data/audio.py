"""Audio files in, 16 kHz mono float32 out: the only shape Whisper's feature extractor accepts.

Everything goes through libsndfile (via `soundfile`), so WAV (8/16/24/32-bit, float), FLAC, OGG
and, where libsndfile was built with it, MP3 all read the same way. Any file that cannot be read
becomes an `AudioError` naming the file, so one bad clip in a dataset is reported, not a crash.
torch/torchaudio are imported only when a resample is actually needed.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from whisper_tui.errors import AudioError
from whisper_tui.whisper_facts import SAMPLE_RATE  # re-exported: the engine reads it here

_FORMAT_EXTENSIONS = {
    "WAV": (".wav", ".wave"),
    "FLAC": (".flac",),
    "OGG": (".ogg", ".oga", ".opus"),
    "MP3": (".mp3",),
    "AIFF": (".aif", ".aiff"),
}
# Only what this libsndfile build can actually decode (MP3 arrived in libsndfile 1.1).
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    ext for fmt, exts in _FORMAT_EXTENSIONS.items() if fmt in sf.available_formats() for ext in exts
)

_CONVERT_HINT = "convert it to 16-bit WAV (e.g. `ffmpeg -i in -ar 16000 -ac 1 out.wav`) or remove it"


@dataclass(frozen=True)
class AudioInfo:
    """What the header says about a file; cheap enough to compute for a whole dataset."""

    path: Path
    duration_s: float
    sample_rate: int
    channels: int
    frames: int
    subtype: str  # libsndfile's name: PCM_16, PCM_24, PCM_U8, FLOAT, VORBIS, MPEG_LAYER_III, ...


def is_audio_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def _check_file(path: Path) -> None:
    """The failures libsndfile reports badly (it calls a missing MP3 'not a regular file')."""
    if not path.exists():
        raise AudioError(f"Audio file not found: {path}", "check the path and the file name's spelling",
                         where=str(path))
    if not path.is_file():
        raise AudioError(f"Not a file: {path}", "give the path of an audio file, not a folder", where=str(path))
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioError(f"Cannot read {path}: {exc.strerror}", "check the file's permissions",
                         where=str(path)) from exc
    if size == 0:
        raise AudioError(f"Audio file is empty (0 bytes): {path}",
                         "the file was probably not copied or recorded completely; replace it", where=str(path))
    if not os.access(path, os.R_OK):
        raise AudioError(f"No permission to read {path}", "check the file's permissions", where=str(path))


def _unreadable(path: Path, exc: Exception) -> AudioError:
    detail = str(exc)
    # soundfile prefixes "Error opening '<path>': "; keep only libsndfile's own words.
    if ": " in detail:
        detail = detail.rsplit(": ", 1)[-1]
    detail = detail.strip().rstrip(".")
    if "does not exist" in detail or "not a regular file" in detail:
        detail = "format not recognised"  # MP3 decoder's misleading message for a non-MP3 file
    return AudioError(f"Not a readable audio file: {path} ({detail})",
                      f"the file is corrupt, truncated or not really {path.suffix or 'audio'}; {_CONVERT_HINT}",
                      where=str(path))


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Read only the header: fast enough for browsing hundreds of clips."""
    path = Path(path)
    _check_file(path)
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as exc:
        raise _unreadable(path, exc) from exc
    if info.samplerate <= 0 or info.channels <= 0:
        raise AudioError(f"Audio header of {path} is invalid ({info.samplerate} Hz, {info.channels} channels)",
                         _CONVERT_HINT, where=str(path))
    frames = max(int(info.frames), 0)
    return AudioInfo(path=path, duration_s=frames / info.samplerate, sample_rate=int(info.samplerate),
                     channels=int(info.channels), frames=frames, subtype=str(info.subtype))


def read_mono(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decode a file at its own rate, channels averaged; no torch involved."""
    path = Path(path)
    _check_file(path)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as exc:
        raise _unreadable(path, exc) from exc
    except MemoryError as exc:
        raise AudioError(f"{path} is too large to load into memory", "split it into shorter clips",
                         where=str(path)) from exc
    if data.shape[0] == 0:
        raise AudioError(f"Audio file has no samples: {path}", "the recording is empty; replace or remove it",
                         where=str(path))
    wave = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    if not np.all(np.isfinite(wave)):
        raise AudioError(f"Audio file contains NaN or infinite samples: {path}",
                         f"the float WAV is corrupt; {_CONVERT_HINT}", where=str(path))
    return np.ascontiguousarray(wave, dtype=np.float32), int(sr)


@functools.lru_cache(maxsize=16)
def _resampler(orig_sr: int, target_sr: int):
    """torchaudio's Resample keeps its sinc kernel; building it costs more than applying it."""
    import torchaudio.transforms

    return torchaudio.transforms.Resample(orig_sr, target_sr)


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited sinc resampling (torchaudio.functional.resample's filter, kernel cached per rate pair)."""
    wave = np.asarray(wave, dtype=np.float32)
    if orig_sr == target_sr or wave.size == 0:
        return wave.copy()
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    import torch

    with torch.no_grad():
        out = _resampler(int(orig_sr), int(target_sr))(torch.from_numpy(np.ascontiguousarray(wave)))
    return out.numpy().astype(np.float32, copy=False)


def load_audio(path: str | os.PathLike, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Any supported file -> float32 mono at `target_sr`, or an AudioError naming the file."""
    wave, sr = read_mono(path)
    return resample(wave, sr, target_sr)
