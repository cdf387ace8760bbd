"""A randomly initialised Whisper with the real tiny.en processor, saved as a model folder.

Tests and benchmarks need a model the engine treats exactly as a user's (same tokenizer, special tokens,
generation config with alignment heads and suppress lists, same folder layout) but that trains in
seconds, so the engine's mechanics (caches, windows, checkpoints, cancels) can be checked without the
real weights' cost. One builder keeps the two from drifting apart: tests use a smaller default size than
benchmarks, nothing else differs.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["build_random_whisper"]


def build_random_whisper(out_dir: Path, seed: int = 0, *, d_model: int = 64, encoder_layers: int = 2,
                         ffn_dim: int = 128, **config_overrides) -> Path:
    """Save the model + processor into `out_dir` and return it. `config_overrides` are WhisperConfig fields
    (encoder_ffn_dim, decoder_layers, ...) and win over the size arguments."""
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from whisper_tui.models import convert
    from whisper_tui.models.window import WHISPER_WINDOW_POSITIONS
    from whisper_tui.whisper_facts import MAX_TARGET_TOKENS

    source = convert.embedded_source_dir()
    processor = convert.build_processor(source, n_mels=80, vocab_size=51864)
    tokenizer = processor.tokenizer
    eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    settings = dict(vocab_size=len(tokenizer), num_mel_bins=80, d_model=d_model, encoder_layers=encoder_layers,
                    decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=ffn_dim,
                    decoder_ffn_dim=ffn_dim, max_source_positions=WHISPER_WINDOW_POSITIONS,
                    max_target_positions=MAX_TARGET_TOKENS)
    settings.update(config_overrides)
    config = WhisperConfig(**settings, pad_token_id=eot, bos_token_id=eot, eos_token_id=eot,
                           decoder_start_token_id=tokenizer.convert_tokens_to_ids("<|startoftranscript|>"))
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config).eval()
    dims = {"vocab_size": config.vocab_size, "max_target_positions": config.max_target_positions}
    model.generation_config = convert.generation_config(source, tokenizer, dims)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir
