"""Timed transcripts out: txt, srt, vtt, json and tsv, the formats OpenAI's whisper CLI writes.

A `Segment` is what timestamp decoding gives (start and end in seconds, text). `render` turns a list of
them into one file's text; `write_transcript` writes NAME.EXT atomically (storage/atomic.py), so an
interrupted run never leaves half a subtitle file. `parse` reads each format back (the tests round-trip
through it; an SRT/VTT import can use it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("txt", "srt", "vtt", "json", "tsv")


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the start of the recording
    end: float
    text: str
    words: tuple = ()  # word_times.Word per word when word timestamps were asked for (transcribe --word-timestamps)


def clock(seconds: float, decimal: str = ",", hours: bool = True) -> str:
    """HH:MM:SS,mmm (SRT) or [HH:]MM:SS.mmm (VTT), rounded to the millisecond."""
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    head = f"{h:02d}:" if hours or h else ""
    return f"{head}{m:02d}:{s:02d}{decimal}{ms:03d}"


def _clean(text: str) -> str:
    # a blank line would end an SRT/VTT cue early; "-->" would read as a timing line
    return " ".join(text.replace("-->", "->").split())


def _json_segment(i: int, s: Segment) -> dict:
    out = {"id": i, "start": round(s.start, 3), "end": round(s.end, 3), "text": s.text}
    if s.words:  # OpenAI's JSON with word_timestamps: start, end, word, probability
        out["words"] = [{"start": w.start, "end": w.end, "word": w.text, "probability": w.probability}
                        for w in s.words]
    return out


def render(segments: list[Segment], fmt: str) -> str:
    """One file's text in `fmt` (one of FORMATS)."""
    segments = [Segment(s.start, s.end, _clean(s.text), s.words) for s in segments if _clean(s.text)]
    if fmt == "txt":
        return "".join(f"{s.text}\n" for s in segments)
    if fmt == "srt":
        return "\n".join(f"{i}\n{clock(s.start)} --> {clock(s.end)}\n{s.text}\n"
                         for i, s in enumerate(segments, 1))
    if fmt == "vtt":
        cues = "".join(f"{clock(s.start, '.')} --> {clock(s.end, '.')}\n{s.text}\n\n" for s in segments)
        return f"WEBVTT\n\n{cues}"
    if fmt == "tsv":  # OpenAI's: integer milliseconds
        return "start\tend\ttext\n" + "".join(
            f"{round(s.start * 1000)}\t{round(s.end * 1000)}\t{s.text}\n" for s in segments)
    if fmt == "json":
        return json.dumps({"text": " ".join(s.text for s in segments),
                           "segments": [_json_segment(i, s) for i, s in enumerate(segments)]},
                          ensure_ascii=False, indent=2) + "\n"
    raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")


def write_transcript(segments: list[Segment], audio: Path, output_dir: Path, fmt: str) -> Path:
    """output_dir/NAME.fmt for the recording `audio`, written atomically; returns the path."""
    from whisper_tui.storage.atomic import atomic_write_text

    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{Path(audio).stem}.{fmt}"
    atomic_write_text(target, render(segments, fmt))
    return target


_CUE = re.compile(r"(?:(\d+):)?(\d{2}):(\d{2})[,.](\d{3})\s*-->\s*(?:(\d+):)?(\d{2}):(\d{2})[,.](\d{3})")


def _seconds(h, m, s, ms) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse(text: str, fmt: str) -> list[Segment]:
    """Segments back from `render`'s srt, vtt, tsv or json (txt has no times)."""
    if fmt == "json":
        from whisper_tui.inference.word_times import Word

        return [Segment(float(s["start"]), float(s["end"]), s["text"],
                        tuple(Word(float(w["start"]), float(w["end"]), w["word"], float(w["probability"]))
                              for w in s.get("words", ())))
                for s in json.loads(text)["segments"]]
    if fmt == "tsv":
        rows = [line.split("\t", 2) for line in text.splitlines()[1:] if line]
        return [Segment(int(a) / 1000, int(b) / 1000, t) for a, b, t in rows]
    if fmt in ("srt", "vtt"):
        if fmt == "vtt" and not text.startswith("WEBVTT"):
            raise ValueError("a WebVTT file starts with WEBVTT")
        out = []
        for block in re.split(r"\n\s*\n", text.strip()):
            lines = block.splitlines()
            for k, line in enumerate(lines):
                m = _CUE.search(line)
                if m:
                    g = m.groups()
                    out.append(Segment(_seconds(*g[:4]), _seconds(*g[4:]), " ".join(lines[k + 1:]).strip()))
                    break
        return out
    raise ValueError(f"no times to parse in {fmt!r}")
