"""A labelled dataset as `whisper-tui label` writes it (status/confidence/flags columns), made from tones.

No model and no TTS: the metadata is written by hand, so tests of the review workflow run in seconds.
Rows (file order): a.wav auto 0.91, b.wav auto 0.42 flagged, c.wav reviewed 0.88, d.wav auto 0.35,
e.wav auto 0.77 flagged twice. Worst first: b (flagged, 0.42), e (flagged, 0.77), d (0.35), a (0.91), c (reviewed).
"""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
from helpers_tui import tone

HEADER = "file_name,transcription,source,confidence,no_speech,flags,status"
ROWS = (
    ("a.wav", "the first sentence is fine", "long.wav 0.00-1.20", "0.910", "0.010", "", "auto", 1.2),
    ("b.wav", "\"thank you, thank you, thank you\"", "long.wav 1.60-3.00", "0.420", "0.300", "repetition", "auto", 1.4),
    ("c.wav", "someone already checked this", "long.wav 3.40-5.40", "0.880", "0.020", "", "reviewed", 2.0),
    ("d.wav", "quiet words hard to hear", "short.wav 0.00-1.00", "0.350", "0.450", "", "auto", 1.0),
    ("e.wav", "far too many words for a clip this short", "short.wav 1.50-2.10", "0.770", "0.100",
     "too_long;compression", "auto", 0.6),
)
TEXTS = {"a.wav": "the first sentence is fine", "b.wav": "thank you, thank you, thank you",
         "c.wav": "someone already checked this", "d.wav": "quiet words hard to hear",
         "e.wav": "far too many words for a clip this short"}
WORST_FIRST = ["b.wav", "e.wav", "d.wav", "a.wav", "c.wav"]


def make_labelled_dataset(folder: Path, *, crlf: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [HEADER]
    for i, (name, text, source, conf, no_speech, flags, status, seconds) in enumerate(ROWS):
        sf.write(folder / name, tone(seconds, freq=180 + 50 * i), 16000, subtype="PCM_16")
        lines.append(",".join((name, text, source, conf, no_speech, flags, status)))
    end = "\r\n" if crlf else "\n"
    (folder / "metadata.csv").write_bytes((end.join(lines) + end).encode("utf-8"))
    return folder


def metadata_lines(folder: Path) -> list[bytes]:
    return (folder / "metadata.csv").read_bytes().splitlines(keepends=True)
