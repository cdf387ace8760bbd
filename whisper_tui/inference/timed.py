"""Timed segments of a recording of any length, by Whisper's sequential timestamp decoding.

Each 30 s window is decoded with timestamps (the prompt without <|notimestamps|>); the window's
segments are kept up to the last one the model closed with a timestamp, and the next window starts
there (seek by the last timestamp), as OpenAI's `transcribe` does, so no sentence is cut by a fixed
boundary. A window that ends on a closed segment, or holds no timestamp, is consumed whole.
`prompt_text` (OpenAI's initial_prompt) goes before every window as previous text.
"""

from __future__ import annotations

import numpy as np

from whisper_tui.whisper_facts import SAMPLE_RATE
from whisper_tui.inference.subtitles import Segment

_MIN_TAIL_S = 0.2  # a last piece shorter than this holds no speech worth a window
_WINDOW_TOKENS = 224  # new tokens per window (OpenAI's sample_len: n_text_ctx // 2)


def window_segments(tokens, ids: list[int], window_s: float) -> tuple[list[Segment], float]:
    """One window's segments (seconds from the window's start) and how far the next window moves on."""
    parts = tokens.segments([t for t in ids if t != tokens.eot])
    advance = window_s
    if parts and parts[-1][1] is None and parts[-1][0] is not None and parts[-1][0] > 0:
        advance = parts[-1][0]  # the model did not close the last segment: decode it again in the next window
        parts = parts[:-1]
    elif ids and tokens.is_timestamp(ids[-1]) and len(ids) > 1 and tokens.is_timestamp(ids[-2]):
        last = tokens.timestamp_s(ids[-1])  # ended on a pair: the next segment starts at its second half
        if 0 < last < window_s - _MIN_TAIL_S:
            advance = last
    out = [Segment(float(s or 0.0), float(e if e is not None else window_s), text)
           for s, e, text in parts if text]
    return out, advance


def transcribe_segments(cw, wave: np.ndarray, language: str = "en", prompt_text: str | None = None) -> list[Segment]:
    """Segments of a 16 kHz mono `wave` with times from its start (seconds), decoded by `cw` (CT2Whisper)."""
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    window = cw.windows[-1]
    size = window * SAMPLE_RATE
    prompt = cw.tokens.prompt(language or "en", timestamps=True, previous_text=prompt_text)
    out: list[Segment] = []
    seek = 0
    while len(wave) - seek >= _MIN_TAIL_S * SAMPLE_RATE:
        chunk = wave[seek:seek + size]
        ids, _ = cw.decode(cw.features_at(window)([chunk]), [prompt], _WINDOW_TOKENS, tuned=True)
        chunk_s = len(chunk) / SAMPLE_RATE
        segments, advance = window_segments(cw.tokens, ids[0], chunk_s)
        offset = seek / SAMPLE_RATE
        out += [Segment(round(offset + s.start, 3), round(offset + min(s.end, chunk_s), 3), s.text) for s in segments]
        seek += max(int(round(advance * SAMPLE_RATE)), SAMPLE_RATE)  # always on by at least 1 s
    return out
