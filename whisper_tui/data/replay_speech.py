"""Replay speech: everyday sentences spoken by eSpeak, mixed into training so ordinary words stay ordinary.

A fine-tune on one domain learns that anything spoken is likely a domain word; with many unusual voices
it starts hearing drug names in ordinary speech (issue 22). Replay is the classic answer to that kind
of forgetting: a share of every epoch is general speech with its true transcript, so the model keeps
being rewarded for writing everyday words. `data.replay_share` sets how much (replay clips per
training clip), the run's log says how many were mixed in, and the keep set still measures the
result on recorded human speech that replay never contains (replay_sentences.py).

The voices are the sample set's training voices: the voices it holds out for its "new voices" test
are never used, so replay does not leak a test voice into training.

Engine module: no Textual, no torch.
"""

from __future__ import annotations

import random
from pathlib import Path

from whisper_tui.data.metadata import Clip

REPLAY_VERSION = 1
CACHE_FOLDER = f"replay-speech-v{REPLAY_VERSION}"


def replay_dir() -> Path:
    from whisper_tui.config.locations import cache_dir

    return cache_dir() / CACHE_FOLDER


def replay_voices() -> list[str]:
    from whisper_tui.data.sample_data import TEST_VOICES, VOICES

    return [v for v in VOICES if v not in TEST_VOICES]


def replay_lines():
    """Each sentence once, voices, speaking rates and pitches spread over the list (same list, same audio)."""
    from whisper_tui.data.replay_sentences import REPLAY_SENTENCES
    from whisper_tui.data.spoken_cache import SpokenLine

    voices = replay_voices()
    return [SpokenLine(f"replay_{i:03d}.wav", text, voices[i % len(voices)], 140 + (i * 7) % 41, 35 + (i * 13) % 31)
            for i, text in enumerate(REPLAY_SENTENCES)]


def replay_count(share: float, n_train: int) -> int:
    """How many replay clips go with `n_train` training clips at `share`, at most one per sentence."""
    from whisper_tui.data.replay_sentences import REPLAY_SENTENCES

    if share <= 0 or n_train <= 0:
        return 0
    return min(len(REPLAY_SENTENCES), max(1, round(share * n_train)))


def replay_clips(count: int, seed: int) -> list[Clip]:
    """`count` replay clips, chosen by `seed` (the split seed: same data, same replay), spoken on first use.

    AudioError when eSpeak cannot run."""
    from whisper_tui.data.spoken_cache import spoken_clips

    if count <= 0:
        return []
    clips = spoken_clips(replay_dir(), REPLAY_VERSION, replay_lines())
    return sorted(random.Random(seed).sample(clips, min(count, len(clips))), key=lambda c: c.file_name)
