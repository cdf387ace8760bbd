"""Torch datasets that turn `dataset.Clip`s into Whisper training examples.

Two kinds of example: log-mel `input_features` (the encoder runs every step) or cached encoder
outputs (`encoder_cache.EncoderCache`, the frozen encoder ran once). Labels are built explicitly
from Whisper's special tokens rather than trusting a tokenizer post-processor, because converted
tokenizers (CTranslate2 `tokenizer.json`) do not always add the prefix tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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


class FeatureDataset:
    """Examples with log-mel features computed on access (cheap next to an encoder forward)."""

    def __init__(self, clips, processor, prefix: Sequence[int], max_label_length: int = 448,
                 wave_cache: dict | None = None):
        self.clips = list(clips)
        self.processor = processor
        self.labels = [label_ids(c.transcription, processor.tokenizer, prefix, max_label_length) for c in self.clips]
        self._waves = wave_cache if wave_cache is not None else {}

    def __len__(self) -> int:
        return len(self.clips)

    def wave(self, i: int) -> np.ndarray:
        from ..audio import load_audio

        clip = self.clips[i]
        key = str(clip.path)
        if key not in self._waves:
            self._waves[key] = load_audio(clip.path)
        return self._waves[key]

    def features(self, i: int) -> np.ndarray:
        fe = self.processor.feature_extractor
        return fe(self.wave(i), sampling_rate=fe.sampling_rate, return_tensors="np").input_features[0]

    def __getitem__(self, i: int) -> dict:
        return {"input_features": self.features(i), "labels": self.labels[i]}

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
