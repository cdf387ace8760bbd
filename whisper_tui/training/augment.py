"""SpecAugment on the training clips' log-mel features, with torchaudio's masks.

Why our own and not transformers' `config.apply_spec_augment`: that one masks inside the model's
forward, over the whole 30 s window (mostly padding for short clips, where a mask hides nothing),
with probabilities instead of mask widths, and from the global random state, so a resumed run
draws other masks than the run it continues. Here the masks are drawn per clip:

- only in the training split (the eval split is a plain `FeatureDataset` and is never wrapped);
- only over the clip's speech frames (time spans are a share of the speech, not of 30 s);
- from a seed made of (training.seed, epoch, clip index), so the same profile gives the same masks,
  a resumed run gives the masks the uninterrupted run would have drawn, and the batch order, the
  batch size and the global random state (dropout, shuffling) play no part;
- filled with the clip's mean log-mel value: Whisper's features are scaled so that 0 is a
  particular loudness, not "no information", so a zero fill would paint a loud band.

Masked input changes the encoder's output every epoch, so the encoder cache (`encoder_cache.py`)
must stay off while this runs: `CACHE_OFF_REASON` is what the run log and the estimate say.
torch / torchaudio are imported inside functions (the estimate imports this module torch-free).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from whisper_tui.models.window import MEL_FRAMES_PER_SECOND, WHISPER_WINDOW_S
from whisper_tui.whisper_facts import MEL_BINS

CACHE_OFF_REASON = ("SpecAugment (training.spec_augment) masks the encoder's input differently every epoch, "
                    "so its output cannot be computed once and reused")


@dataclass(frozen=True)
class SpecAugmentSettings:
    """The profile's mask counts and widths (see `profile_schema.TrainingSettings`)."""

    freq_masks: int = 2
    freq_width: int = 27  # mel bins; a mask is 0 .. freq_width - 1 bins wide (torchaudio's rule)
    time_masks: int = 2
    time_width: float = 0.05  # share of the clip's speech frames

    @classmethod
    def from_profile(cls, profile) -> SpecAugmentSettings | None:
        """The settings when `training.spec_augment` is on and draws some mask, else None."""
        tr = profile.training
        if not augments_encoder_input(profile):
            return None
        return cls(tr.spec_augment_freq_masks, tr.spec_augment_freq_width, tr.spec_augment_time_masks,
                   tr.spec_augment_time_width)

    def describe(self) -> str:
        """'2 frequency masks of up to 27 mel bins, 2 time masks of up to 5% of each clip's speech'."""
        parts = []
        if self.freq_masks and self.freq_width:
            parts.append(f"{self.freq_masks} frequency mask{'s' if self.freq_masks != 1 else ''} "
                         f"of up to {self.freq_width} mel bins")
        if self.time_masks and self.time_width:
            parts.append(f"{self.time_masks} time mask{'s' if self.time_masks != 1 else ''} "
                         f"of up to {self.time_width:.0%} of each clip's speech")
        return ", ".join(parts)


def augments_encoder_input(profile) -> bool:
    """Whether training masks the encoder's input (then its output differs every epoch: no cache)."""
    from whisper_tui.config.profile_schema import spec_augment_masks_anything

    tr = profile.training
    return bool(tr.spec_augment) and spec_augment_masks_anything(tr)


def speech_frames(n_samples: int, hop_length: int, max_frames: int) -> int:
    """Feature frames that hold the clip (Whisper: one per 160 samples, 10 ms); the rest is padding."""
    return max(0, min(max_frames, -(-int(n_samples) // int(hop_length))))


def example_seed(seed: int, epoch: int, index: int) -> int:
    """One well-mixed 32-bit seed per (run seed, epoch, clip): neighbours share no pattern."""
    return int(np.random.SeedSequence([int(seed), int(epoch), int(index)]).generate_state(1)[0])


class SpecAugment:
    """Masks one clip's (n_mels, frames) features with torchaudio's FrequencyMasking / TimeMasking."""

    def __init__(self, settings: SpecAugmentSettings, seed: int, n_mels: int = MEL_BINS):
        self.settings = settings
        self.seed = int(seed)
        self.freq_width = max(0, min(int(settings.freq_width), int(n_mels)))

    def __call__(self, features: np.ndarray, n_speech: int, *, epoch: int, index: int) -> np.ndarray:
        """A masked copy of `features`; only its first `n_speech` frames can change."""
        import torch
        from torchaudio.transforms import FrequencyMasking, TimeMasking

        s = self.settings
        out = torch.from_numpy(np.array(features, dtype=np.float32, copy=True))
        n = max(0, min(int(n_speech), out.shape[-1]))
        if n == 0:
            return out.numpy()
        speech = out[..., :n]
        fill = float(speech.mean())
        freq = FrequencyMasking(self.freq_width)
        time = TimeMasking(n, p=min(1.0, float(s.time_width)))  # widest span: floor(n * time_width) - 1 frames
        # torchaudio draws from the global CPU generator: give it this clip's seed and put the run's state
        # back after (only the CPU one: torch.manual_seed would also reseed, and not restore, CUDA's).
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(example_seed(self.seed, epoch, index))
            if self.freq_width > 0:
                for _ in range(s.freq_masks):
                    speech = freq(speech, fill)
            if s.time_width > 0:
                for _ in range(s.time_masks):
                    speech = time(speech, fill)
        out[..., :n] = speech
        return out.numpy()


class SpecAugmentDataset:
    """The training split with masked features; everything else (labels, clips, waves) is the base's.

    `set_epoch` picks the epoch the masks are drawn for; `callbacks.DatasetEpochCallback` calls it
    at each epoch start (accelerate calls it too, with the same number, when its sampler lets it).
    Examples are built in the training process (dataloader_num_workers = 0), so the epoch set here
    is the one `__getitem__` sees.
    """

    def __init__(self, base, augment: SpecAugment):
        self.base = base
        self.augment = augment
        self.clips = base.clips
        self.labels = base.labels
        self.epoch = 0
        fe = base.processor.feature_extractor
        self._hop = int(fe.hop_length)
        self._max_frames = int(getattr(fe, "nb_max_frames", WHISPER_WINDOW_S * MEL_FRAMES_PER_SECOND))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if hasattr(self.base, "set_epoch"):  # views (views.ViewFeatureDataset) draw per epoch too
            self.base.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict:
        item = dict(self.base[i])
        n = speech_frames(len(self.base.wave(i)), self._hop, self._max_frames)
        item["input_features"] = self.augment(item["input_features"], n, epoch=self.epoch, index=i)
        return item

    def lengths(self) -> list[int]:
        return self.base.lengths()


def augmented_training_set(profile, train_ds):
    """`train_ds` wrapped in SpecAugment when the profile asks for it, else `train_ds` itself."""
    settings = SpecAugmentSettings.from_profile(profile)
    if settings is None:
        return train_ds
    n_mels = int(train_ds.processor.feature_extractor.feature_size)
    return SpecAugmentDataset(train_ds, SpecAugment(settings, profile.training.seed, n_mels))
