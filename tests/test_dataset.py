"""Good datasets: reading, validation report, splits of usable clips, explicit test folders."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from helpers_audio import make_dataset, write_metadata, write_wav

from whisper_tui.data.dataset import duration_histogram, load_dataset_split, validate_dataset
from whisper_tui.data.metadata import read_metadata
from whisper_tui.errors import DatasetError


def test_read_metadata_gives_clips_with_rows(tmp_path):
    folder = make_dataset(tmp_path / "ds", n=3)
    clips, problems = read_metadata(folder)
    assert problems == []
    assert [(c.file_name, c.transcription, c.row) for c in clips] == [
        ("a0.wav", "clip number 0", 2), ("a1.wav", "clip number 1", 3), ("a2.wav", "clip number 2", 4)]
    assert all(c.path == (folder / c.file_name).resolve() for c in clips)


def test_validate_clean_dataset(tmp_path):
    folder = make_dataset(tmp_path / "ds", n=4, seconds=1.5)
    report = validate_dataset(folder)
    assert report.problems == [] and report.counts == {}
    assert len(report.usable_clips) == 4 and not report.metadata_generated
    assert report.total_seconds == pytest.approx(6.0)
    assert report.total_hours == pytest.approx(6.0 / 3600)
    info = report.clip_infos["a2.wav"]
    assert (info.sample_rate, info.channels, info.duration_s) == (16000, 1, 1.5)
    text = report.format_text()
    assert "4 listed, 4 usable" in text and "No problems found." in text and str(folder) in text


def test_validating_100_clips_is_quick_and_torch_free(tmp_path):
    folder = tmp_path / "ds"
    rows = []
    for i in range(100):
        write_wav(folder / f"c{i}.wav", seconds=3.0, sr=44100 if i % 10 == 0 else 16000)
        rows.append((f"c{i}.wav", f"sentence {i}"))
    write_metadata(folder, rows)
    start = time.perf_counter()
    report = validate_dataset(folder)
    elapsed = time.perf_counter() - start
    assert report.counts == {"odd_sample_rate": 10} and len(report.usable_clips) == 100
    assert elapsed < 4.0, f"validation of 100 clips took {elapsed:.2f}s (target ~2 s)"
    code = ("import sys; from whisper_tui.data.dataset import validate_dataset; "
            f"validate_dataset({str(folder)!r}); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # the dataset browser stays fast: no resampling, no torch


def test_load_dataset_split_uses_only_usable_clips(tmp_path):
    folder = make_dataset(tmp_path / "ds", n=10)
    write_metadata(folder, [(f"a{i}.wav", f"clip {i}") for i in range(10)] + [("gone.wav", "missing")])
    train, test, report = load_dataset_split(folder, test_split=0.3, seed=1)
    assert len(train) == 7 and len(test) == 3
    assert "gone.wav" not in {c.file_name for c in train + test}
    assert report.counts == {"missing": 1}


def test_explicit_test_folder(tmp_path):
    train_dir = make_dataset(tmp_path / "train", n=4)
    test_dir = make_dataset(tmp_path / "test", n=2)
    train, test, report = load_dataset_split(train_dir, test_split=0.5, test_dir=test_dir)
    assert len(train) == 4 and len(test) == 2  # test_split is ignored when a test folder is given
    assert all(c.path.parent == test_dir.resolve() for c in test)
    assert report.test_report is not None and report.test_report.folder == test_dir
    with pytest.raises(DatasetError, match="test folder is the training folder"):
        load_dataset_split(train_dir, test_dir=train_dir)


def test_duration_histogram():
    bins = duration_histogram([0.5, 1.2, 1.9, 3.0, 45.0], bin_seconds=1.0, max_seconds=4.0)
    assert bins == [(0.0, 1.0, 1), (1.0, 2.0, 2), (2.0, 3.0, 0), (3.0, 4.0, 2)]  # 45 s lands in the last bin
    assert duration_histogram([]) == []
    assert sum(c for *_, c in duration_histogram([0.1, 2.5, 7.0], 2.0)) == 3
