"""The arithmetic parameter counts must equal what transformers/peft actually build."""

from __future__ import annotations

import pytest

from whisper_tui.training.estimate import TINY, WhisperShape, count_params, estimate_training, lora_params

SMALL = dict(vocab_size=51864, num_mel_bins=80, d_model=32, encoder_layers=2, decoder_layers=3,
             encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=48,
             max_source_positions=1500, max_target_positions=448)


@pytest.fixture(scope="module")
def small_model():
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    return WhisperForConditionalGeneration(WhisperConfig(**SMALL))


def test_tiny_en_total_matches_published_size():
    # tiny.en: 37,760,256 parameters with proj_out tied to the token embedding
    assert count_params(TINY).total == 37_760_256


def test_counts_match_transformers(small_model):
    shape = WhisperShape.from_config(SMALL)
    counts = count_params(shape)
    assert counts.total == sum(p.numel() for p in small_model.parameters())
    assert counts.encoder == sum(p.numel() for p in small_model.model.encoder.parameters())
    trainable = sum(p.numel() for p in small_model.parameters() if p.requires_grad)
    assert estimate_training(strategy="full", shape=shape).trainable_params == trainable


@pytest.mark.parametrize("targets", [("q_proj", "v_proj"), ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")])
def test_lora_counts_match_peft(small_model, targets):
    import copy

    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(copy.deepcopy(small_model), LoraConfig(r=4, lora_alpha=8, target_modules=list(targets)))
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    shape = WhisperShape.from_config(SMALL)
    assert lora_params(shape, 4, targets) == trainable
    assert estimate_training(strategy="lora", shape=shape, lora_r=4, lora_target_modules=targets).trainable_params \
        == trainable


def test_freezing_reduces_trainable_and_memory():
    full = estimate_training(strategy="full")
    frozen = estimate_training(strategy="full", freeze_encoder=True)
    two = estimate_training(strategy="full", frozen_encoder_layers=2)
    assert frozen.trainable_params == count_params().decoder
    assert frozen.trainable_params < two.trainable_params < full.trainable_params
    assert frozen.total_bytes < full.total_bytes


def test_lora_and_qlora_are_cheaper_than_full():
    full = estimate_training(strategy="full")
    lora = estimate_training(strategy="lora", lora_r=8)
    qlora = estimate_training(strategy="qlora", lora_r=8)
    assert lora.trainable_params == qlora.trainable_params < full.trainable_params // 50
    assert qlora.parts["weights"] < lora.parts["weights"]
    assert qlora.total_bytes < lora.total_bytes < full.total_bytes


def test_memory_scales_with_batch_and_checkpointing_helps():
    b8 = estimate_training(batch_size=8)
    b16 = estimate_training(batch_size=16)
    ckpt = estimate_training(batch_size=16, gradient_checkpointing=True)
    half = estimate_training(batch_size=16, precision="bf16")
    assert b16.total_bytes > b8.total_bytes
    assert ckpt.total_bytes < b16.total_bytes
    assert half.total_bytes < b16.total_bytes
    assert b16.headline in b16.format_lines()


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="strategy"):
        estimate_training(strategy="prefix")
    with pytest.raises(ValueError, match="gate_proj"):
        lora_params(TINY, 8, ["gate_proj"])


@pytest.mark.parametrize(("strategy", "k"), [("full", 1), ("full", 2), ("lora", 1), ("lora", 2)])
def test_partial_freeze_matches_the_trainer(small_model, strategy, k):
    """Same rules as training.model_setup: bottom K layers (and the conv stem) frozen, adapters only above."""
    import copy

    from peft import LoraConfig, get_peft_model

    from whisper_tui.training.model_setup import count_parameters, freeze_encoder_layers, lora_target_regex

    model = copy.deepcopy(small_model)
    shape = WhisperShape.from_config(SMALL)
    targets = ["q_proj", "fc1"]
    if strategy == "lora":
        model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=lora_target_regex(
            targets, shape.encoder_layers, k)))
    freeze_encoder_layers(model, k)
    trainable, total = count_parameters(model)
    est = estimate_training(strategy=strategy, shape=shape, frozen_encoder_layers=k, lora_r=4,
                            lora_target_modules=targets)
    assert est.trainable_params == trainable
    if strategy == "full":
        assert est.total_params == total


def test_estimate_for_profile_follows_the_profile():
    from dataclasses import replace

    from whisper_tui.training.estimate import estimate_for_profile
    from whisper_tui.config.profile_schema import Profile

    profile = Profile()
    est, note = estimate_for_profile(profile)
    assert note == ""
    ft = profile.finetuning
    assert est.trainable_params == lora_params(TINY, ft.lora.r, ft.lora.target_modules, encoder=not ft.freeze_encoder)
    full = replace(profile, finetuning=replace(ft, strategy="full", freeze_encoder=False))
    assert estimate_for_profile(full)[0].trainable_params == 37_184_256
    cpu, _ = estimate_for_profile(replace(profile, training=replace(profile.training, precision="fp16")))
    gpu, _ = estimate_for_profile(replace(profile, training=replace(profile.training, precision="fp16")), cuda=True)
    assert gpu.total_bytes < cpu.total_bytes  # fp16 activations only on CUDA


def test_shape_from_a_model_folder(tmp_path):
    import json

    from whisper_tui.training.estimate import shape_for_model

    (tmp_path / "config.json").write_text(json.dumps(SMALL))
    shape, note = shape_for_model(str(tmp_path))
    assert (shape.d_model, shape.decoder_layers, note) == (32, 3, "")
    assert shape_for_model("openai/whisper-base")[1].startswith("shape of")
