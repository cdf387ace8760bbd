"""SpecAugment (training/augment.py): masks only in training batches and only over speech, reproducible
per seed and across a resume, validated profile settings, and the encoder cache kept off while it runs."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from conftest import build_tiny_whisper
from helpers_audio import write_tone_dataset
from helpers_jobs import SHORT_RUN, prepared_datasets, tiny_job_profile
from whisper_tui.errors import ProfileError
from whisper_tui.config.profile import apply_overrides, load_profile, read_profile_file
from whisper_tui.training import events as ev
from whisper_tui.training.augment import (CACHE_OFF_REASON, SpecAugment, SpecAugmentDataset, SpecAugmentSettings,
                                          speech_frames)
from whisper_tui.training.job import TrainingJob

SPEC_ON = {"training.spec_augment": True}
pytestmark = pytest.mark.usefixtures("own_cache")


def features(seed: int = 0, frames: int = 3000) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((80, frames)).astype(np.float32)


def runs(flags: np.ndarray) -> list[int]:
    """Lengths of the runs of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1))


# -- the masks ------------------------------------------------------------------------------------
def test_masks_stay_in_the_speech_frames_and_are_filled_with_the_clip_mean():
    feats, n = features(), 400
    masked_any = False
    for index in range(20):
        out = SpecAugment(SpecAugmentSettings(), seed=1)(feats, n, epoch=0, index=index)
        changed = out != feats
        assert out.shape == feats.shape and out.dtype == np.float32
        assert not changed[:, n:].any()  # the 30 s window's padding is never touched
        assert np.allclose(out[changed], feats[:, :n].mean())
        masked_any |= bool(changed.any())
    assert masked_any
    assert (SpecAugment(SpecAugmentSettings(), 1)(feats, 0, epoch=0, index=0) == feats).all()  # no speech, no mask


def test_mask_widths_follow_the_settings():
    """One mask per axis: a band is at most freq_width - 1 bins, a span at most 5% of the speech (not of 30 s)."""
    feats, n = features(1), 600  # 6 s of speech: spans of at most 30 frames, never 150 (5% of 3000)
    one_each = SpecAugmentSettings(freq_masks=1, freq_width=27, time_masks=1, time_width=0.05)
    widest_band = widest_span = 0
    for index in range(40):
        changed = SpecAugment(one_each, seed=3)(feats, n, epoch=0, index=index) != feats
        bands = runs(changed[:, :n].all(axis=1))
        spans = runs(changed[:, :n].all(axis=0))
        assert len(bands) <= 1 and len(spans) <= 1
        widest_band = max([widest_band, *bands])
        widest_span = max([widest_span, *spans])
    assert 10 < widest_band <= 26
    assert 10 < widest_span < int(0.05 * n)
    only_time = SpecAugmentSettings(freq_masks=0, freq_width=27, time_masks=2, time_width=0.05)
    changed = SpecAugment(only_time, seed=3)(feats, n, epoch=0, index=7) != feats
    assert not changed[:, :n].all(axis=1).any()  # no frequency band


def test_same_seed_gives_the_same_masks_and_other_seeds_or_epochs_other_ones():
    feats = features(2)
    spec = SpecAugmentSettings()
    first = SpecAugment(spec, seed=42)(feats, 500, epoch=1, index=3)
    assert (SpecAugment(spec, seed=42)(feats, 500, epoch=1, index=3) == first).all()
    assert not (SpecAugment(spec, seed=43)(feats, 500, epoch=1, index=3) == first).all()
    assert not (SpecAugment(spec, seed=42)(feats, 500, epoch=2, index=3) == first).all()
    assert not (SpecAugment(spec, seed=42)(feats, 500, epoch=1, index=4) == first).all()


def test_masks_leave_the_global_random_state_alone():
    import torch

    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    SpecAugment(SpecAugmentSettings(), 0)(features(), 300, epoch=0, index=0)
    assert torch.equal(torch.rand(4), expected)  # dropout and shuffling draw what they would without masks


def test_speech_frames():
    assert speech_frames(16000, 160, 3000) == 100
    assert speech_frames(16001, 160, 3000) == 101
    assert speech_frames(16000 * 40, 160, 3000) == 3000


# -- profile settings ----------------------------------------------------------------------------
def refused(tmp_path, text: str) -> ProfileError:
    path = tmp_path / "my.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        read_profile_file(path)
    return info.value


@pytest.mark.parametrize(("text", "key", "rule"), [
    ("spec_augment_freq_masks = -1", "training.spec_augment_freq_masks", "an integer >= 0 and <= 20"),
    ("spec_augment_freq_masks = 1.5", "training.spec_augment_freq_masks", "an integer >= 0 and <= 20"),
    ("spec_augment_freq_width = 81", "training.spec_augment_freq_width", "an integer >= 0 and <= 80"),
    ("spec_augment_time_masks = 21", "training.spec_augment_time_masks", "an integer >= 0 and <= 20"),
    ("spec_augment_time_width = 0.6", "training.spec_augment_time_width", "a number >= 0 and <= 0.5"),
    ('spec_augment_time_width = "5%"', "training.spec_augment_time_width", "a number >= 0 and <= 0.5"),
])
def test_bad_mask_settings_are_refused_naming_the_key(tmp_path, text, key, rule):
    err = refused(tmp_path, f"[training]\nspec_augment = true\n{text}\n")
    assert f": {key} must be {rule}" in err.message and err.where == key


def test_spec_augment_that_draws_no_mask_is_refused(tmp_path):
    err = refused(tmp_path, """\
        [training]
        spec_augment = true
        spec_augment_freq_masks = 0
        spec_augment_time_width = 0
        """)
    assert ": training.spec_augment is true but draws no mask" in err.message and err.where == "training.spec_augment"
    assert "spec_augment = false" in err.hint
    off = tmp_path / "off.toml"  # the same numbers with the switch off are fine: nothing is drawn anyway
    off.write_text("[training]\nspec_augment = false\nspec_augment_freq_masks = 0\nspec_augment_time_width = 0\n")
    assert read_profile_file(off).training.spec_augment_freq_masks == 0


def test_defaults_are_librispeech_style_and_off():
    tr = load_profile("cpu-quick").training
    assert (tr.spec_augment, tr.spec_augment_freq_masks, tr.spec_augment_freq_width, tr.spec_augment_time_masks,
            tr.spec_augment_time_width) == (False, 2, 27, 2, 0.05)


# -- the encoder cache and the estimate ----------------------------------------------------------
def test_encoder_cache_is_off_while_masks_are_drawn():
    from whisper_tui.training.estimate import estimate_for_profile
    from whisper_tui.training.encoder_cache import cache_is_valid

    plain = apply_overrides(load_profile("cpu-quick"), {"finetuning.freeze_encoder": True})  # frozen, cache on
    masked = apply_overrides(plain, SPEC_ON)
    assert cache_is_valid(plain, 4) == (True, "")
    assert cache_is_valid(masked, 4) == (False, CACHE_OFF_REASON)
    assert estimate_for_profile(plain)[1] == ""
    assert "encoder cache off: SpecAugment" in estimate_for_profile(masked)[1]
    unfrozen = apply_overrides(masked, {"finetuning.freeze_encoder": False, "finetuning.frozen_encoder_layers": 0})
    assert cache_is_valid(unfrozen, 4)[0] is False and estimate_for_profile(unfrozen)[1] == ""  # nothing to cache


def test_transformers_spec_augment_is_switched_off(tmp_path):
    from whisper_tui.training.model_setup import build_trainable_model, choose_precision

    model_dir = build_tiny_whisper(tmp_path / "m", apply_spec_augment=True, mask_time_prob=0.5)
    profile = apply_overrides(load_profile("cpu-quick"), {"model.name": str(model_dir), **SPEC_ON})
    logged: list[str] = []
    model, _processor, _k = build_trainable_model(profile, "cpu", choose_precision(profile, "cpu"), log=logged.append)
    base = model.get_base_model()
    assert base.config.apply_spec_augment is False
    assert any("apply_spec_augment" in line for line in logged)


# -- in a training job ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("augment")
    model = build_tiny_whisper(root / "model", encoder_layers=2)
    return model, write_tone_dataset(root / "data", n=8)


def make_profile(assets, **overrides):
    # 1 s clips: time spans of up to 30 frames
    return tiny_job_profile(*assets, **{**SHORT_RUN, "training.spec_augment_time_width": 0.3, **SPEC_ON,
                                        **overrides})


def test_only_training_batches_are_masked(assets, tmp_path):
    from transformers import TrainerCallback

    from whisper_tui.training.model_setup import choose_precision

    profile = make_profile(assets)
    setup, model, processor, train_ds, eval_ds, cached, _logged = prepared_datasets(profile, tmp_path / "run")
    assert isinstance(train_ds.dataset, SpecAugmentDataset) and cached is None  # inside SkipBadClips
    assert not isinstance(eval_ds.dataset, SpecAugmentDataset)
    trainer = setup.trainer(model, processor, train_ds, eval_ds, 1e-3, choose_precision(profile, "cpu"), "cpu", None,
                            TrainerCallback())

    plain = train_ds.base
    by_labels = {tuple(label[1:]): i for i, label in enumerate(plain.labels)}  # the collator drops <|sot|>
    n = speech_frames(16000, 160, 3000)  # 1 s tone clips
    seen = 0
    for batch in trainer.get_train_dataloader():
        for row, labels in zip(batch["input_features"].numpy(), batch["labels"].tolist()):
            i = by_labels[tuple(t for t in labels if t != -100)]
            changed = row != plain[i]["input_features"]
            assert changed[:, :n].any() and not changed[:, n:].any()
            seen += 1
    assert seen == len(plain)
    eval_rows = np.concatenate([b["input_features"].numpy() for b in trainer.get_eval_dataloader()])
    assert (eval_rows == np.stack([eval_ds[i]["input_features"] for i in range(len(eval_ds))])).all()


def losses(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r["loss"] for r in map(json.loads, lines) if r["type"] == "step"]


def test_training_with_spec_augment_logs_why_the_cache_is_off_and_resumes_with_the_same_masks(
        assets, tmp_path, monkeypatch):
    import hashlib

    masks: set = set()  # (clip index, digest of its masked features) drawn by the current run(s)
    draw = SpecAugment.__call__

    def recording(self, features, n_speech, *, epoch, index):
        out = draw(self, features, n_speech, epoch=epoch, index=index)
        masks.add((index, hashlib.blake2b(out.tobytes(), digest_size=8).hexdigest()))
        return out

    monkeypatch.setattr(SpecAugment, "__call__", recording)
    profile = make_profile(assets, **{"training.num_train_epochs": 3, "training.eval_strategy": "no"})
    seen: list = []
    result = TrainingJob(profile, tmp_path / "straight", evaluate_base=False, listeners=[seen.append]).run()
    assert isinstance(result, ev.RunFinished), result
    log = (tmp_path / "straight" / "train.log").read_text()
    assert f"encoder cache off: {CACHE_OFF_REASON}" in log
    assert "SpecAugment on the training clips: 2 frequency masks of up to 27 mel bins" in log
    assert any("encoder cache off: SpecAugment" in e.message for e in seen if isinstance(e, ev.LogEvent))

    straight_masks = set(masks)
    assert len(straight_masks) == 3 * 6  # 6 training clips, other masks every epoch
    masks.clear()
    job = TrainingJob(profile, tmp_path / "interrupted", evaluate_base=False)
    job.add_listener(lambda e: job.cancel() if isinstance(e, ev.StepEvent) and e.step == 4 else None)
    assert isinstance(job.run(), ev.RunCancelled)  # 3 steps an epoch: step 4 is inside the second epoch
    final = TrainingJob(profile, resume_from=tmp_path / "interrupted", evaluate_base=False).run()
    assert isinstance(final, ev.RunFinished), final
    straight, resumed = losses(tmp_path / "straight"), losses(tmp_path / "interrupted")
    assert len(straight) == len(resumed) == 9
    assert masks == straight_masks  # the resumed epoch drew the masks of the uninterrupted run's epoch
    assert resumed == pytest.approx(straight, rel=1e-4, abs=1e-5)


def test_profile_form_labels_the_mask_settings_and_greys_them_out_while_off():
    from whisper_tui.config.profile_schema import all_keys

    from screens.widgets.profile_form import disabled_keys

    keys = {f"training.spec_augment_{name}" for name in ("freq_masks", "freq_width", "time_masks", "time_width")}
    assert all(all_keys()[k].rule.label and len(all_keys()[k].label) < 20 for k in keys)  # the label column is 20 wide
    off = load_profile("cpu-quick")
    assert keys <= disabled_keys(off)
    assert not keys & disabled_keys(apply_overrides(off, SPEC_ON))
