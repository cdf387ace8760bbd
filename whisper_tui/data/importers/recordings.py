"""Find long recordings and what describes them: subtitles (`talk.srt`, `talk.en.vtt`) or a plain `talk.txt`.

A source is a recording, a subtitle or transcript file (its recording is found beside it), or a
folder searched as a whole. A recording counts as *long* when it lasts more than 30 s: a short clip
with a `.txt` beside it is already a dataset the way `validate` reads folders, not something to cut.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from whisper_tui.data.audio import AUDIO_EXTENSIONS, audio_info
from whisper_tui.data.metadata import MAX_CLIP_SECONDS
from whisper_tui.errors import WhisperTuiError
from whisper_tui.data.importers.common import DETECT_DEPTH, DETECT_LIMIT, find_files, is_audio
from whisper_tui.data.importers.subtitles import SUFFIXES as SUBTITLE_SUFFIXES

QUICK_PAIRS = 50  # detection: a folder whose first 50 clips with a .txt are short is a dataset already


def recordings(src: Path) -> list[Path]:
    """Audio files the source means (sorted); for a subtitle/transcript file, the recording beside it."""
    if src.is_file():
        if is_audio(src):
            return [src]
        if src.suffix.lower() in (*SUBTITLE_SUFFIXES, ".txt"):
            found = [p for p in src.parent.iterdir() if is_audio(p)
                     and (src.stem == p.stem or src.stem.startswith(p.stem + "."))]
            return sorted(found, key=lambda p: (p.stem != src.stem, -len(p.stem), p.name))[:1]
        return []
    if not src.is_dir():
        return []
    return list(find_files(src, _is_recording))


def _is_recording(name: str) -> bool:
    return Path(name).suffix.lower() in AUDIO_EXTENSIONS


def _beside(path: Path) -> list[Path]:
    """The recording a subtitle or transcript file belongs to, if any."""
    return recordings(path)


def subtitles_for(audio: Path, src: Path | None = None) -> list[Path]:
    """`talk.srt`, `talk.vtt`, `talk.en.srt` ... for `talk.wav`, exact names first; the given file alone if `src` is one."""
    if src is not None and src.is_file() and src.suffix.lower() in SUBTITLE_SUFFIXES:
        return [src]
    found = [p for p in audio.parent.glob(f"{_glob_escape(audio.stem)}*") if p.suffix.lower() in SUBTITLE_SUFFIXES
             and p.is_file() and (p.stem == audio.stem or p.stem.startswith(audio.stem + "."))]
    return sorted(found, key=lambda p: (p.stem != audio.stem, p.name))


def transcript_for(audio: Path) -> Path | None:
    txt = audio.with_suffix(".txt")
    return txt if txt.is_file() else None


def is_long(audio: Path) -> bool:
    try:
        return audio_info(audio).duration_s > MAX_CLIP_SECONDS
    except WhisperTuiError:
        return False


def subtitled(src: Path, *, quick: bool = False) -> list[tuple[Path, Path]]:
    """(recording, its subtitle file) pairs; a recording with several (languages) uses the first.

    `quick` (detection): the first pair found, looking from the subtitle files' side, in a bounded walk.
    """
    if quick and src.is_dir():
        subs = find_files(src, lambda n: n.lower().endswith(SUBTITLE_SUFFIXES), max_depth=DETECT_DEPTH,
                          limit=DETECT_LIMIT)
        return next(([(rec[0], sub)] for sub in subs if (rec := _beside(sub))), [])
    pairs = []
    for audio in recordings(src):
        subs = subtitles_for(audio, src)
        if subs:
            pairs.append((audio, subs[0]))
    return pairs


def transcribed(src: Path, *, quick: bool = False) -> list[tuple[Path, Path]]:
    """(long recording, its plain .txt) pairs, for recordings without subtitles.

    `quick` (detection): the first pair among the first few .txt files with a recording beside them.
    """
    if quick and src.is_dir():
        txts = find_files(src, lambda n: n.lower().endswith(".txt"), max_depth=DETECT_DEPTH, limit=DETECT_LIMIT)
        beside = ((rec[0], txt) for txt in txts if (rec := _beside(txt)) and rec[0].stem == txt.stem)
        for audio, txt in itertools.islice(beside, QUICK_PAIRS):
            if not subtitles_for(audio) and is_long(audio):
                return [(audio, txt)]
        return []
    pairs = []
    for audio in recordings(src):
        txt = transcript_for(audio)
        if txt is not None and not subtitles_for(audio) and is_long(audio):
            pairs.append((audio, txt))
    return pairs


def _glob_escape(text: str) -> str:
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)
