"""Torch datasets that turn `dataset.Clip`s into Whisper training examples.

Two kinds of example: log-mel `input_features` (the encoder runs every step) or cached encoder
outputs (`encoder_cache.EncoderCache`, the frozen encoder ran once). Labels are built explicitly
from Whisper's special tokens rather than trusting a tokenizer post-processor, because converted
tokenizers (CTranslate2 `tokenizer.json`) do not always add the prefix tokens.

Audio is read from disk on every access and never kept: a run's memory must not grow with the
dataset (hours of audio would not fit). A clip that cannot be decoded mid-run is recorded in
`BadClips` and skipped (`SkipBadClips` serves the next good clip instead); the run fails only when
more than `data.max_bad_fraction` of the clips are bad.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence

import numpy as np

from whisper_tui.whisper_facts import MAX_TARGET_TOKENS

_PLACEHOLDER_SAMPLES = 8000  # half a second of silence stands in for an unreadable clip; it is never trained on


class BadClips:
    """Clips that failed to decode during the run: path -> reason, reported once each."""

    def __init__(self, total: int, max_fraction: float = 0.05, log: Callable[[str, str], None] | None = None):
        self.total = max(1, int(total))
        self.max_fraction = float(max_fraction)
        self.failed: dict[str, str] = {}
        self._log = log or (lambda message, level="info": None)
        self._lock = threading.Lock()

    def __contains__(self, clip) -> bool:
        return str(getattr(clip, "path", clip)) in self.failed

    def __len__(self) -> int:
        return len(self.failed)

    def record(self, clip, reason: str) -> None:
        from whisper_tui.errors import DatasetError

        key = str(clip.path)
        with self._lock:
            if key in self.failed:
                return
            self.failed[key] = reason
            n = len(self.failed)
        self._log(f"skipped {clip.file_name}: it could not be decoded ({reason}); {n} bad clip(s) so far", "warning")
        if n > self.max_fraction * self.total:
            names = ", ".join(os.path.basename(p) for p in list(self.failed)[:5])
            raise DatasetError(f"{n} of {self.total} clips could not be decoded during training ({names})",
                               f"more than data.max_bad_fraction ({self.max_fraction:.0%}); run `whisper-tui validate` "
                               "on the data folder and fix or remove those files", where="data.max_bad_fraction")

    def describe(self) -> str:
        if not self.failed:
            return ""
        names = ", ".join(os.path.basename(p) for p in list(self.failed)[:5]) + (" …" if len(self.failed) > 5 else "")
        return f"{len(self.failed)} clip(s) could not be decoded and were skipped: {names}"


class SkipBadClips:
    """A dataset that serves the next good clip in place of one that failed to decode.

    The batch keeps its size and order stays deterministic; the bad clip is recorded (and the run
    stopped when too many are). Every other attribute is the wrapped dataset's.
    """

    def __init__(self, dataset, bad: BadClips):
        self.dataset = dataset
        self.bad = bad

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name):
        return getattr(self.__dict__["dataset"], name)

    def __setattr__(self, name, value):
        if name in ("dataset", "bad"):
            object.__setattr__(self, name, value)
        else:  # e.g. cross_kv set on the training set
            setattr(self.dataset, name, value)

    def __getitem__(self, i: int) -> dict:
        clips = self.dataset.clips
        n = len(clips)
        for k in range(n):
            j = (i + k) % n
            if clips[j] in self.bad:
                continue
            item = self.dataset[j]
            if clips[j] not in self.bad:  # it may have failed just now
                return item
        from whisper_tui.errors import DatasetError

        raise DatasetError("no clip of the dataset could be decoded", "run `whisper-tui validate` on the data folder")


def decoder_prefix_ids(model_config, generation_config, tokenizer, language: str | None, task: str) -> list[int]:
    """Tokens that start every transcript: <|startoftranscript|> [lang] [task] <|notimestamps|>."""
    sot = model_config.decoder_start_token_id
    prefix = [sot]
    if getattr(generation_config, "is_multilingual", False):
        lang_to_id = getattr(generation_config, "lang_to_id", None) or {}
        lang_token = f"<|{(language or 'en').lower()}|>"
        if lang_token in lang_to_id:
            prefix.append(lang_to_id[lang_token])
        task_to_id = getattr(generation_config, "task_to_id", None) or {}
        if task in task_to_id:
            prefix.append(task_to_id[task])
    no_ts = getattr(generation_config, "no_timestamps_token_id", None)
    if no_ts is None:
        no_ts = tokenizer.convert_tokens_to_ids("<|notimestamps|>")
    prefix.append(no_ts)
    return prefix


class LabelTooLong(ValueError):
    """A transcript does not fit the decoder; the run leaves such clips out before building datasets."""


def label_ids(text: str, tokenizer, prefix: Sequence[int], max_length: int) -> list[int]:
    """prefix + text tokens + <|endoftext|>; the end token is kept so tuned models stop instead of looping.

    Never cut: a cut label teaches the model to stop mid-sentence (and a cut test reference hides
    it from the WER), so a label longer than `max_length` (the decoder's positions) raises.
    """
    body = tokenizer(" " + text.strip(), add_special_tokens=False).input_ids
    ids = list(prefix) + body + [tokenizer.eos_token_id]
    if len(ids) > max_length:
        raise LabelTooLong(f"the transcript is {len(body)} tokens; the decoder holds {max_length - len(prefix) - 1}")
    return ids


def label_length(text: str, tokenizer, prefix: Sequence[int]) -> int:
    return len(prefix) + len(tokenizer(" " + text.strip(), add_special_tokens=False).input_ids) + 1


class FeaturesOnAccess:
    """Examples whose log-mel features are computed from `self.wave(i)` when asked (cheap next to an encoder
    forward): FeatureDataset's clips as read, views.ViewFeatureDataset's perturbed versions of them.
    Needs `processor`, `labels` and `wave(i)`."""

    def features(self, i: int) -> np.ndarray:
        return self._log_mel(self.wave(i))

    def _log_mel(self, wave: np.ndarray) -> np.ndarray:
        fe = self.processor.feature_extractor
        return fe(wave, sampling_rate=fe.sampling_rate, return_tensors="np").input_features[0]

    def __getitem__(self, i: int) -> dict:
        # n_samples: the length a perturbed view really has, for the window it is trained at (window_mix.py)
        wave = self.wave(i)
        return {"input_features": self._log_mel(wave), "labels": self.labels[i], "n_samples": len(wave)}


class FeatureDataset(FeaturesOnAccess):
    """Examples with log-mel features computed on access from the clips on disk."""

    def __init__(self, clips, processor, prefix: Sequence[int], max_label_length: int = MAX_TARGET_TOKENS,
                 bad: BadClips | None = None):
        self.clips = list(clips)
        self.processor = processor
        self.labels = [label_ids(c.transcription, processor.tokenizer, prefix, max_label_length) for c in self.clips]
        self.bad = bad

    def __len__(self) -> int:
        return len(self.clips)

    def wave(self, i: int) -> np.ndarray:
        """The clip's audio, read from disk now (never kept); silence for a clip that cannot be decoded when
        `bad` records failures (the caller skips it), else the AudioError."""
        from whisper_tui.data.audio import load_audio
        from whisper_tui.errors import AudioError

        clip = self.clips[i]
        if self.bad is not None and clip in self.bad:
            return np.zeros(_PLACEHOLDER_SAMPLES, np.float32)
        try:
            return load_audio(clip.path)
        except (AudioError, OSError, ValueError, RuntimeError) as exc:
            if self.bad is None:
                raise
            self.bad.record(clip, getattr(exc, "message", None) or str(exc) or type(exc).__name__)
            return np.zeros(_PLACEHOLDER_SAMPLES, np.float32)

    def lengths(self) -> list[int]:
        return [len(x) for x in self.labels]


class CachedEncoderDataset:
    """Examples whose encoder side is a row of a precomputed cache (the encoder is frozen).

    With `cross_kv` (a `cross_kv.CrossKVCache` row per example, same order) an example also
    carries the decoder's frozen cross-attention keys/values.
    """

    def __init__(self, base: FeatureDataset, cache, cross_kv=None):
        self.base = base
        self.cache = cache
        self.cross_kv = cross_kv
        self.clips = base.clips
        self.labels = base.labels

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict:
        item = {"encoder_hidden": self.cache.get(self.base.clips[i]), "labels": self.labels[i]}
        if self.cross_kv is not None:
            item["cross_kv"] = self.cross_kv.get(i)
        return item

    @property
    def n_rows(self) -> int:
        """Encoder states the cross-attention cache needs, one per clip (`views.CachedViewDataset`: per view)."""
        return len(self.base)

    def hidden_of_row(self, r: int) -> np.ndarray:
        return self.cache.get(self.base.clips[r])

    def lengths(self) -> list[int]:
        return self.base.lengths()
