"""Encoder windows shorter than Whisper's 30 s.

Whisper pads every clip to 30 s, and its encoder pays for all 1500 positions whatever the clip's
length: for 3-6 s clips 80-90% of the encoder's work is spent on padding. Nothing in the encoder
fixes the length except its position table, so a model can run on a shorter window by keeping
the first N positions. OpenAI's weights were only ever trained on 30 s windows and lose accuracy
when cut (benchmarks/RESULTS.md), but a fine-tune at the shorter window learns it: that is what
`model.window_s` in a profile does.

A shortened model is an ordinary Whisper folder: `config.max_source_positions` and the feature
extractor's `chunk_length` both say its window, so transformers and CTranslate2 run it as saved
(faster-whisper 1.x does not: it pads every segment to 30 s, which CTranslate2 then refuses).
This module keeps the two in step.

Any-window models (`model.windows`): a model trained at several windows keeps its longest one's
position table and runs each batch at the shortest window that holds its clips (`window_for`); the
supported windows are saved as `windows` beside the feature extractor's `chunk_length` (the longest),
in preprocessor_config.json or processor_config.json, so every folder kind (HF model, LoRA adapter,
CTranslate2 export) carries them.
`any_window.enable_any_window` lets a transformers encoder take the shorter features; CTranslate2
takes them as they are.
"""

from __future__ import annotations

import json
from pathlib import Path

from whisper_tui.models.parts import base_of, encoder_of

# The one home of Whisper's window: every "30 s", "1500 positions" and "3000 frames" in the engine
# is derived from these (tests/test_one_home.py fails on a second copy).
WHISPER_WINDOW_S = 30  # OpenAI's models
MEL_FRAMES_PER_SECOND = 100  # the log-mel hop: 160 samples at 16 kHz
POSITIONS_PER_SECOND = MEL_FRAMES_PER_SECOND // 2  # halved by the encoder's second convolution
WHISPER_WINDOW_POSITIONS = WHISPER_WINDOW_S * POSITIONS_PER_SECOND  # config.max_source_positions of OpenAI's models


def model_window_s(model) -> float:
    """The window (seconds) the model's encoder takes."""
    return int(base_of(model).config.max_source_positions) / POSITIONS_PER_SECOND


def processor_window_s(processor) -> float:
    return float(processor.feature_extractor.chunk_length)


def set_feature_window(processor, seconds: float) -> None:
    """Make the feature extractor pad/trim to `seconds` (its saved preprocessor_config follows)."""
    fe = processor.feature_extractor
    fe.chunk_length = int(seconds)
    fe.n_samples = int(seconds) * fe.sampling_rate
    fe.nb_max_frames = fe.n_samples // fe.hop_length


def shorten_encoder(model, seconds: float) -> None:
    """Keep the first `seconds` of the encoder's position table (in place; a no-op at the same length).

    Raises ValueError when `seconds` is longer than the model's window: positions it never had
    cannot be made up.
    """
    import torch

    encoder = encoder_of(model)
    base = base_of(model)
    n = int(round(seconds * POSITIONS_PER_SECOND))
    old = encoder.embed_positions
    if n > old.num_embeddings:
        raise ValueError(f"the model's window is {old.num_embeddings / POSITIONS_PER_SECOND:g} s; "
                         f"it cannot be lengthened to {seconds:g} s")
    if n == old.num_embeddings:
        return
    new = torch.nn.Embedding(n, old.embedding_dim, device=old.weight.device, dtype=old.weight.dtype)
    if type(old) is not torch.nn.Embedding:  # any_window.WindowPositions: the shorter table runs any window too
        new.__class__ = type(old)
    with torch.no_grad():
        new.weight.copy_(old.weight[:n])
    new.weight.requires_grad_(old.weight.requires_grad)
    encoder.embed_positions = new
    encoder.max_source_positions = n
    base.config.max_source_positions = n
    if getattr(encoder, "config", None) is not None:
        encoder.config.max_source_positions = n


def apply_window(model, processor, seconds: float) -> None:
    """Model and features both at `seconds` (ValueError when longer than the model's own window)."""
    shorten_encoder(model, seconds)
    set_feature_window(processor, seconds)


def match_processor_window(model, processor) -> None:
    """Fit the model to a processor saved with a shorter window (a LoRA adapter on a 30 s base).

    A short-window fine-tune that is saved as an adapter keeps its base's full position table; the
    adapter folder's feature extractor records the window it was trained at.
    """
    window = processor_window_s(processor)
    if window < model_window_s(model):
        shorten_encoder(model, window)
    elif window > model_window_s(model):
        # features longer than the position table would fail deep inside the encoder
        set_feature_window(processor, model_window_s(model))


WINDOW_MARGIN_S = 0.5  # a clip runs in a window at least this much longer: its last word stays off the edge


def window_for(seconds: float, windows) -> int:
    """The shortest of `windows` that holds `seconds` of audio with WINDOW_MARGIN_S to spare, else the longest.

    Training and inference share this rule, so a clip is only ever run at windows it was trained at.
    """
    return windows_holding(seconds, windows)[0]


def windows_holding(seconds: float, windows) -> list[int]:
    """Every window of `windows` that holds `seconds` of audio (the longest when none does), shortest first."""
    ordered = sorted(int(w) for w in windows)
    return [w for w in ordered if seconds + WINDOW_MARGIN_S <= w] or [ordered[-1]]


def supported_windows(processor) -> tuple[int, ...]:
    """The windows a loaded model runs at: its feature extractor's `windows`, else its one `chunk_length`."""
    return _windows_of(getattr(processor.feature_extractor, "windows", None), processor_window_s(processor))


def set_supported_windows(processor, windows) -> None:
    """Record `windows` in the feature extractor (saved with it); its chunk_length becomes the longest."""
    ordered = sorted({int(w) for w in windows})
    set_feature_window(processor, ordered[-1])
    fe = processor.feature_extractor
    if len(ordered) > 1:
        fe.windows = ordered
    elif hasattr(fe, "windows"):
        del fe.windows


def saved_windows(folder: Path) -> tuple[int, ...]:
    """The windows a saved model (any folder kind) was trained for, from its preprocessor_config.json."""
    config = saved_feature_config(folder)
    return _windows_of(config.get("windows"), config.get("chunk_length", WHISPER_WINDOW_S))


def saved_feature_config(folder: Path) -> dict:
    """The feature extractor's saved settings: preprocessor_config.json (hub models, CTranslate2 exports), else
    the `feature_extractor` part of processor_config.json (what transformers 5's processor.save_pretrained
    writes); {} when neither can be read."""
    for name, part in (("preprocessor_config.json", None), ("processor_config.json", "feature_extractor")):
        try:
            config = json.loads((Path(folder) / name).read_text())
        except (OSError, ValueError, TypeError):
            continue
        if part is not None and isinstance(config, dict):
            config = config.get(part)
        if isinstance(config, dict):
            return config
    return {}


def _windows_of(listed, chunk_length) -> tuple[int, ...]:
    """`listed` cleaned (ints within the model's window), else the model's one window."""
    try:
        longest = int(chunk_length)
    except (TypeError, ValueError):
        longest = WHISPER_WINDOW_S
    try:
        found = sorted({int(w) for w in listed or () if 0 < int(w) <= longest})
    except (TypeError, ValueError):
        found = []
    if longest not in found:
        found.append(longest)
    return tuple(sorted(found))


def saved_window_s(folder: Path) -> int:
    """The window an export was made for (its preprocessor_config.json), else Whisper's 30 s."""
    try:
        return int(saved_feature_config(folder).get("chunk_length", WHISPER_WINDOW_S))
    except (ValueError, TypeError):
        return WHISPER_WINDOW_S


WINDOW_CHOICES_S = (10, 15, 20)  # windows worth suggesting: at 20 s and above the saving gets small


def suggested_window_s(longest_clip_s: float, margin_s: float = 1.0) -> int | None:
    """The shortest window from WINDOW_CHOICES_S that fits every clip with `margin_s` of silence, else None.

    Datasets of short clips are common (commands, names, single sentences); for them a short-window
    fine-tune trains and transcribes several times faster (benchmarks/RESULTS.md), so the dataset
    views point it out. The margin keeps a clip's last word away from the window's edge.
    """
    for window in WINDOW_CHOICES_S:
        if longest_clip_s + margin_s <= window:
            return window
    return None
