"""Loudness per 20 ms frame: where a recording is silent, where the quietest moment near a cut is.

The model's timestamps say roughly where its segments start and end (often a few hundred ms off);
the audio itself says where the pause is. Frame energy is smoothed over 100 ms, so the closure of a
stop consonant (shorter) is not mistaken for a pause between words (longer).
"""

from __future__ import annotations

import math

import numpy as np

from whisper_tui.whisper_facts import SAMPLE_RATE

FRAMES_PER_SECOND = 50
FRAME = SAMPLE_RATE // FRAMES_PER_SECOND
_SMOOTH_FRAMES = 5
SILENT_DBFS = -50.0  # a stretch whose loudest 100 ms is below this holds nothing to hear
_PAUSE_SHARE = 0.3  # a pause is quieter than 30 % of the way (in dB) from the noise floor to speech


def frame_db(wave: np.ndarray) -> np.ndarray:
    """Smoothed RMS level (dBFS) of each 20 ms frame (at least one frame)."""
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    n = max(1, math.ceil(len(wave) / FRAME))
    frames = np.zeros(n * FRAME, np.float32)
    frames[:len(wave)] = wave
    power = (frames.reshape(n, FRAME).astype(np.float64) ** 2).mean(axis=1)
    smooth = np.convolve(power, np.ones(_SMOOTH_FRAMES) / _SMOOTH_FRAMES, mode="same")
    return 10 * np.log10(smooth + 1e-12)


def is_silent(db: np.ndarray) -> bool:
    return len(db) == 0 or float(db.max()) < SILENT_DBFS


def pause_level(db: np.ndarray) -> float:
    """dB under which a frame counts as a pause: relative to this recording's noise floor and speech level,
    so room noise in the pauses (not digital silence) still reads as a pause."""
    floor, speech = float(np.percentile(db, 5)), float(np.percentile(db, 95))
    return max(floor + _PAUSE_SHARE * (speech - floor), SILENT_DBFS)


def quietest(db: np.ndarray, t0: float, t1: float) -> float:
    """The middle of the quietest stretch between t0 and t1 (seconds)."""
    t0, t1 = min(t0, t1), max(t0, t1)
    f0, f1 = max(0, int(t0 * FRAMES_PER_SECOND)), min(len(db), int(math.ceil(t1 * FRAMES_PER_SECOND)) + 1)
    if f1 <= f0:
        return (t0 + t1) / 2
    region = db[f0:f1]
    low = np.flatnonzero(region <= region.min() + 1.0)  # near-ties: the middle of the longest quiet run
    runs = np.split(low, np.flatnonzero(np.diff(low) > 1) + 1)
    run = max(runs, key=len)
    return (f0 + (run[0] + run[-1]) / 2 + 0.5) / FRAMES_PER_SECOND


def pause_around(db: np.ndarray, t: float, level: float) -> float:
    """Seconds of pause (frames at or below `level`) in the run that holds time `t`; 0 when `t` is loud."""
    f = min(max(0, int(t * FRAMES_PER_SECOND)), len(db) - 1)
    if db[f] > level:
        return 0.0
    lo = hi = f
    while lo > 0 and db[lo - 1] <= level:
        lo -= 1
    while hi + 1 < len(db) and db[hi + 1] <= level:
        hi += 1
    return (hi - lo + 1) / FRAMES_PER_SECOND


def loud_span(db: np.ndarray, t0: float, t1: float, level: float) -> tuple[float, float] | None:
    """First and last loud moment between t0 and t1 (seconds), or None when all of it is pause."""
    f0, f1 = max(0, int(t0 * FRAMES_PER_SECOND)), min(len(db), int(math.ceil(t1 * FRAMES_PER_SECOND)))
    loud = np.flatnonzero(db[f0:f1] > level)
    if not len(loud):
        return None
    return (f0 + loud[0]) / FRAMES_PER_SECOND, (f0 + loud[-1] + 1) / FRAMES_PER_SECOND


def loud_runs(db: np.ndarray, t0: float, t1: float, level: float,
              min_pause_s: float = 0.15) -> list[tuple[float, float]]:
    """(start s, end s) of each loud run between t0 and t1, split where a pause (frames at or below `level`)
    of at least `min_pause_s` lies between them: shorter dips are inside words or between words run together."""
    f0, f1 = max(0, int(t0 * FRAMES_PER_SECOND)), min(len(db), int(math.ceil(t1 * FRAMES_PER_SECOND)))
    loud = np.flatnonzero(db[f0:f1] > level)
    if not len(loud):
        return []
    gap = max(1, int(round(min_pause_s * FRAMES_PER_SECOND)))
    runs = np.split(loud, np.flatnonzero(np.diff(loud) > gap) + 1)
    return [((f0 + r[0]) / FRAMES_PER_SECOND, (f0 + r[-1] + 1) / FRAMES_PER_SECOND) for r in runs]


def voiced_seconds(db: np.ndarray, level: float) -> float:
    return float((db > level).sum()) / FRAMES_PER_SECOND
