"""Small inputs built inside tests: a tiny random Whisper with the real tokenizer, and tone datasets.

The tiny model has the real tiny.en vocabulary and feature extractor (taken from the bundled
CTranslate2 files, no conversion of weights needed) so every code path sees real token ids, but
only ~1.8M parameters, so a training run takes seconds on two CPU cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

TINY_VOCAB = 51864


def build_tiny_whisper(path: Path, *, encoder_layers: int = 2, decoder_layers: int = 1, seed: int = 0) -> Path:
    import torch
    from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration

    from whisper_tui.convert import build_processor, embedded_source_dir

    path = Path(path)
    if (path / "config.json").exists():
        return path
    processor = build_processor(embedded_source_dir(), vocab_size=TINY_VOCAB)
    config = WhisperConfig(
        vocab_size=TINY_VOCAB, d_model=64, encoder_layers=encoder_layers, decoder_layers=decoder_layers,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128,
        num_mel_bins=80, max_source_positions=1500, max_target_positions=448, decoder_start_token_id=50257,
        pad_token_id=50256, bos_token_id=50256, eos_token_id=50256)
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=50257, eos_token_id=50256, pad_token_id=50256, no_timestamps_token_id=50362,
        max_length=448, is_multilingual=False, begin_suppress_tokens=[220, 50256])
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


def write_tone_dataset(folder: Path, n: int = 8, seconds: float = 1.0, seed: int = 0) -> Path:
    """n clips of distinct tones + noise, each labelled with a short phrase."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = ["file_name,transcription"]
    t = np.arange(int(16000 * seconds)) / 16000
    for i in range(n):
        wave = 0.3 * np.sin(2 * np.pi * (180 + 40 * i) * t) + 0.02 * rng.standard_normal(t.size)
        sf.write(folder / f"clip{i:02d}.wav", wave.astype(np.float32), 16000)
        rows.append(f"clip{i:02d}.wav,{WORDS[i % len(WORDS)]} {WORDS[(i + 3) % len(WORDS)]}")
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n")
    return folder
