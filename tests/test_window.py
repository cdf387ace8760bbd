"""Short encoder windows (model.window_s): model surgery, save/load, training, transcription, export."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from conftest import build_tiny_whisper
from helpers_audio import write_metadata, write_tone_dataset
from helpers_jobs import tiny_job_profile
from whisper_tui.errors import ProfileError
from whisper_tui.config.profile import apply_overrides, load_profile
from whisper_tui.training import events as ev
from whisper_tui.training.job import TrainingJob
from whisper_tui.models.window import apply_window, model_window_s, processor_window_s

SR = 16000


pytestmark = pytest.mark.usefixtures("own_cache")


def _noise(seconds: float, seed: int = 0) -> np.ndarray:
    return (0.05 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def test_a_shortened_model_keeps_the_first_positions_and_takes_short_features(tiny_whisper_dir):
    import torch

    from whisper_tui.models.loading import load_model

    model, processor = load_model(str(tiny_whisper_dir))
    before = model.model.encoder.embed_positions.weight.detach().clone()
    trainable = model.model.encoder.embed_positions.weight.requires_grad
    assert model_window_s(model) == 30 and processor_window_s(processor) == 30
    apply_window(model, processor, 4)
    assert model.config.max_source_positions == 200 and model_window_s(model) == 4
    assert torch.equal(model.model.encoder.embed_positions.weight, before[:200])
    assert model.model.encoder.embed_positions.weight.requires_grad == trainable  # as the model had it
    features = processor.feature_extractor([_noise(1.5)], sampling_rate=SR, return_tensors="pt").input_features
    assert features.shape[-1] == 400  # padded to the 4 s window, not to 30 s
    with torch.inference_mode():
        out = model.generate(input_features=features, max_length=5)
    assert out.shape[0] == 1
    with pytest.raises(ValueError, match="cannot be lengthened"):
        apply_window(model, processor, 10)


def test_the_window_survives_save_and_load(tiny_whisper_dir, tmp_path):
    from whisper_tui.models.loading import load_model

    model, processor = load_model(str(tiny_whisper_dir))
    apply_window(model, processor, 6)
    model.save_pretrained(tmp_path / "m")
    processor.save_pretrained(tmp_path / "m")
    again, proc = load_model(str(tmp_path / "m"))
    assert model_window_s(again) == 6 and processor_window_s(proc) == 6
    assert proc.feature_extractor.nb_max_frames == 600


def test_profile_rules_for_window_s():
    base = apply_overrides(load_profile("cpu-quick"), {"model.windows": [], "model.window_s": -1})
    assert load_profile("cpu-quick").model.window_s == 0  # the preset trains at several windows (model.windows)
    assert load_profile("lora-8gb").model.window_s == 0
    with pytest.raises(ProfileError, match="model.window_s"):
        apply_overrides(base, {"model.window_s": -2})
    with pytest.raises(ProfileError, match="model.window_s"):
        apply_overrides(base, {"model.window_s": 31})
    with pytest.raises(ProfileError, match="data.min_duration_s"):
        apply_overrides(base, {"model.window_s": 2, "data.min_duration_s": 2.0})
    assert apply_overrides(base, {"model.window_s": 10}).model.window_s == 10


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("window")
    model = build_tiny_whisper(root / "model", encoder_layers=2)
    data = write_tone_dataset(root / "data", n=8)
    sf.write(data / "long.wav", _noise(3.5, seed=9), SR)  # longer than the 2 s window below
    rows = [line.split(",", 1) for line in (data / "metadata.csv").read_text().splitlines()[1:]]
    write_metadata(data, [*[(a, b) for a, b in rows], ("long.wav", "alpha bravo")])
    return model, data


def _profile(assets, **overrides):
    return tiny_job_profile(*assets, **{"training.num_train_epochs": 1, "training.per_device_train_batch_size": 4,
                                        "training.generation_max_length": 8, "training.warmup_steps": 0,
                                        "model.window_s": 2, **overrides})


def test_training_at_a_short_window_skips_longer_clips_and_saves_the_window(assets, tmp_path):
    from whisper_tui.models.loading import load_model
    from whisper_tui.inference.transcribe import Transcriber

    logs = []
    job = TrainingJob(_profile(assets), tmp_path / "run", listeners=[logs.append])
    result = job.run()
    assert isinstance(result, ev.RunFinished), result
    text = "\n".join(e.message for e in logs if isinstance(e, ev.LogEvent))
    assert "encoder window 30 s -> 2 s" in text
    assert "skipped 1 of" in text and "2 s encoder window (model.window_s)" in text

    # the adapter folder records the window; loading it shortens the 30 s base to match
    model, processor = load_model(str(tmp_path / "run" / "final"))
    assert model_window_s(model) == 2 and processor_window_s(processor) == 2

    t = Transcriber(str(tmp_path / "run" / "final"), device="cpu", max_new_tokens=4)
    progress = []
    t.transcribe_waves([_noise(5.0)], on_progress=lambda done, total: progress.append(total))
    assert t.window_s == 2 and progress[-1] >= 3  # 5 s of audio cut into pieces of at most 2 s


def test_auto_window_follows_the_data_and_never_drops_a_clip(assets, tmp_path):
    from whisper_tui.models.loading import load_model

    logs = []
    job = TrainingJob(_profile(assets, **{"model.window_s": -1}), tmp_path / "run", listeners=[logs.append])
    result = job.run()
    assert isinstance(result, ev.RunFinished), result
    text = "\n".join(e.message for e in logs if isinstance(e, ev.LogEvent))
    assert "model.window_s auto: 10 s (the longest training or test clip lasts 3.5 s)" in text
    assert "skipped" not in text.replace("keep set: skipped", "")  # every training and test clip fits
    model, processor = load_model(str(tmp_path / "run" / "final"))
    assert model_window_s(model) == 10 and processor_window_s(processor) == 10
    assert "window_s = -1" in (tmp_path / "run" / "profile.toml").read_text()  # what was asked is kept


def test_a_window_longer_than_the_models_is_refused_with_the_key(assets, tmp_path):
    from whisper_tui.models.loading import load_model

    model, processor = load_model(str(assets[0]))
    apply_window(model, processor, 2)
    model.save_pretrained(tmp_path / "short")
    processor.save_pretrained(tmp_path / "short")
    job = TrainingJob(_profile(assets, **{"model.name": str(tmp_path / "short"), "model.window_s": 5}), tmp_path / "run")
    result = job.run()
    assert isinstance(result, ev.RunFailed) and "model.window_s" in result.reason


def test_ct2_export_of_a_short_window_model_transcribes(tiny_whisper_dir, tmp_path):
    from whisper_tui.models.export import save_whisper_folder
    from whisper_tui.models.loading import load_model
    from whisper_tui.inference.transcribe import Transcriber

    model, processor = load_model(str(tiny_whisper_dir))
    apply_window(model, processor, 4)
    save_whisper_folder(model, processor, tmp_path / "short")
    t = Transcriber(str(tmp_path / "short"), device="cpu", backend="ct2", compute_type="float32", max_new_tokens=4)
    assert t.window_s == 4
    texts = t.transcribe_waves([_noise(1.0), _noise(9.0, seed=2)])  # the second one goes in 3 pieces
    assert len(texts) == 2


def test_the_memory_estimate_follows_the_window():
    from whisper_tui.training.estimate import estimate_for_profile

    base = apply_overrides(load_profile("cpu-quick"), {"finetuning.encoder_cache": False})
    full, _ = estimate_for_profile(base)
    short, _ = estimate_for_profile(apply_overrides(base, {"model.window_s": 10}))
    assert short.total_bytes < full.total_bytes
    assert full.total_params - short.total_params == (1500 - 500) * 384  # the dropped position rows of tiny


def test_short_datasets_get_a_window_suggestion(assets):
    from whisper_tui.data.dataset import validate_dataset
    from whisper_tui.models.window import suggested_window_s

    assert suggested_window_s(5.9) == 10 and suggested_window_s(9.0) == 10
    assert suggested_window_s(9.5) == 15 and suggested_window_s(19.0) == 20
    assert suggested_window_s(19.5) is None and suggested_window_s(28.0) is None
    text = validate_dataset(assets[1]).format_text()  # clips of 1 s and one of 3.5 s
    assert "fits a 10 s encoder window" in text and "--set model.window_s=10" in text
