"""A clip that fails to decode mid-run is skipped, counted and named; too many stop the run (issue 11).

Validation reads every file before training, so these tests break a file after it: a disk or a
network share can fail under a long run, and one bad file must not cost hours of training.
"""

from __future__ import annotations

import json

import pytest

from conftest import build_tiny_whisper
from helpers_audio import write_tone_dataset
from helpers_jobs import SHORT_RUN, tiny_job_profile
from whisper_tui.training import events as ev
from whisper_tui.training.job import TrainingJob

pytestmark = pytest.mark.usefixtures("own_cache")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return build_tiny_whisper(tmp_path_factory.mktemp("badclips") / "model")


def data(tmp_path):
    return write_tone_dataset(tmp_path / "train", n=8), write_tone_dataset(tmp_path / "test", n=2, seed=3)


def break_after_validation(job, path, when):
    def listener(event):
        if when(event) and path.exists():
            path.write_bytes(b"RIFF\x00\x00garbage, not audio any more")
    job.add_listener(listener)


def test_a_clip_that_breaks_mid_training_is_skipped_and_named(model, tmp_path):
    train, test = data(tmp_path)
    profile = tiny_job_profile(model, train, **{**SHORT_RUN, "data.test_dir": str(test), "data.max_bad_fraction": 0.2,
                                                "finetuning.encoder_cache": False})
    seen = []
    job = TrainingJob(profile, tmp_path / "run", listeners=[seen.append], evaluate_base=False)
    break_after_validation(job, train / "clip03.wav", lambda e: isinstance(e, ev.RunStarted))
    result = job.run()
    assert isinstance(result, ev.RunFinished), result
    warnings = [e.message for e in seen if isinstance(e, ev.LogEvent) and e.level == "warning"]
    assert any(w.startswith("skipped clip03.wav: it could not be decoded") for w in warnings), warnings
    assert any("1 clip(s) could not be decoded and were skipped: clip03.wav" in w for w in warnings), warnings
    assert result.metrics["bad_clips"] == ["clip03.wav"]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["bad_clips"] == ["clip03.wav"]


def test_a_clip_that_breaks_before_the_encoder_cache_is_skipped_and_the_cache_not_reused(model, tmp_path):
    from whisper_tui.config.locations import cache_dir

    train, test = data(tmp_path)
    profile = tiny_job_profile(model, train, **{**SHORT_RUN, "data.test_dir": str(test), "data.max_bad_fraction": 0.2,
                                                "training.num_train_epochs": 1})
    job = TrainingJob(profile, tmp_path / "run", evaluate_base=False)
    break_after_validation(job, train / "clip05.wav",
                           lambda e: isinstance(e, ev.LogEvent) and e.message.startswith("caching"))
    result = job.run()
    assert isinstance(result, ev.RunFinished), result
    assert result.metrics["bad_clips"] == ["clip05.wav"]
    # its cache row holds silence: a later run must decode the clips again, not reuse it
    assert not list((cache_dir() / "encoder-cache").glob("*.npy"))


def test_more_bad_clips_than_data_max_bad_fraction_stop_the_run_with_the_key_named(model, tmp_path):
    train, test = data(tmp_path)
    profile = tiny_job_profile(model, train, **{**SHORT_RUN, "data.test_dir": str(test),
                                                "finetuning.encoder_cache": False})
    assert profile.data.max_bad_fraction == 0.05  # 1 of 10 clips is over it
    job = TrainingJob(profile, tmp_path / "run", evaluate_base=False)
    break_after_validation(job, train / "clip02.wav", lambda e: isinstance(e, ev.RunStarted))
    result = job.run()
    assert isinstance(result, ev.RunFailed), result
    assert "could not be decoded" in result.reason and "clip02.wav" in result.reason
    assert "data.max_bad_fraction" in result.hint


def test_the_training_set_does_not_keep_audio_in_memory(model, tmp_path):
    from whisper_tui.models.convert import build_processor, embedded_source_dir
    from whisper_tui.data.metadata import read_metadata
    from whisper_tui.training.speech_dataset import FeatureDataset

    train, _test = data(tmp_path)
    clips, _ = read_metadata(train)
    processor = build_processor(embedded_source_dir(), n_mels=80, vocab_size=51864)
    ds = FeatureDataset(clips, processor, [1], 448)
    for i in range(len(ds)):
        ds[i]
    held = [v for v in vars(ds).values() if isinstance(v, dict) and v]
    assert not held, "a dataset must read audio per access, not keep every decoded clip"
    (train / "clip01.wav").write_bytes(b"not audio")
    from whisper_tui.errors import AudioError

    with pytest.raises(AudioError):  # without a BadClips tracker a failure is the caller's
        ds[1]
