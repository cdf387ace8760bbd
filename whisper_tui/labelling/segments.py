"""A long recording into clips of at most 30 s, cut in pauses, each with the model's text for it.

Whisper's own long-form method (OpenAI's `transcribe`, faster-whisper) decodes 30 s windows with
timestamp tokens: `<|t0|> text <|t1|><|t2|> text <|t3|> ...`. Each pair closes one of the model's
segments (a sentence or phrase). When a window ends inside a segment, the next window starts at
the last closed timestamp ("seek"), so no word is cut in two and no text is given twice.

Clips are made of whole segments, so a clip's text is exactly the tokens the model gave for
that stretch, decoded with the context of its window. Between two segments the cut goes to the
quietest moment (100 ms smoothed energy) from a little before the first one's end to a little
after the next one's start: timestamps are often a few hundred ms off, the pause is not. Two
segments stay in one clip when no real pause lies between them (under `MIN_PAUSE_S` of quiet:
the model split a sentence in running speech) or while the clip is shorter than `min_s`, as
long as the clip stays within `max_s`. Silence at a clip's ends is trimmed to `KEEP_SILENCE_S`.
Windows with nothing to hear (energy) are not decoded at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from whisper_tui.data.audio import SAMPLE_RATE
from whisper_tui.inference import energy
from whisper_tui.labelling.decoding import Decoded
from whisper_tui.models.window import WHISPER_WINDOW_S
from whisper_tui.whisper_facts import TIMESTAMP_STEP_S

MAX_CLIP_S = float(WHISPER_WINDOW_S)
MIN_CLIP_S = 1.5
MIN_PAUSE_S = 0.2
KEEP_SILENCE_S = 0.25
MAX_LEAD_S = 1.0  # a clip reaches at most this far beyond its first/last segment's timestamps
_SEARCH_S = 0.3  # the quietest moment is looked for this far around a timestamp boundary
_MIN_WINDOW_S = 0.1


@dataclass
class Segment:
    """One of the model's timestamped segments, in seconds from the start of the recording."""

    start: float
    end: float
    ids: list[int]  # text tokens
    probs: list[float]
    no_speech: float


@dataclass
class PlannedClip:
    start: float
    end: float
    segments: list[Segment] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return [t for s in self.segments for t in s.ids]

    @property
    def probs(self) -> list[float]:
        return [p for s in self.segments for p in s.probs]

    @property
    def no_speech(self) -> float:
        return max((s.no_speech for s in self.segments), default=0.0)


def split_window(decoded: Decoded, timestamp_begin: int, eot: int, window_s: float,
                 offset_s: float) -> tuple[list[Segment], float]:
    """The window's closed segments and how many seconds of it they consumed (OpenAI's seek rule)."""
    tokens, probs = decoded.tokens, decoded.probs
    is_ts = [t >= timestamp_begin for t in tokens]

    def seconds(token: int) -> float:
        return min(window_s, (token - timestamp_begin) * TIMESTAMP_STEP_S)

    def segment(lo: int, hi: int, start: float, end: float) -> Segment | None:
        keep = [k for k in range(lo, hi) if tokens[k] < eot]
        if not keep:
            return None
        return Segment(offset_s + start, offset_s + max(start, end), [tokens[k] for k in keep],
                       [probs[k] for k in keep], decoded.no_speech)

    single_ending = len(tokens) >= 2 and is_ts[-2:] == [False, True]
    consecutive = [k for k in range(1, len(tokens)) if is_ts[k - 1] and is_ts[k]]
    found: list[Segment | None] = []
    if consecutive:
        slices = consecutive + ([len(tokens)] if single_ending else [])
        last = 0
        for cut in slices:
            start = seconds(tokens[last]) if is_ts[last] else 0.0
            end = seconds(tokens[cut - 1]) if is_ts[cut - 1] else window_s
            found.append(segment(last, cut, start, end))
            last = cut
        consumed = window_s if single_ending else seconds(tokens[last - 1])
    else:
        stamps = [t for t in tokens if t >= timestamp_begin]
        start = seconds(stamps[0]) if stamps and is_ts[0] else 0.0
        end = seconds(stamps[-1]) if stamps and stamps[-1] != timestamp_begin and len(stamps) > 1 else window_s
        found.append(segment(0, len(tokens), start, end))
        consumed = window_s
    return [s for s in found if s is not None], consumed if consumed >= 1.0 else window_s


def decode_long(decoder, wave: np.ndarray, *, window_s: float = float(WHISPER_WINDOW_S), language: str = "en",
                should_stop: Callable[[], bool] | None = None,
                on_window: Callable[[float], None] | None = None) -> tuple[list[Segment], int] | None:
    """Every segment the model hears in `wave`, and how many windows were skipped as silent.
    None when `should_stop()` said stop (the file is then left for the next run)."""
    n = len(wave)
    win = int(window_s * SAMPLE_RATE)
    seek, segments, silent = 0, [], 0
    while n - seek >= _MIN_WINDOW_S * SAMPLE_RATE:
        if should_stop is not None and should_stop():
            return None
        piece = wave[seek:seek + win]
        piece_s = len(piece) / SAMPLE_RATE
        if energy.is_silent(energy.frame_db(piece)):
            silent += 1
            consumed = piece_s
        else:
            decoded = decoder.decode(piece, timestamps=True, language=language)
            found, consumed = split_window(decoded, decoder.timestamp_begin, decoder.eot, piece_s, seek / SAMPLE_RATE)
            segments.extend(found)
        seek += max(1, int(round(min(consumed, piece_s) * SAMPLE_RATE)))
        if on_window is not None:
            on_window(seek / SAMPLE_RATE)
    return segments, silent


def plan_clips(segments: list[Segment], db: np.ndarray, duration_s: float, *, max_s: float = MAX_CLIP_S,
               min_s: float = MIN_CLIP_S) -> list[PlannedClip]:
    """Group segments into clips of at most `max_s`, cut at the quietest moment between two of them."""
    segments = sorted((s for s in segments if s.ids), key=lambda s: s.start)
    if not segments:
        return []
    level = energy.pause_level(db)
    cuts, pauses = [], []
    for a, b in zip(segments[:-1], segments[1:], strict=True):
        lo = max(a.start, min(a.end, b.start) - _SEARCH_S)
        hi = min(b.end, max(a.end, b.start) + _SEARCH_S)
        cut = energy.quietest(db, lo, hi) if hi > lo else (a.end + b.start) / 2
        cuts.append(cut)
        pauses.append(energy.pause_around(db, cut, level))
    keep = KEEP_SILENCE_S

    def span(first: int, last: int) -> float:
        return segments[last].end - segments[first].start + 2 * keep

    groups, first = [], 0
    for k in range(len(segments) - 1):
        joined = span(first, k + 1)
        short = span(first, k) < min_s or span(k + 1, k + 1) < min_s
        if joined <= max_s and (pauses[k] < MIN_PAUSE_S or short):
            continue
        groups.append((first, k))
        first = k + 1
    groups.append((first, len(segments) - 1))
    clips = []
    for first, last in groups:
        lo = cuts[first - 1] if first > 0 else 0.0
        hi = cuts[last] if last < len(cuts) else duration_s
        lo = max(lo, segments[first].start - MAX_LEAD_S)
        hi = min(hi, segments[last].end + MAX_LEAD_S)
        loud = energy.loud_span(db, lo, hi, level)
        if loud is not None:
            lo, hi = max(lo, loud[0] - keep), min(hi, loud[1] + keep)
        lo = round(lo, 2)  # the source column's precision: the clip is exactly the span it names
        hi = math.floor(min(max(hi, lo), lo + max_s, duration_s) * 100 + 1e-6) / 100
        clips.append(PlannedClip(lo, hi, segments[first:last + 1]))
    return clips
