"""Augmentation views (training/views.py): deterministic perturbed copies of the training clips, encoded once
into the encoder cache, reused by a second run, one drawn per clip each epoch; labels and test clips untouched."""

from __future__ import annotations

import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import build_tiny_whisper
from helpers_audio import write_tone_dataset
from helpers_jobs import SHORT_RUN, prepared_datasets, tiny_job_profile
from whisper_tui.errors import ProfileError
from whisper_tui.config.profile import apply_overrides, load_profile, read_profile_file
from whisper_tui.training import events as ev
from whisper_tui.training.job import TrainingJob
from whisper_tui.training.views import (CachedViewDataset, ViewFeatureDataset, ViewPlan, ViewSettings, draw_view,
                                        make_view, view_length, view_params)

SR = 16000
VIEWS = {"training.augment_views": 2}


def speech_like(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))
            + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


# -- the perturbations ---------------------------------------------------------------------------
def test_views_are_deterministic_and_differ_from_each_other_and_from_the_clean_clip():
    wave = speech_like()
    settings = ViewSettings(3, seed=7)
    assert make_view(wave, settings, "/d/a.wav", 0) is wave  # view 0 is the clean clip
    views = [make_view(wave, settings, "/d/a.wav", v) for v in (1, 2, 3)]
    for v, view in enumerate(views, start=1):
        assert view.dtype == np.float32 and np.isfinite(view).all()
        assert len(view) == view_length(len(wave), view_params(settings, "/d/a.wav", v), SR)
        assert np.array_equal(view, make_view(wave, settings, "/d/a.wav", v))  # same inputs, same view
        n = min(len(view), len(wave))
        assert not np.allclose(view[:n], wave[:n], atol=1e-3)
    assert len({view.tobytes() for view in views}) == 3
    assert not np.array_equal(views[0], make_view(wave, ViewSettings(3, seed=8), "/d/a.wav", 1))  # other seed
    assert not np.array_equal(views[0], make_view(wave, settings, "/d/b.wav", 1))  # other clip


def test_speed_is_within_the_range_and_changes_the_length():
    settings = ViewSettings(1, speed=0.1)
    speeds = {view_params(settings, f"/d/{i}.wav", 1).speed for i in range(200)}
    assert min(speeds) >= 0.9 and max(speeds) <= 1.1 and len(speeds) > 10
    assert all(round(s, 2) == s for s in speeds)  # 0.01 steps keep the resampling kernel small
    slow = next(i for i in range(200) if view_params(settings, f"/d/{i}.wav", 1).speed <= 0.92)
    out = make_view(speech_like(1.0), settings, f"/d/{slow}.wav", 1)
    assert len(out) > 1.08 * SR
    still = ViewSettings(1, speed=0.0, snr_high_db=0.0, reverb=False)
    assert len(make_view(speech_like(1.0), still, "/d/a.wav", 1)) == SR


def test_noise_is_added_at_the_drawn_snr():
    wave = speech_like(3.0)
    settings = ViewSettings(1, speed=0.0, snr_low_db=20.0, snr_high_db=20.0, reverb=False)
    params = view_params(settings, "/d/a.wav", 1)
    out = make_view(wave, settings, "/d/a.wav", 1)
    gain = 10 ** (params.gain_db / 20)
    noise = out / gain - wave
    snr = 10 * np.log10((wave ** 2).mean() / (noise ** 2).mean())
    assert snr == pytest.approx(20.0, abs=0.1)
    quiet = ViewSettings(1, speed=0.0, snr_high_db=0.0, reverb=False)  # no noise: only the gain
    assert np.allclose(make_view(wave, quiet, "/d/a.wav", 1), wave * gain, atol=1e-6)


def test_each_epoch_draws_one_version_and_every_version_comes_once_per_cycle():
    available = [0, 1, 2]
    for index in range(5):
        draws = [draw_view(42, epoch, index, available) for epoch in range(9)]
        for cycle in range(3):
            assert sorted(draws[3 * cycle:3 * cycle + 3]) == available
        assert draws == [draw_view(42, epoch, index, available) for epoch in range(9)]
    first_epoch = [draw_view(42, 0, index, available) for index in range(30)]
    assert len(set(first_epoch)) == 3  # clips do not move in lockstep
    assert draw_view(42, 5, 0, [0]) == 0


def test_a_view_slowed_past_the_encoder_window_is_skipped_and_counted():
    settings = ViewSettings(4, speed=0.1)
    window = 2 * SR
    fe = SimpleNamespace(sampling_rate=SR, n_samples=window)
    clips = [SimpleNamespace(path=f"/d/{i}.wav", transcription="x") for i in range(3)]
    waves = [speech_like(0.5), speech_like(1.95), speech_like(1.0)]
    base = SimpleNamespace(processor=SimpleNamespace(feature_extractor=fe), clips=clips, wave=lambda i: waves[i])
    plan = ViewPlan(base, settings)
    assert plan.available[0] == plan.available[2] == [0, 1, 2, 3, 4]
    slow = [v for v in range(1, 5) if view_length(len(waves[1]), view_params(settings, "/d/1.wav", v), SR) > window]
    assert slow and plan.skipped == len(slow)
    assert plan.available[1] == [0] + [v for v in range(1, 5) if v not in slow]
    assert "views skipped" in plan.describe_skipped() and "2 s encoder window" in plan.describe_skipped()


# -- profile settings ----------------------------------------------------------------------------
def test_view_settings_defaults_and_validation(tmp_path):
    tr = load_profile("cpu-quick").training
    assert (tr.augment_views, tr.augment_speed, tr.augment_snr_low_db, tr.augment_snr_high_db,
            tr.augment_reverb) == (0, 0.1, 10.0, 30.0, True)
    assert ViewSettings.from_profile(load_profile("cpu-quick")) is None
    on = ViewSettings.from_profile(apply_overrides(load_profile("cpu-quick"), VIEWS))
    assert on.views == 2 and on.describe() == "speed ±10%, noise 10–30 dB SNR, reverb, gain ±6 dB"
    path = tmp_path / "p.toml"
    path.write_text(textwrap.dedent("""\
        [training]
        augment_views = 2
        augment_snr_low_db = 40
        augment_snr_high_db = 20
        """))
    with pytest.raises(ProfileError) as info:
        read_profile_file(path)
    assert "training.augment_snr_low_db must not exceed training.augment_snr_high_db" in info.value.message
    path.write_text("[training]\naugment_speed = 0.5\n")
    with pytest.raises(ProfileError) as info:
        read_profile_file(path)
    assert "training.augment_speed must be a number >= 0 and <= 0.3" in info.value.message
    path.write_text("[training]\naugment_snr_low_db = 40\naugment_snr_high_db = 0\n")  # no noise: low is unused
    assert read_profile_file(path).training.augment_snr_high_db == 0


# -- with the encoder cache ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("views")
    return build_tiny_whisper(root / "model", encoder_layers=2), write_tone_dataset(root / "data", n=8)


def datasets(profile, tmp_path, name):
    setup, _model, _processor, train_ds, eval_ds, _cached, logged = prepared_datasets(profile, tmp_path / name)
    train_ds, eval_ds = train_ds.dataset, eval_ds.dataset  # inside the SkipBadClips wrappers
    setup.control.run_cleanups()  # removes the cross-attention cache: items here carry encoder states only
    if hasattr(train_ds, "cross_kv"):
        train_ds.cross_kv = None
    return train_ds, eval_ds, logged


def test_cached_views_differ_keep_their_labels_and_are_reused(assets, tmp_path, own_cache):
    profile = tiny_job_profile(*assets, **SHORT_RUN, **VIEWS)
    train_ds, eval_ds, logged = datasets(profile, tmp_path, "a")
    assert isinstance(train_ds, CachedViewDataset) and not isinstance(eval_ds, CachedViewDataset)
    assert train_ds.view_cache.reused is False
    assert any(m.startswith("augmentation: 2 views per clip (speed ±10%, noise 10–30 dB SNR, reverb, gain ±6 dB); "
                            "cache holds 3 x 6 clips, built in") for m in logged), logged
    assert train_ds.n_rows == 18
    for i in range(len(train_ds)):
        rows = [train_ds.hidden(i, v) for v in (0, 1, 2)]
        assert all(r.shape == rows[0].shape for r in rows)
        assert not np.array_equal(rows[0], rows[1]) and not np.array_equal(rows[1], rows[2])
    # each epoch one version per clip, the labels always the clean clip's transcript
    drawn = {}
    for epoch in range(3):
        train_ds.set_epoch(epoch)
        for i in range(len(train_ds)):
            item = train_ds[i]
            assert item["labels"] == train_ds.base.labels[i]
            v = train_ds.view_for(i)
            assert np.array_equal(item["encoder_hidden"], train_ds.hidden(i, v))
            drawn.setdefault(i, []).append(v)
    assert all(sorted(views) == [0, 1, 2] for views in drawn.values())

    again, _eval, logged = datasets(profile, tmp_path, "b")  # a second run: nothing is encoded again
    assert again.view_cache.reused and again.view_cache.path == train_ds.view_cache.path
    assert any("cache holds 3 x 6 clips, reused from an earlier run" in m for m in logged), logged
    assert np.array_equal(again.hidden(3, 2), train_ds.hidden(3, 2))

    other = apply_overrides(profile, {"training.augment_snr_high_db": 0.0})  # other settings: other views
    changed, _eval, _logged = datasets(other, tmp_path, "c")
    assert not changed.view_cache.reused and changed.view_cache.path != train_ds.view_cache.path


def test_views_without_the_cache_are_perturbed_as_drawn_and_spec_augment_follows_the_epoch(assets, tmp_path):
    from whisper_tui.training.augment import SpecAugmentDataset

    profile = tiny_job_profile(*assets, **SHORT_RUN, **VIEWS, **{"training.spec_augment": True})
    train_ds, eval_ds, logged = datasets(profile, tmp_path, "a")
    assert isinstance(train_ds, SpecAugmentDataset) and isinstance(train_ds.base, ViewFeatureDataset)
    assert any("perturbed as they are drawn (the encoder cache is off)" in m for m in logged)
    views = train_ds.base
    train_ds.set_epoch(4)
    assert views.epoch == 4
    i = next(i for i in range(len(views)) if views.view_for(i) != 0)
    assert not np.array_equal(views.features(i), views.base.features(i))
    assert views[i]["labels"] == views.base.labels[i]


def test_a_training_run_draws_views_per_epoch_with_the_cross_attention_cache(assets, tmp_path, own_cache,
                                                                            monkeypatch):
    drawn: list[tuple[int, int, int]] = []
    view_for = CachedViewDataset.view_for

    def recording(self, i):
        v = view_for(self, i)
        drawn.append((self.epoch, i, v))
        return v

    monkeypatch.setattr(CachedViewDataset, "view_for", recording)
    profile = tiny_job_profile(*assets, **{**SHORT_RUN, **VIEWS, "training.num_train_epochs": 3,
                                           "training.eval_strategy": "no"})
    seen: list = []
    result = TrainingJob(profile, tmp_path / "run", evaluate_base=False, listeners=[seen.append]).run()
    assert isinstance(result, ev.RunFinished), result
    logs = [e.message for e in seen if isinstance(e, ev.LogEvent)]
    assert any(m.startswith("cross-attention keys/values of 6 clips (18 with their views)") for m in logs), logs
    assert {epoch for epoch, _i, _v in drawn} == {0, 1, 2}
    per_clip: dict[int, list[int]] = {}
    for epoch, i, v in sorted(set(drawn)):
        per_clip.setdefault(i, []).append(v)
    assert all(sorted(views) == [0, 1, 2] for views in per_clip.values())  # 3 epochs: every version once
