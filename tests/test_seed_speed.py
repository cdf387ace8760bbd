"""The seed recipe's speed (issue 23, item 4): a frozen-encoder run encodes each clip only at the windows its
batches can run at, and trains each batch at the shortest window that holds it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import build_tiny_whisper
from helpers_audio import write_metadata, write_tone_dataset
from helpers_jobs import tiny_job_profile
from whisper_tui.training import events as ev
from whisper_tui.training.job import TrainingJob
from whisper_tui.training.window_mix import EVAL, TRAIN, WindowMix

SR = 16000

pytestmark = pytest.mark.usefixtures("own_cache")


def test_cached_windows_stop_at_the_window_of_the_longest_clip_unless_a_training_draw_can_go_further():
    seconds = [1.0, 3.0, 12.0]
    drawn = WindowMix((10, 20, 30), seed=1)
    assert drawn.cached_windows(seconds, TRAIN) == [[10, 20, 30], [10, 20, 30], [20, 30]]  # a draw may take 30
    assert drawn.cached_windows(seconds, EVAL) == [[10, 20], [10, 20], [20]]  # a batch runs at most at 20
    assert drawn.cached_windows([1.0, 3.0], EVAL) == [[10], [10]]
    shortest = WindowMix((10, 20, 30), seed=1, shortest_only=True)
    assert shortest.cached_windows(seconds, TRAIN) == [[10, 20], [10, 20], [20]]
    assert shortest.cached_windows([], TRAIN) == []
    # and the batches do run there: the shortest window that holds the batch's longest clip, every time
    for key in range(50):
        assert shortest.choose(3.0, TRAIN, [key]) == 10 and shortest.choose(12.0, TRAIN, [key]) == 20
    assert {drawn.choose(3.0, TRAIN, [key]) for key in range(50)} == {10, 20, 30}


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("seed-speed")
    model = build_tiny_whisper(root / "model", encoder_layers=2)
    data = write_tone_dataset(root / "data", n=8)
    noise = (0.05 * np.random.default_rng(9).standard_normal(int(3.5 * SR))).astype(np.float32)
    sf.write(data / "long.wav", noise, SR)  # held only by the 5 s window (and 30 s)
    rows = [line.split(",", 1) for line in (data / "metadata.csv").read_text().splitlines()[1:]]
    write_metadata(data, [*[(a, b) for a, b in rows], ("long.wav", "alpha bravo")])
    return model, data


def _run(assets, tmp_path, name, **overrides):
    profile = tiny_job_profile(*assets, **{"training.num_train_epochs": 2, "training.per_device_train_batch_size": 2,
                                           "training.generation_max_length": 8, "training.warmup_steps": 0,
                                           "model.windows": [2, 5, 30], **overrides})
    logs: list[str] = []
    job = TrainingJob(profile, tmp_path / name,
                      listeners=[lambda e: logs.append(e.message) if isinstance(e, ev.LogEvent) else None])
    result = job.run()
    assert isinstance(result, ev.RunFinished), result
    return job, "\n".join(logs)


def test_a_frozen_encoder_run_encodes_each_clip_at_the_windows_its_batches_run_at_only(assets, tmp_path):
    job, text = _run(assets, tmp_path, "frozen")
    assert "whole encoder frozen: each training batch runs at the shortest window" in text
    assert "for the 2 s window" in text and "for the 5 s window" in text
    assert "for the 30 s window" not in text  # no clip of this set needs it: the 3.5 s clip fits 5 s
    mix = job.setup.window_mix
    assert mix.shortest_only and mix.counts[30] == 0 and mix.counts[2] > 0, mix.counts
    # each side's clips at their own shortest window up to the one holding that side's longest clip (long.wav)
    expected: dict[int, set] = {2: set(), 5: set()}
    for ds in (job.trainer.train_dataset, job.trainer.eval_dataset):
        names = {Path(c.path).name for c in ds.clips}
        cap = 5 if "long.wav" in names else 2
        for name in names:
            for w in (2, 5):
                if (w == 5 or name != "long.wav") and w <= cap:
                    expected[w].add(name)
    cached = {w: {Path(cid.rsplit(":", 2)[0]).name for cid in c.index}
              for w, c in job.trainer.train_dataset.caches.caches.items()}
    assert cached == expected
    if "long.wav" in {Path(c.path).name for c in job.trainer.train_dataset.clips}:
        assert mix.counts[5] > 0  # its batches ran at 5 s, from the 5 s cache


def test_a_partly_frozen_encoder_still_draws_the_longer_windows(assets, tmp_path):
    """The default profile's kind of run (top encoder layers trained) keeps its draws and caches every window a
    draw can take; only its evaluation clips skip windows no evaluation batch runs at."""
    job, text = _run(assets, tmp_path, "partial", **{"finetuning.freeze_encoder": False,
                                                     "finetuning.frozen_encoder_layers": 1})
    assert "whole encoder frozen" not in text
    assert "for the 30 s window" in text
    assert not job.setup.window_mix.shortest_only
    assert sum(1 for n in job.setup.window_mix.counts.values() if n) >= 2
