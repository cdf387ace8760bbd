"""Sequential timestamp decoding: a window's segments and where the next window starts; a > 60 s recording."""

from __future__ import annotations

import numpy as np
import pytest

from whisper_tui.inference.timed import transcribe_segments, window_segments


class Tokens:
    """Text ids < 100, eot 100, timestamps from 101 (0.02 s each)."""

    eot, timestamp_begin = 100, 101

    def prompt(self, language, timestamps=True, previous_text=None):
        return [99]

    def is_timestamp(self, t):
        return t >= 101

    def timestamp_s(self, t):
        return round((t - 101) * 0.02, 2)

    def segments(self, ids):
        from whisper_tui.inference.ct2_tokenizer import WhisperTokens

        return WhisperTokens.segments(self, ids)

    def decode(self, ids):
        return " ".join(str(t) for t in ids)


def ts(s):
    return 101 + round(s / 0.02)


def test_window_ending_on_a_closed_segment_is_consumed_whole():
    segs, advance = window_segments(Tokens(), [ts(0), 1, 2, ts(4), ts(4), 3, ts(9), 100], 30.0)
    assert [(s.start, s.end, s.text) for s in segs] == [(0.0, 4.0, "1 2"), (4.0, 9.0, "3")]
    assert advance == 30.0


def test_an_unclosed_last_segment_is_decoded_again_from_its_start():
    segs, advance = window_segments(Tokens(), [ts(0), 1, ts(20), ts(20), 2, 3], 30.0)
    assert [s.text for s in segs] == ["1"] and advance == 20.0


def test_a_window_with_no_timestamps_is_one_segment():
    segs, advance = window_segments(Tokens(), [1, 2, 100], 12.0)
    assert [(s.start, s.end) for s in segs] == [(0.0, 12.0)] and advance == 12.0


@pytest.mark.timeout(120)
def test_seek_through_a_recording_over_60_s():
    """jfk.flac (11 s) six times with 1.5 s pauses (75 s): every copy's first sentence found near its start."""
    from whisper_tui.data.audio import SAMPLE_RATE, load_audio
    from whisper_tui.inference.transcribe import CT2Whisper

    from pathlib import Path

    jfk = load_audio(Path(__file__).resolve().parents[1] / "whisper_tui" / "data" / "jfk.flac")
    pause = np.zeros(int(1.5 * SAMPLE_RATE), np.float32)
    wave = np.concatenate([x for _ in range(6) for x in (jfk, pause)])
    period = (len(jfk) + len(pause)) / SAMPLE_RATE
    segs = transcribe_segments(CT2Whisper(None), wave)
    assert all(a.start <= b.start for a, b in zip(segs, segs[1:], strict=False))
    assert segs[-1].end > 60
    starts = [s.start for s in segs if s.text.lower().startswith("and so my fellow")]
    assert len(starts) == 6
    assert all(abs(start - k * period) <= 1.0 for k, start in enumerate(starts)), starts


def _tone(seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (amp * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


class WholeSeconds:
    """A window decoder that writes what tiny.en writes on clean speech: <|0.00|> text <|3.00|>, one segment
    per window, starting before the sound does."""

    tokens, window = Tokens(), 30

    def decode_window(self, chunk, prompt):
        return [ts(0), 1, 2, ts(3), 100]


def test_a_cue_starts_where_its_sound_starts_not_at_the_models_whole_second():
    """1.7 s of quiet room noise, then 1.3 s of sound: the model says 0.00, the cue starts at ~1.7 s."""
    rng = np.random.default_rng(0)
    wave = np.concatenate([_tone(1.7, 0.0), _tone(1.3)]) + rng.normal(0, 1e-3, int(3.0 * 16000)).astype(np.float32)
    raw = transcribe_segments(WholeSeconds(), wave, snap=False)
    snapped = transcribe_segments(WholeSeconds(), wave)
    assert [(s.start, s.end) for s in raw] == [(0.0, 3.0)]
    assert abs(snapped[0].start - 1.7) <= 0.06 and snapped[0].end == 3.0 and snapped[0].text == raw[0].text


def test_a_start_inside_sound_and_a_silent_recording_keep_their_times():
    from whisper_tui.inference.subtitles import Segment
    from whisper_tui.inference.timed import snap_starts

    wave = np.concatenate([_tone(1.0, 0.0), _tone(2.0)])
    segments = [Segment(1.5, 2.5, "a"), Segment(0.1, 0.8, "b")]  # in the sound; all quiet
    assert snap_starts(segments, wave) == segments
    assert snap_starts([Segment(0.0, 1.0, "c")], np.zeros(16000, np.float32)) == [Segment(0.0, 1.0, "c")]
