"""Any-window models (model.windows): the encoder patch, the profile key, the per-batch window and real runs."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from conftest import build_tiny_whisper
from helpers_audio import write_metadata, write_tone_dataset
from helpers_jobs import tiny_job_profile
from whisper_tui.config.profile import apply_overrides, load_profile
from whisper_tui.errors import ProfileError
from whisper_tui.models.window import saved_windows, window_for, windows_holding
from whisper_tui.training import events as ev
from whisper_tui.training.job import TrainingJob
from whisper_tui.training.window_mix import EVAL, TRAIN, WindowMix

SR = 16000

pytestmark = pytest.mark.usefixtures("own_cache")


def _noise(seconds: float, seed: int = 0) -> np.ndarray:
    return (0.05 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


# -- the encoder patch ------------------------------------------------------------------------------

def test_any_window_encoder_matches_a_shortened_one_and_saves_unchanged(tiny_whisper_dir, tmp_path):
    import copy

    import torch

    from whisper_tui.models.any_window import enable_any_window
    from whisper_tui.models.loading import load_model
    from whisper_tui.models.window import apply_window

    model, processor = load_model(str(tiny_whisper_dir))
    model.eval()
    short, short_proc = copy.deepcopy(model), copy.deepcopy(processor)
    apply_window(short, short_proc, 10)
    keys_before = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    enable_any_window(model)
    enable_any_window(model)  # a second call changes nothing
    f10 = short_proc.feature_extractor([_noise(3.0)], sampling_rate=SR, return_tensors="pt").input_features
    f30 = processor.feature_extractor([_noise(3.0)], sampling_rate=SR, return_tensors="pt").input_features
    assert torch.equal(f10, f30[..., :1000])  # a short window's features are the long one's first frames
    with torch.inference_mode():
        at10 = model.model.encoder(f10).last_hidden_state
        assert torch.allclose(at10, short.model.encoder(f10).last_hidden_state, atol=1e-5)
        assert model.model.encoder(f30).last_hidden_state.shape[1] == 1500  # and back to the whole window
    # whatever window ran last, the model saves and reloads as the 30 s model it is
    with torch.inference_mode():
        model.model.encoder(f10)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == keys_before
    assert model.config.max_source_positions == 1500
    model.save_pretrained(tmp_path / "m")
    processor.save_pretrained(tmp_path / "m")
    again, _ = load_model(str(tmp_path / "m"))
    assert again.config.max_source_positions == 1500
    with pytest.raises(ValueError, match="longer window"):
        model.model.encoder(torch.zeros(1, f30.shape[1], 3200))


def test_generate_runs_at_the_window_of_its_features(tiny_whisper_dir):
    import copy

    import torch

    from whisper_tui.models.any_window import enable_any_window
    from whisper_tui.models.loading import load_model

    model, processor = load_model(str(tiny_whisper_dir))
    model.eval()
    enable_any_window(model)
    widths = []
    model.model.encoder.register_forward_pre_hook(lambda m, a, k: widths.append(k["input_features"].shape[-1]
                                                  if "input_features" in k else a[0].shape[-1]), with_kwargs=True)
    fe = processor.feature_extractor
    feats = fe([_noise(2.0), _noise(3.0, 1)], sampling_rate=SR, max_length=5 * SR, return_tensors="pt").input_features
    with torch.inference_mode():
        model.generate(input_features=feats, max_length=6)
    assert widths == [500]  # transformers alone would pad the segment to 3000 frames
    assert model.config.max_source_positions == 1500  # put back after the call
    twin = copy.deepcopy(model)  # the patched generate follows a copy (bound to it, not to the original)
    assert twin.generate.__self__ is twin


# -- the profile key ----------------------------------------------------------------------------------

def test_profile_rules_for_windows():
    base = load_profile("cpu-quick")
    assert base.model.windows == (10, 20, 30) and base.model.window_s == 0  # the CPU preset trains any-window
    assert load_profile("lora-8gb").model.windows == ()
    assert apply_overrides(base, {"model.windows": "30, 10"}).model.windows == (10, 30)  # as typed in a form
    assert apply_overrides(base, {"model.windows": "[]"}).model.windows == ()
    for bad in ("[0, 10]", "[10, 31]", "[10.5]", '["ten"]', "ten"):
        with pytest.raises(ProfileError, match="model.windows"):
            apply_overrides(base, {"model.windows": bad})
    # the older one-window key still works on the preset: it wins over the list
    assert apply_overrides(base, {"model.window_s": 10}).model.trained_windows == ()
    assert base.model.trained_windows == (10, 20, 30)
    with pytest.raises(ProfileError, match="below model.windows"):
        apply_overrides(base, {"model.windows": [2, 3], "data.min_duration_s": 3.0})


# -- the per-batch window -----------------------------------------------------------------------------

def test_window_rules_hold_a_clip_with_a_margin():
    assert window_for(4.0, (10, 20, 30)) == 10
    assert window_for(9.8, (10, 20, 30)) == 20  # its last word would sit on the 10 s edge
    assert window_for(45.0, (10, 30)) == 30  # nothing holds it: the longest (the caller cuts long audio)
    assert windows_holding(12.0, (30, 10, 20)) == [20, 30]


def test_training_batches_spread_over_the_windows_that_hold_them_and_evaluation_takes_the_shortest():
    mix = WindowMix((10, 20, 30), seed=3)
    short = [{"input_features": np.ones((80, 3000), np.float32), "labels": [1], "window_seconds": 4.0,
              "window_mode": TRAIN, "window_key": k} for k in range(4)]
    for start in range(200):
        batch = [dict(e, window_key=start * 4 + j) for j, e in enumerate(short)]
        fitted, window = mix.fit(batch)
        assert all(f["input_features"].shape == (80, window * 100) for f in fitted)
        assert not any(k.startswith("window_") for f in fitted for k in f)
    assert set(mix.counts) == {10, 20, 30} and sum(mix.counts.values()) == 200
    assert mix.counts[10] > mix.counts[20] > 0 and mix.counts[30] > 0  # the shortest most, every one some
    # the same clips draw the same window (a resumed run repeats the draws)
    assert mix.choose(4.0, TRAIN, [5, 1, 9]) == WindowMix((10, 20, 30), seed=3).choose(4.0, TRAIN, [9, 5, 1])
    longer = [dict(short[0], window_seconds=15.0)] + short[1:]
    assert {mix.fit(longer)[1] for _ in range(1)} <= {20, 30}  # the longest clip decides
    evaluation = [dict(e, window_mode=EVAL) for e in longer]
    assert mix.fit(evaluation)[1] == 20


# -- whole runs -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("windows")
    model = build_tiny_whisper(root / "model", encoder_layers=2)
    data = write_tone_dataset(root / "data", n=8)
    sf.write(data / "long.wav", _noise(3.5, seed=9), SR)  # held only by the 5 s window
    rows = [line.split(",", 1) for line in (data / "metadata.csv").read_text().splitlines()[1:]]
    write_metadata(data, [*[(a, b) for a, b in rows], ("long.wav", "alpha bravo")])
    return model, data


def _profile(assets, **overrides):
    return tiny_job_profile(*assets, **{"training.num_train_epochs": 3, "training.per_device_train_batch_size": 2,
                                        "training.generation_max_length": 8, "training.warmup_steps": 0,
                                        "model.windows": [2, 5, 30], **overrides})  # tiny_job_profile empties it


@pytest.mark.parametrize("frozen", ["whole encoder cached", "bottom layer cached", "no cache"])
def test_a_run_trains_at_every_window_and_saves_them(assets, tmp_path, frozen):
    overrides = {"whole encoder cached": {},
                 "bottom layer cached": {"finetuning.freeze_encoder": False, "finetuning.frozen_encoder_layers": 1},
                 "no cache": {"finetuning.freeze_encoder": False, "finetuning.frozen_encoder_layers": 1,
                              "finetuning.encoder_cache": False}}[frozen]
    logs = []
    job = TrainingJob(_profile(assets, **overrides), tmp_path / "run", listeners=[logs.append])
    result = job.run()
    assert isinstance(result, ev.RunFinished), result
    text = "\n".join(e.message for e in logs if isinstance(e, ev.LogEvent))
    assert "training at windows 2/5/30 s (model.windows)" in text
    assert "skipped" not in text.replace("keep set: skipped", "")  # the 3.5 s clip fits the 5 s window
    if frozen != "no cache":
        assert "for the 2 s window" in text and "encoder cache built" in text
        # a whole frozen encoder trains each batch at its shortest window: no clip here needs the 30 s one
        assert ("for the 30 s window" in text) == (frozen != "whole encoder cached")
    counts = job.setup.window_mix.counts
    assert counts[2] > 0 and sum(1 for n in counts.values() if n) >= 2, counts  # the short one and a longer one
    assert saved_windows(tmp_path / "run" / "final") == (2, 5, 30)
    assert isinstance(result.final_wer if hasattr(result, "final_wer") else 0.0, float | int | type(None))
