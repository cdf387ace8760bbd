"""Timed segments of a recording of any length, by Whisper's sequential timestamp decoding.

Each 30 s window is decoded with timestamps (the prompt without <|notimestamps|>); the window's
segments are kept up to the last one the model closed with a timestamp, and the next window starts
there (seek by the last timestamp), as OpenAI's `transcribe` does, so no sentence is cut by a fixed
boundary. A window that ends on a closed segment, or holds no timestamp, is consumed whole.
`prompt_text` (OpenAI's initial_prompt) goes before every window as previous text.

Each segment's start is then moved to the first sound in it (`snap_starts`): tiny.en writes whole-second
timestamps on clean speech (<|0.00|> before a 1.7 s lead-in, every cue early by a fraction of a second),
while the audio says where speech begins. A start inside speech is left where it is; a start is never
moved past its segment's end.

Both backends run this one loop; only a window's decode differs. `CT2Windows` asks CTranslate2 (which
applies Whisper's timestamp rules itself), `timed_torch.TorchWindows` asks transformers' generate with
`return_timestamps=True` (its WhisperTimeStampLogitsProcessor, the same rules). Either reads its
timestamps with the same `WhisperTokens`, so the two give the same segments from the same tokens.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from whisper_tui.inference import energy
from whisper_tui.inference.subtitles import Segment
from whisper_tui.whisper_facts import SAMPLE_RATE

_MIN_TAIL_S = 0.2  # a last piece shorter than this holds no speech worth a window
_WINDOW_TOKENS = 224  # new tokens per window (OpenAI's sample_len: n_text_ctx // 2)


class CT2Windows:
    """One window at a time through a CT2Whisper (inference/transcribe.py), at its longest window."""

    backend = "ct2"

    def __init__(self, cw) -> None:
        self.cw = cw
        self.tokens = cw.tokens
        self.window = cw.windows[-1]

    def decode_window(self, chunk: np.ndarray, prompt: list[int]) -> list[int]:
        """The ids CTranslate2 decodes for one window after `prompt` (text, timestamps, maybe <|endoftext|>)."""
        ids, _ = self.cw.decode(self.cw.features_at(self.window)([chunk]), [prompt], _WINDOW_TOKENS, tuned=True)
        return ids[0]


def timed_decoder(model):
    """The window decoder for `model`: a Transcriber (either backend), a CT2Whisper, or a decoder already."""
    if hasattr(model, "decode_window"):
        return model
    if hasattr(model, "backend") and hasattr(model, "transcribe_waves"):  # a Transcriber
        if model.backend == "ct2":
            return CT2Windows(model._ct2)
        from whisper_tui.inference.timed_torch import TorchWindows

        return TorchWindows(model.model, model.processor, model.tokens, model.language)
    return CT2Windows(model)


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


def snap_starts(segments: list[Segment], wave: np.ndarray) -> list[Segment]:
    """Each segment starting at the first loud moment between its start and its end (energy.py's pause
    level, relative to this recording's noise floor and speech level); a segment with no loud moment, or a
    silent recording, keeps its times."""
    if not segments:
        return segments
    db = energy.frame_db(wave)
    if energy.is_silent(db):
        return segments
    level = energy.pause_level(db)
    out = []
    for s in segments:
        span = energy.loud_span(db, s.start, s.end, level)
        start = s.start if span is None else round(float(min(max(s.start, span[0]), s.end)), 3)
        out.append(dataclasses.replace(s, start=start))
    return out


def transcribe_segments(model, wave: np.ndarray, language: str = "en", prompt_text: str | None = None,
                        snap: bool = True, words: bool = False, fit_words: bool = True) -> list[Segment]:
    """Segments of a 16 kHz mono `wave` with times from its start (seconds); with `snap`, each start at the
    first sound of its segment (`snap_starts`); with `words`, each segment's `words` timed by cross-attention
    alignment of its window (word_times.py), kept inside the segment and, with `fit_words`, fitted to their sound.

    `model` is a Transcriber (torch or ct2), a CT2Whisper, or a window decoder (`timed_decoder`)."""
    from whisper_tui.inference import word_times

    decoder = timed_decoder(model)
    aligner = word_times.aligner_for(decoder) if words else None
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    size = decoder.window * SAMPLE_RATE
    prompt = decoder.tokens.prompt(language or "en", timestamps=True, previous_text=prompt_text)
    out: list[Segment] = []
    seek = 0
    while len(wave) - seek >= _MIN_TAIL_S * SAMPLE_RATE:
        chunk = wave[seek:seek + size]
        ids = decoder.decode_window(chunk, prompt)
        chunk_s = len(chunk) / SAMPLE_RATE
        segments, advance = window_segments(decoder.tokens, ids, chunk_s)
        offset = seek / SAMPLE_RATE
        timed = word_times.window_words(aligner, chunk, [s.text for s in segments]) if aligner else [()] * len(segments)
        out += [Segment(round(offset + s.start, 3), round(offset + min(s.end, chunk_s), 3), s.text,
                        word_times.offset_words(w, offset)) for s, w in zip(segments, timed)]
        seek += max(int(round(advance * SAMPLE_RATE)), SAMPLE_RATE)  # always on by at least 1 s
    out = snap_starts(out, wave) if snap else out
    if not words:
        return out
    db = energy.frame_db(wave)
    level = None if energy.is_silent(db) or not fit_words else energy.pause_level(db)
    return [word_times.fit_words(s, db if level is not None else None, level) for s in out]
