"""Long recordings with subtitles: cut each recording at its cue times into segments of at most 30 s.

How cues become segments is segments.py's job; here each segment becomes an entry whose audio is
that stretch of the recording (written as a new 16 kHz mono WAV; the recording is only read). The
`source` column says where the clip came from (`talk.wav 00:01:02.500-00:01:20.000`), `start`
and `end` give the same times in seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from whisper_tui.data.audio import audio_info
from whisper_tui.errors import WhisperTuiError
from whisper_tui.data.importers.common import relative, seconds_text
from whisper_tui.data.importers.entries import Entry, Options, Plan, SegmentAudio, Skipped
from whisper_tui.data.importers.recordings import subtitled, transcribed
from whisper_tui.data.importers.segments import segment_cues
from whisper_tui.data.importers.subtitles import read_subtitles

NAME = "subtitles"
LABEL = "Long recordings with subtitles"
LOOKS_FOR = "recordings with a .srt or .vtt of the same name beside them"


def detect(src: Path) -> bool:
    return bool(subtitled(src, quick=True))


def _rows(pairs: list[tuple[Path, Path]], root: Path, options: Options) -> Iterator[Entry | Skipped]:
    for audio, subs in pairs:
        name = relative(audio, root)
        try:
            duration = audio_info(audio).duration_s
        except WhisperTuiError as exc:
            yield Skipped(name, f"unreadable audio ({exc.message})")
            continue
        try:
            cues = read_subtitles(subs)
        except WhisperTuiError as exc:
            yield Skipped(relative(subs, root), exc.message)
            continue
        segments, left_out = segment_cues(cues, max_s=options.max_segment_s, max_gap_s=options.max_gap_s,
                                          duration=duration)
        for cue, why in left_out:
            yield Skipped(f"{relative(subs, root)} line {cue.line} ({seconds_text(cue.start)})", why)
        for seg in segments:
            span = f"{seconds_text(seg.start)}-{seconds_text(seg.end)}"
            columns = {"speaker": seg.speaker, "source": f"{name} {span}", "start": f"{seg.start:.3f}",
                       "end": f"{seg.end:.3f}"}
            stem = f"{audio.stem}_{round(seg.start * 1000):08d}"
            yield Entry(SegmentAudio(audio, seg.start, seg.end), seg.text, stem, columns, f"{name} {span}")


def read(src: Path, options: Options) -> Plan:
    pairs = subtitled(src)
    root = src.parent if src.is_file() else src
    notes = [f"{len(pairs)} recording(s): " + ", ".join(f"{a.name} + {s.name}" for a, s in pairs[:5])
             + (" ..." if len(pairs) > 5 else "")]
    plain = transcribed(src) if src.is_dir() else []
    if plain:
        notes.append(f"{len(plain)} long recording(s) have a plain .txt transcript instead of subtitles "
                     "(not imported here; import them with --format transcript)")
    items = list(_rows(pairs, root, options))  # cheap: no audio is read until a clip is written
    return Plan(items, len(items), notes)
