"""Read SubRip (.srt) and WebVTT (.vtt) subtitles into cues: start, end, plain text, speaker.

One parser reads both: a cue is a timing line (`00:01:02,500 --> 00:01:04,000`; hours optional, `,`
or `.` before the milliseconds, VTT cue settings after the times ignored) and the text lines after
it up to a blank line. So SRT numbers, VTT cue identifiers and `NOTE`/`STYLE`/`REGION` blocks fall
away by themselves. Text is made plain: tags (`<i>`, `<font ...>`, VTT `<c.x>`, `<00:00:01.000>`),
ASS overrides (`{\\an8}`), HTML entities, dialogue dashes, and what is not speech (`[Music]`, `♪`)
are removed; a VTT voice tag `<v Anna>` gives the cue's speaker.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from whisper_tui.errors import DatasetError
from whisper_tui.data.importers.common import read_text

SUFFIXES = (".srt", ".vtt")
_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s.*)?$")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>")
_TAG = re.compile(r"<[^>]*>")
_ASS = re.compile(r"\{\\[^}]*\}")
_NOT_SPEECH = re.compile(r"\[[^\]]*\]|[♪♫]")
_DASH = re.compile(r"^\s*[-‐–—]\s+")


@dataclass(frozen=True)
class Cue:
    start: float  # seconds
    end: float
    text: str  # plain text, one line
    speaker: str = ""
    line: int = 0  # line of the timing in the file (1-based), for messages


def _seconds(h: str | None, m: str, s: str, frac: str | None) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + (int(frac.ljust(3, "0")) / 1000 if frac else 0.0)


def plain_text(raw_lines: list[str]) -> tuple[str, str]:
    """(text, speaker) of a cue's lines with the markup and non-speech taken out."""
    joined = "\n".join(raw_lines)
    voice = _VOICE.search(joined)
    speaker = " ".join(voice.group(1).split()) if voice else ""
    out = []
    for line in raw_lines:
        line = _ASS.sub("", _TAG.sub("", line))
        line = _NOT_SPEECH.sub(" ", html.unescape(line)).replace("\u00a0", " ")
        out.append(_DASH.sub("", line))
    return " ".join(" ".join(out).split()), speaker


def parse_subtitles(text: str) -> list[Cue]:
    """Cues in file order (empty-text cues included: the caller reports them)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cues = []
    for i, line in enumerate(lines):
        match = _TIMING.match(line)
        if not match:
            continue
        g = match.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        body = []
        for following in lines[i + 1:]:
            if not following.strip() or _TIMING.match(following):
                break
            body.append(following)
        if body and body[-1].strip().isdigit() and i + 1 + len(body) < len(lines) \
                and _TIMING.match(lines[i + 1 + len(body)]):
            body.pop()  # the next cue's number, in a file with no blank line between cues
        words, speaker = plain_text(body)
        cues.append(Cue(start, end, words, speaker, i + 1))
    return cues


def read_subtitles(path: Path) -> list[Cue]:
    """Cues of an .srt or .vtt file; DatasetError when it holds no timing line at all."""
    try:
        text = read_text(path)
    except OSError as exc:
        raise DatasetError(f"Cannot read {path}: {exc.strerror}", "check the file's permissions",
                           where=str(path)) from exc
    cues = parse_subtitles(text)
    if not cues:
        raise DatasetError(f"{path}: no subtitle cues found (no line like `00:00:01,000 --> 00:00:04,000`)",
                           "is it really SRT or WebVTT?", where=str(path))
    return cues
