"""Whisper's log-mel spectrogram in numpy, so the CTranslate2 paths run without torch or transformers.

Importing transformers (and the torch it pulls in) cost seconds of a 1-2 s transcription; faster-whisper
computes its features in numpy for the same reason. This is the computation of transformers'
`WhisperFeatureExtractor` (the torch STFT path the torch backend and training use), step for step:
each wave is cut or zero-padded to the window (`chunk_length` s), framed with reflect padding at both
ends (a centred STFT), windowed with a periodic Hann window, turned into power spectra, projected on
Slaney-style mel filters, and scaled as Whisper expects (log10 floored at 1e-10, clipped to 8 below
each clip's own peak, then (x + 4) / 4). The last frame is dropped, as OpenAI's code does. It agrees
with transformers to about 1e-5 (tests/test_ct2_torch_free.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from whisper_tui.models.window import WHISPER_WINDOW_S
from whisper_tui.whisper_facts import MEL_BINS, SAMPLE_RATE

N_FFT = 400
HOP_LENGTH = 160


@lru_cache(maxsize=8)
def mel_filters(n_mels: int = MEL_BINS, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) Slaney mel filter bank from 0 to 8 kHz (librosa's `mel(htk=False, norm="slaney")`)."""
    fft_freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    f_sp = 200.0 / 3  # linear part: 66.7 Hz per mel up to 1 kHz
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    log_step = np.log(6.4) / 27.0
    max_mel = min_log_mel + np.log(8000.0 / min_log_hz) / log_step
    mels = np.linspace(0.0, max_mel, n_mels + 2)
    freqs = f_sp * mels
    log_region = mels >= min_log_mel
    freqs[log_region] = min_log_hz * np.exp(log_step * (mels[log_region] - min_log_mel))
    widths = np.diff(freqs)
    ramps = freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (freqs[2:n_mels + 2] - freqs[:n_mels]))[:, None]  # equal energy per band
    weights.setflags(write=False)
    return weights


@lru_cache(maxsize=1)
def _hann(n_fft: int = N_FFT) -> np.ndarray:
    """Periodic Hann window (torch.hann_window's default)."""
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    window.setflags(write=False)
    return window


class LogMel:
    """Features for one model: its number of mel bins and its window (30 s, or less for a short-window fine-tune).

    `chunk_length` is named as in transformers' feature extractor, so `window.processor_window_s`
    style code reads it the same way.
    """

    def __init__(self, n_mels: int = MEL_BINS, chunk_length: int = WHISPER_WINDOW_S, sampling_rate: int = SAMPLE_RATE) -> None:
        self.feature_size = int(n_mels)
        self.chunk_length = int(chunk_length)
        self.sampling_rate = int(sampling_rate)
        self.n_samples = self.chunk_length * self.sampling_rate
        self.nb_max_frames = self.n_samples // HOP_LENGTH

    def __call__(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        """(batch, n_mels, frames) float32 for 16 kHz mono waves."""
        return np.stack([self.one(w) for w in waves]) if len(waves) else np.zeros(
            (0, self.feature_size, self.nb_max_frames), np.float32)

    def one(self, wave: np.ndarray) -> np.ndarray:
        wave = np.asarray(wave, dtype=np.float32).reshape(-1)[: self.n_samples]
        padded = np.zeros(self.n_samples, np.float32)
        padded[: len(wave)] = wave
        half = N_FFT // 2
        framed_input = np.pad(padded, (half, half), mode="reflect")
        n_frames = 1 + (len(framed_input) - N_FFT) // HOP_LENGTH
        frames = np.lib.stride_tricks.sliding_window_view(framed_input, N_FFT)[::HOP_LENGTH][:n_frames]
        spectrum = np.fft.rfft(frames * _hann(N_FFT), axis=-1)
        power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)[:-1]  # (frames, bins); last dropped
        mel = mel_filters(self.feature_size, self.sampling_rate, N_FFT).astype(np.float32) @ power.T
        log_spec = np.log10(np.maximum(mel, 1e-10))
        log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
        return ((log_spec + 4.0) / 4.0).astype(np.float32, copy=False)


def log_mel(waves: Sequence[np.ndarray], n_mels: int = MEL_BINS, chunk_length: int = WHISPER_WINDOW_S) -> np.ndarray:
    """Shortcut for `LogMel(n_mels, chunk_length)(waves)`."""
    return LogMel(n_mels, chunk_length)(waves)
