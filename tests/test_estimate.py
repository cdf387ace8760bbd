"""The arithmetic parameter counts must equal what transformers/peft actually build; the memory estimate keeps its
form (`memory estimate: X.X GiB`), is the same in `train`'s first lines and on the Train setup screen, and stays
within 25% of the peak RSS bench_memory measured (benchmarks/RESULTS.md section 14)."""

from __future__ import annotations

import pytest
from helpers_tui import isolated_dirs  # noqa: F401 (fixture)

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


# -- the memory estimate (issue 23) ------------------------------------------------------------------------------

# benchmarks/RESULTS.md section 14, first table: peak RSS (GiB) of real `whisper-tui train` runs of 12 steps on a
# 2-core CPU with tiny.en (bench_memory --steps 12, main 9e55b30): the sample data's 84 training clips, and
# bench_scale's 1,000 synthetic clips. The recipes are bench_memory.VARIANTS as profile overrides of cpu-quick.
SEED = {"finetuning.freeze_encoder": True, "training.per_device_train_batch_size": 4,
        "finetuning.gradient_checkpointing": True, "finetuning.lora.target_modules": ["q_proj", "v_proj"]}
MEASURED_PEAK_GIB = {
    "default": ({}, 1.77),
    "seed": (SEED, 1.36),
    "full": ({"finetuning.strategy": "full", "finetuning.frozen_encoder_layers": 0}, 2.01),
    "windows [10]": ({"model.windows": [10]}, 1.76),
    "windows [30]": ({"model.windows": [30]}, 1.62),
    "windows [10, 20, 30]": ({"model.windows": [10, 20, 30]}, 1.90),
    "default, 1,000 clips": ({}, 1.67),
    "seed, 1,000 clips": (SEED, 1.34),
}


@pytest.mark.parametrize("variant", list(MEASURED_PEAK_GIB))
def test_the_estimate_is_within_25_percent_of_the_measured_peak(variant):
    from whisper_tui.config.profile import apply_overrides, load_profile
    from whisper_tui.training.estimate import GIB, estimate_for_profile

    overrides, measured = MEASURED_PEAK_GIB[variant]
    profile = apply_overrides(load_profile("cpu-quick"), overrides)
    assert profile.model.name == "tiny.en"
    estimate, _note = estimate_for_profile(profile)
    assert 0.75 <= estimate.total_bytes / GIB / measured <= 1.25, estimate.parts


def test_activations_follow_the_frame_budget_not_the_window():
    from whisper_tui.training.estimate import largest_piece

    # batch 8 = 8 x 10 s of audio per forward pass: 8 clips at 10 s, 4 at 20 s, 2 at 30 s (batching.py)
    assert largest_piece((10, 20, 30), 8) == (8, 4000, 10.0)
    assert largest_piece((30,), 8) == (2, 3000, 30.0)
    assert largest_piece((30,), 8, frame_budget_s=90) == (3, 4500, 30.0)
    assert largest_piece((30,), 1) == (1, 1500, 30.0)  # one clip per pass at least
    at_30 = estimate_training(strategy="lora", batch_size=8, windows_s=(30,))
    at_10 = estimate_training(strategy="lora", batch_size=8, windows_s=(10,))
    key = next(k for k in at_30.parts if k.startswith("training piece"))
    assert key == "training piece (2 x 30 s)" and at_30.parts[key] < at_10.parts["training piece (8 x 10 s)"]


def test_the_cross_attention_cache_build_does_not_grow_with_the_data_set():
    """cross_kv.py writes its rows batch by batch to a file (page cache, not RSS): the build phase holds one
    evaluation batch of rows and the encoder output it came from, for 48 clips as for 1,000."""
    from whisper_tui.training.estimate import cross_kv_bytes

    seed = dict(strategy="lora", freeze_encoder=True, encoder_cache=True, batch_size=4, windows_s=(30,),
                eval_batch_size=16)
    small, large = (estimate_training(**seed, cross_kv_rows=n) for n in (48, 1000))
    assert cross_kv_bytes(TINY, 48) == 48 * 4 * 2 * 1500 * 384 * 2  # 442 MB for 48 clips on disk (issue 23)
    phase = "cross-attn K/V build (16 clips at a time)"
    assert small.parts.get(phase, 0) == large.parts.get(phase, 0) and small.total_bytes == large.total_bytes
    assert large.phases[phase] == cross_kv_bytes(TINY, 16) + 2 * 16 * 1500 * 384 * 4
    assert estimate_training(**seed, cross_kv_rows=3).phases["cross-attn K/V build (3 clips at a time)"] \
        < large.phases[phase]


def test_the_gpu_estimate_says_it_is_not_verified_on_hardware():
    from whisper_tui.config.profile import load_profile
    from whisper_tui.training.estimate import estimate_for_profile, memory_estimate_line

    profile = load_profile("cpu-quick")
    gpu, _ = estimate_for_profile(profile, cuda=True)
    cpu, _ = estimate_for_profile(profile)
    assert gpu.headline == f"{gpu.figure} (GPU, not yet verified on hardware)"
    assert memory_estimate_line(profile, "cuda:0") == gpu.headline
    assert memory_estimate_line(profile, "cpu") == cpu.headline == f"{cpu.figure} (peak RAM (RSS))"
    assert "CUDA context" in gpu.parts and "torch + transformers" not in gpu.parts


async def test_train_logs_the_estimate_first_and_the_screen_shows_the_same(tiny_whisper_dir, tmp_path,
                                                                            isolated_dirs, capsys):
    """A headless `train` on a tiny random model prints `memory estimate: X.X GiB (peak RAM (RSS))` before it
    loads the model (also in train.log); the Train setup screen, given the profile that run saved, shows it."""
    import re

    from textual.widgets import Static
    from helpers_audio import write_tone_dataset
    from helpers_tui import settle

    from screens.app import WhisperTuiApp
    from screens.train_setup import TrainSetupScreen
    from whisper_tui.cli import main

    data = write_tone_dataset(tmp_path / "data", n=6)
    out = tmp_path / "run"
    code = main(["train", "--model", str(tiny_whisper_dir), "--data", str(data), "--output", str(out),
                 "--max-steps", "1", "--batch-size", "2", "--no-base-eval", "--set", "training.generation_max_length=8"])
    err = capsys.readouterr().err
    assert code == 0, err
    lines = err.splitlines()
    found = [i for i, line in enumerate(lines) if line.startswith("memory estimate:")]
    assert len(found) == 1, err
    line = lines[found[0]]
    assert re.fullmatch(r"memory estimate: \d+\.\d GiB \(peak RAM \(RSS\)\)", line)
    assert found[0] < 5 and found[0] < next(i for i, text in enumerate(lines) if text.startswith("loading model"))
    assert line in (out / "train.log").read_text(encoding="utf-8")  # the run's log (the Dashboard shows it)
    figure = line.split(" (")[0]

    app = WhisperTuiApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, TrainSetupScreen)
        assert screen.load(str(out / "profile.toml"))
        await settle(pilot)
        shown = str(screen.query_one("#ts-estimate", Static).content)
    assert figure in shown and "peak RAM (RSS)" in shown
