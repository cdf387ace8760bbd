"""torchaudio's sinc resampler in numpy, for the paths that must not import torch (CTranslate2 transcription).

`audio.resample` (torchaudio's `Resample`, used by training and the torch backend) and this module
build the same windowed-sinc kernel (Hann window, 6 zero crossings, roll-off 0.99, float64 then
float32) and apply it the same way, one kernel row per output phase at a stride of the reduced input
rate, so a clip resampled here and there differs by float32 rounding only (~1e-7,
tests/test_ct2_torch_free.py): a CTranslate2 transcription reads the same samples it read when it
went through torchaudio. Importing torch to resample one file cost ~2 s of a ~1 s transcription.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache

import numpy as np

from whisper_tui.data.audio import SAMPLE_RATE, read_mono

_ZERO_CROSSINGS = 6  # torchaudio's lowpass_filter_width
_ROLLOFF = 0.99
# Rates with a small common divisor (16001 -> 16000 Hz) need a kernel of millions of taps; numpy builds
# it far slower than torch, so such rare files go through torchaudio after all.
_MAX_KERNEL = 1 << 22


@lru_cache(maxsize=16)
def sinc_kernel(orig_freq: int, new_freq: int) -> tuple[np.ndarray, int]:
    """(kernel (new, 2 * width + orig) float32, width) for rates already divided by their gcd."""
    base_freq = min(orig_freq, new_freq) * _ROLLOFF
    width = math.ceil(_ZERO_CROSSINGS * orig_freq / base_freq)
    idx = np.arange(-width, width + orig_freq, dtype=np.float64)[None, :] / orig_freq
    # torchaudio builds this ramp in float32 before adding the float64 index: kept, so kernels match bit for bit
    phases = (np.arange(0, -new_freq, -1, dtype=np.float32) / np.float32(new_freq)).astype(np.float64)[:, None]
    t = np.clip((phases + idx) * base_freq, -_ZERO_CROSSINGS, _ZERO_CROSSINGS)
    window = np.cos(t * math.pi / _ZERO_CROSSINGS / 2) ** 2
    t *= math.pi
    with np.errstate(invalid="ignore", divide="ignore"):
        kernels = np.where(t == 0, 1.0, np.sin(t) / t)
    kernels *= window * (base_freq / orig_freq)
    kernels = kernels.astype(np.float32)
    kernels.setflags(write=False)
    return kernels, width


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling of a mono float32 wave, as `audio.resample` does it, without torch."""
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if orig_sr == target_sr or wave.size == 0:
        return wave.copy()
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    gcd = math.gcd(int(orig_sr), int(target_sr))
    orig, new = int(orig_sr) // gcd, int(target_sr) // gcd
    if new * (orig + 2 * math.ceil(_ZERO_CROSSINGS * orig / (min(orig, new) * _ROLLOFF))) > _MAX_KERNEL:
        from whisper_tui.data.audio import resample as torch_resample

        return torch_resample(wave, orig_sr, target_sr)
    kernel, width = sinc_kernel(orig, new)
    padded = np.pad(wave, (width, width + orig))
    taps = kernel.shape[1]
    frames = np.lib.stride_tricks.sliding_window_view(padded, taps)[::orig]  # one row per block of `orig` inputs
    out = (frames @ kernel.T).reshape(-1)  # (blocks, new phases) -> interleaved output samples
    return np.ascontiguousarray(out[: math.ceil(new * len(wave) / orig)], dtype=np.float32)


def load_audio(path: str | os.PathLike, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """`audio.load_audio` without torch: any supported file -> float32 mono at `target_sr`, or an AudioError."""
    wave, sr = read_mono(path)
    return resample(wave, sr, target_sr)
