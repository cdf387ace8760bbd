"""Augmentation that keeps the encoder cache: K perturbed "views" of each training clip, encoded once.

SpecAugment (`augment.py`) changes the encoder's input every epoch, so it turns the encoder cache
off. Views are the other way round: each training clip gets K perturbed copies of its audio, fixed by
the profile, so the frozen encoder layers encode every copy once (`encoder_cache.EncoderCache`, keyed
by the view settings: a second run with the same settings reuses them, a change rebuilds them) and
each epoch draws one version of each clip, the clean one (view 0) or a perturbed one.

A view is, in this order (Kaldi-style speed perturbation, then a room, then noise):
- speed: resampled by a factor in 1 +- `augment_speed` (rounded to 0.01 so the resampling kernel
  stays small); this changes tempo and pitch together. No separate pitch shift: torchaudio's
  `pitch_shift` took 30 s per 5 s clip on this project's CPU;
- light reverb (`augment_reverb`): a synthetic room impulse response, exponentially decaying noise with
  an RT60 of 0.1-0.4 s, 3-12 dB below the direct sound (`torchaudio.functional.fftconvolve`);
- additive white or pink noise at an SNR drawn in [`augment_snr_low_db`, `augment_snr_high_db`];
- a gain of +-6 dB (Whisper's log-mel features move with loudness).

Everything is drawn from a seed made of (training.seed, view, clip path), so the same profile gives the
same views. The transcript never changes. A view slowed down past the encoder window would have to be cut,
which could cut speech: such a view is skipped (that clip draws among its other versions) and counted.
Test clips are never augmented. `draw_view` gives each clip every one of its versions once per K + 1
epochs, in an order of its own.

torch / torchaudio are imported inside functions (the estimate imports the profile side torch-free).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass

import numpy as np

from whisper_tui.training.speech_dataset import FeaturesOnAccess
from whisper_tui.whisper_facts import SAMPLE_RATE

VIEWS_VERSION = 1  # part of the cache key: bump when a perturbation changes
GAIN_DB = 6.0
RT60_S = (0.1, 0.4)
REVERB_BELOW_DIRECT_DB = (3.0, 12.0)


@dataclass(frozen=True)
class ViewSettings:
    views: int
    speed: float = 0.1
    snr_low_db: float = 10.0
    snr_high_db: float = 30.0  # 0 = no noise
    reverb: bool = True
    seed: int = 42

    @classmethod
    def from_profile(cls, profile) -> ViewSettings | None:
        """The profile's view settings, or None when `training.augment_views` is 0."""
        tr = profile.training
        if int(tr.augment_views) <= 0:
            return None
        return cls(int(tr.augment_views), float(tr.augment_speed), float(tr.augment_snr_low_db),
                   float(tr.augment_snr_high_db), bool(tr.augment_reverb), int(tr.seed))

    @property
    def noise(self) -> bool:
        return self.snr_high_db > 0

    def key(self) -> str:
        """What a view depends on besides its clip (part of the encoder cache's key)."""
        return json.dumps({"version": VIEWS_VERSION, **asdict(self)}, sort_keys=True)

    def describe(self) -> str:
        """'speed ±10%, noise 10–30 dB SNR, reverb, gain ±6 dB'."""
        parts = []
        if self.speed > 0:
            parts.append(f"speed ±{self.speed:.0%}")
        if self.noise:
            parts.append(f"noise {self.snr_low_db:g}–{self.snr_high_db:g} dB SNR")
        if self.reverb:
            parts.append("reverb")
        parts.append(f"gain ±{GAIN_DB:g} dB")
        return ", ".join(parts)


@dataclass(frozen=True)
class ViewParams:
    """What one view does to its clip (view 0, the clean clip, does nothing)."""

    speed: float = 1.0
    gain_db: float = 0.0
    snr_db: float | None = None
    pink: bool = False
    rt60_s: float | None = None
    reverb_db: float = 0.0  # reverberant energy below the direct sound


def _clip_words(clip_key: str) -> list[int]:
    digest = hashlib.blake2b(clip_key.encode(), digest_size=8).digest()
    return [int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:], "little")]


def view_rng(settings: ViewSettings, clip_key: str, view: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(settings.seed), int(view), *_clip_words(clip_key)]))


def draw_params(settings: ViewSettings, rng: np.random.Generator) -> ViewParams:
    """Always draws the same numbers in the same order (so turning one perturbation off leaves the others)."""
    u_speed, u_gain, u_snr, u_pink, u_rt60, u_drr = (float(u) for u in rng.random(6))
    speed = round(1.0 + (2 * u_speed - 1) * settings.speed, 2)
    snr = settings.snr_low_db + u_snr * (settings.snr_high_db - settings.snr_low_db) if settings.noise else None
    rt60 = RT60_S[0] + u_rt60 * (RT60_S[1] - RT60_S[0]) if settings.reverb else None
    drr = REVERB_BELOW_DIRECT_DB[0] + u_drr * (REVERB_BELOW_DIRECT_DB[1] - REVERB_BELOW_DIRECT_DB[0])
    return ViewParams(speed=speed, gain_db=(2 * u_gain - 1) * GAIN_DB, snr_db=snr, pink=bool(u_pink < 0.5),
                      rt60_s=rt60, reverb_db=drr)


def view_params(settings: ViewSettings, clip_key: str, view: int) -> ViewParams:
    if view == 0:
        return ViewParams()
    return draw_params(settings, view_rng(settings, clip_key, view))


def _speed_ratio(speed: float, sr: int) -> tuple[int, int]:
    """(orig, new) frequencies for torchaudio's resample, reduced: the output lasts 1/speed as long."""
    orig, new = int(round(sr * speed)), int(sr)
    g = math.gcd(orig, new)
    return orig // g, new // g


def view_length(n_samples: int, params: ViewParams, sr: int) -> int:
    """Samples of a view of an n-sample clip (speed changes the length; nothing else does)."""
    if params.speed == 1.0:
        return int(n_samples)
    orig, new = _speed_ratio(params.speed, sr)
    return -(-new * int(n_samples) // orig)


def make_view(wave: np.ndarray, settings: ViewSettings, clip_key: str, view: int, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The perturbed copy `view` (>= 1) of a clip's 16 kHz float32 waveform; view 0 returns it unchanged."""
    if view == 0:
        return wave
    import torch
    import torchaudio.functional as F

    rng = view_rng(settings, clip_key, view)
    p = draw_params(settings, rng)
    x = torch.from_numpy(np.asarray(wave, dtype=np.float32).copy())
    if p.speed != 1.0:
        orig, new = _speed_ratio(p.speed, sr)
        x = F.resample(x, orig, new)
    n = x.shape[-1]
    if p.rt60_s is not None and n > 0:
        length = max(2, int(p.rt60_s * sr))
        t = np.arange(length) / sr
        tail = rng.standard_normal(length) * np.exp(-6.908 * t / p.rt60_s)  # -60 dB at rt60
        tail[0] = 0.0
        tail *= 10 ** (-p.reverb_db / 20) / max(float(np.sqrt((tail ** 2).sum())), 1e-12)
        tail[0] = 1.0  # the direct sound
        rms = float(x.pow(2).mean().sqrt())
        x = F.fftconvolve(x, torch.from_numpy(tail.astype(np.float32)))[:n]  # the tail past the end is room, not speech
        x = x * (rms / max(float(x.pow(2).mean().sqrt()), 1e-12))
    if p.snr_db is not None and n > 0:
        power = float(x.pow(2).mean())
        if power > 0:
            noise = rng.standard_normal(n)
            if p.pink:
                noise = _pink(noise)
            noise *= math.sqrt(power / 10 ** (p.snr_db / 10) / max(float((noise ** 2).mean()), 1e-20))
            x = x + torch.from_numpy(noise.astype(np.float32))
    x = x * 10 ** (p.gain_db / 20)
    return x.numpy().astype(np.float32, copy=False)


def _pink(white: np.ndarray) -> np.ndarray:
    """1/f noise: white noise with its spectrum shaped by 1/sqrt(f)."""
    spectrum = np.fft.rfft(white)
    f = np.arange(spectrum.shape[0], dtype=np.float64)
    f[0] = f[1] if len(f) > 1 else 1.0
    return np.fft.irfft(spectrum / np.sqrt(f), n=white.shape[0])


def draw_view(seed: int, epoch: int, index: int, available: list[int]) -> int:
    """The version of clip `index` trained on in `epoch`: each of `available` once per len(available) epochs."""
    k = len(available)
    if k == 1:
        return available[0]
    cycle, pos = divmod(int(epoch), k)
    order = np.random.default_rng(np.random.SeedSequence([int(seed), 0x71E5, int(index), cycle])).permutation(k)
    return available[int(order[pos])]


def clip_key(clip) -> str:
    from pathlib import Path

    return str(Path(clip.path).resolve())


# ---------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------

class ViewPlan:
    """Which views of which training clip exist: those that still fit the encoder window."""

    def __init__(self, base, settings: ViewSettings):
        fe = base.processor.feature_extractor
        self.settings = settings
        self.sr = int(fe.sampling_rate)
        self.window = int(fe.n_samples)
        self.keys = [clip_key(c) for c in base.clips]
        self.available: list[list[int]] = []
        self.samples: list[int] = []  # each clip's length: a view's own is view_length of it (label_mix.py)
        self.skipped = 0
        for i, key in enumerate(self.keys):
            n = len(base.wave(i))
            self.samples.append(n)
            fits = [v for v in range(1, settings.views + 1)
                    if view_length(n, view_params(settings, key, v), self.sr) <= self.window]
            self.skipped += settings.views - len(fits)
            self.available.append([0, *fits])

    def describe_skipped(self) -> str:
        return (f"augmentation: {self.skipped} of {self.settings.views * len(self.keys)} views skipped: slowed down, "
                f"they last longer than the {self.window / self.sr:g} s encoder window (speech is never cut)")


class ViewClip:
    """A (clip, view) pair as the encoder cache sees it: the clip's file plus what perturbed it."""

    __slots__ = ("clip", "view", "view_key")

    def __init__(self, clip, view: int, settings: ViewSettings):
        self.clip = clip
        self.view = view
        self.view_key = f"view {view} {settings.key()}"

    @property
    def path(self):
        return self.clip.path

    @property
    def transcription(self) -> str:
        return self.clip.transcription


class ViewSource:
    """The perturbed views of a plan, as `EncoderCache.build` reads a dataset (`clips`, `features(r)`)."""

    def __init__(self, base, plan: ViewPlan):
        self.base = base
        self.plan = plan
        self.processor = base.processor
        self.pairs = [(i, v) for i, views in enumerate(plan.available) for v in views if v]
        self.clips = [ViewClip(base.clips[i], v, plan.settings) for i, v in self.pairs]

    def __len__(self) -> int:
        return len(self.pairs)

    def wave(self, r: int) -> np.ndarray:
        i, v = self.pairs[r]
        return make_view(self.base.wave(i), self.plan.settings, self.plan.keys[i], v, self.plan.sr)

    def features(self, r: int) -> np.ndarray:
        fe = self.processor.feature_extractor
        return fe(self.wave(r), sampling_rate=fe.sampling_rate, return_tensors="np").input_features[0]


class _EpochViews:
    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def view_for(self, i: int) -> int:
        return draw_view(self.plan.settings.seed, self.epoch, i, self.plan.available[i])


class CachedViewDataset(_EpochViews):
    """Training examples from the encoder cache, each epoch one version of each clip (clean or a view).

    Rows (for the cross-attention cache) are every (clip, version) pair; `cross_kv` is set afterwards.
    """

    def __init__(self, cached, view_cache, plan: ViewPlan):
        self.base = cached.base
        self.cache = cached.cache
        self.view_cache = view_cache
        self.plan = plan
        self.cross_kv = None
        self.clips = self.base.clips
        self.labels = self.base.labels  # the transcript is the same for every view
        self.epoch = 0
        self.pairs = [(i, v) for i, views in enumerate(plan.available) for v in views]
        self._row = {pair: r for r, pair in enumerate(self.pairs)}

    def __len__(self) -> int:
        return len(self.base)

    @property
    def n_rows(self) -> int:
        return len(self.pairs)

    def hidden(self, i: int, view: int) -> np.ndarray:
        if view == 0:
            return self.cache.get(self.clips[i])
        return self.view_cache.get(ViewClip(self.clips[i], view, self.plan.settings))

    def hidden_of_row(self, r: int) -> np.ndarray:
        return self.hidden(*self.pairs[r])

    def __getitem__(self, i: int) -> dict:
        v = self.view_for(i)
        item = {"encoder_hidden": self.hidden(i, v), "labels": self.labels[i]}
        if v:  # a view's own length (speed changes it): where a timestamp label ends (label_mix.py)
            item["n_samples"] = view_length(self.plan.samples[i], view_params(self.plan.settings, self.plan.keys[i], v),
                                            self.plan.sr)
        if self.cross_kv is not None:
            item["cross_kv"] = self.cross_kv.get(self._row[(i, v)])
        return item

    def lengths(self) -> list[int]:
        return self.base.lengths()


class ViewFeatureDataset(_EpochViews, FeaturesOnAccess):
    """Views without the encoder cache (it is off, e.g. under SpecAugment): perturbed on access, same views."""

    def __init__(self, base, plan: ViewPlan):
        self.base = base
        self.plan = plan
        self.processor = base.processor
        self.clips = base.clips
        self.labels = base.labels
        self.epoch = 0
        self._last: tuple | None = None

    def __len__(self) -> int:
        return len(self.base)

    def wave(self, i: int) -> np.ndarray:
        v = self.view_for(i)
        if v == 0:
            return self.base.wave(i)
        if self._last is None or self._last[0] != (i, v):
            self._last = ((i, v), make_view(self.base.wave(i), self.plan.settings, self.plan.keys[i], v, self.plan.sr))
        return self._last[1]

    def lengths(self) -> list[int]:
        return self.base.lengths()


def with_views(profile, train_ds, *, model=None, k: int = 0, device: str = "cpu", log=None, batch_size: int = 8,
               root=None, on_progress=None):
    """`train_ds` with the profile's views, or `train_ds` itself when `training.augment_views` is 0.

    A `speech_dataset.CachedEncoderDataset` gets its views encoded through the `k` frozen layers into
    an encoder cache of their own (built once, reused by later runs with the same settings); a plain
    `FeatureDataset` (cache off) perturbs on access.
    """
    settings = ViewSettings.from_profile(profile)
    if settings is None:
        return train_ds
    log = log or (lambda message, level="info": None)
    cached = hasattr(train_ds, "cache")
    base = train_ds.base if cached else train_ds
    plan = ViewPlan(base, settings)
    if plan.skipped:
        log(plan.describe_skipped(), "warning")
    head = f"augmentation: {settings.views} view{'s' if settings.views != 1 else ''} per clip ({settings.describe()})"
    if not cached:
        log(f"{head}, perturbed as they are drawn (the encoder cache is off); test clips are not augmented")
        return ViewFeatureDataset(base, plan)
    from whisper_tui.training.encoder_cache import EncoderCache

    source = ViewSource(base, plan)
    if not len(source):
        return train_ds  # every view was skipped (logged above)
    started = time.perf_counter()
    view_cache = EncoderCache.build(model, source, k, device=device, batch_size=batch_size, root=root,
                                    on_progress=on_progress, max_gb=profile.finetuning.encoder_cache_max_gb)
    how = ("reused from an earlier run" if view_cache.reused
           else f"built in {time.perf_counter() - started:.1f} s ({view_cache.path})")
    log(f"{head}; cache holds {1 + settings.views} x {len(base)} clips, {how}; test clips are not augmented")
    return CachedViewDataset(train_ds, view_cache, plan)
