"""Sentences spoken by eSpeak once and kept as a dataset folder in the cache (keep set, replay speech).

A folder holds metadata.csv, one WAV per line and a marker naming exactly what was spoken (text,
voice, rate, pitch, format version). It is reused only when the marker matches and every listed file
is readable; otherwise it is spoken again and replaced whole (`atomic_directory`), so a run killed
half-way or a changed sentence list never leaves a folder that mixes old and new clips.

Engine module: no Textual, no torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from whisper_tui.data.metadata import Clip

MARKER_FILE = ".whisper-tui-keep-set.json"


@dataclass(frozen=True)
class SpokenLine:
    file_name: str
    text: str
    voice: str
    rate_wpm: int
    pitch: int


def _marker(version: int, lines: list[SpokenLine]) -> dict:
    return {"version": version, "clips": [asdict(line) for line in lines]}


def _cached(folder: Path, version: int, lines: list[SpokenLine]) -> list[Clip] | None:
    """The folder's clips when it is complete and was spoken from `lines`, else None."""
    from whisper_tui.data.audio import audio_info
    from whisper_tui.data.metadata import read_metadata
    from whisper_tui.errors import WhisperTuiError

    try:
        if json.loads((folder / MARKER_FILE).read_text(encoding="utf-8")) != _marker(version, lines):
            return None
        clips, problems = read_metadata(folder)
        if problems or [(c.file_name, c.transcription) for c in clips] != [(x.file_name, x.text) for x in lines]:
            return None
        for clip in clips:
            if audio_info(clip.path).duration_s <= 0:
                return None
    except (OSError, ValueError, WhisperTuiError):
        return None
    return clips


def spoken_clips(folder: Path, version: int, lines: list[SpokenLine]) -> list[Clip]:
    """`lines` as clips of `folder`, spoken on first use (all or nothing). AudioError when eSpeak cannot run."""
    import soundfile as sf

    from whisper_tui.data.audio import SAMPLE_RATE
    from whisper_tui.data.metadata import METADATA_FILE, metadata_csv_bytes, read_metadata
    from whisper_tui.data.tts import synthesize
    from whisper_tui.storage.atomic import atomic_directory

    clips = _cached(folder, version, lines)
    if clips is not None:
        return clips
    with atomic_directory(folder, ours=None) as tmp:  # our own cache
        for line in lines:
            wave = synthesize(line.text, line.voice, line.rate_wpm, line.pitch)
            sf.write(tmp / line.file_name, wave, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        (tmp / METADATA_FILE).write_bytes(metadata_csv_bytes([(x.file_name, x.text) for x in lines]))
        (tmp / MARKER_FILE).write_text(json.dumps(_marker(version, lines), indent=1) + "\n", encoding="utf-8")
    clips, _problems = read_metadata(folder)
    return clips
