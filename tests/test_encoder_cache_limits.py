"""The encoder cache on disk (issue 11): its size is known before it is built, a build that cannot fit is
refused at once with a message that says what to do (simulated free space), least-recently-used caches are
evicted to stay within finetuning.encoder_cache_max_gb, caches in use are never evicted, and the leftovers
of killed builds are removed by the next build."""

from __future__ import annotations

import os
import time
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import dead_pid
from whisper_tui.storage import cache_admin
from whisper_tui.errors import DiskFull, ProfileError
from whisper_tui.training.estimate import NPY_HEADER_BYTES, encoder_cache_file_bytes, estimate_encoder_cache
from whisper_tui.config.profile import apply_overrides, load_profile
from whisper_tui.training.encoder_cache import EncoderCache

FRAMES, D_MODEL = 50, 16  # a tiny encoder: 50 positions (100 mel frames) x 16 hidden = 1600 bytes per clip
PER_CLIP = FRAMES * D_MODEL * 2
Usage = namedtuple("Usage", "total used free")


@pytest.fixture(scope="module")
def model():
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(0)
    config = WhisperConfig(vocab_size=100, num_mel_bins=80, d_model=D_MODEL, encoder_layers=1, decoder_layers=1,
                           encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                           decoder_ffn_dim=32, max_source_positions=FRAMES, max_target_positions=32,
                           pad_token_id=0, bos_token_id=1, eos_token_id=1, decoder_start_token_id=2)
    return WhisperForConditionalGeneration(config).eval()


class Clips:
    """What EncoderCache.build reads: `clips` (files it stats), a feature extractor's settings, `features(r)`."""

    def __init__(self, folder: Path, n: int, tag: str = ""):
        folder.mkdir(parents=True, exist_ok=True)
        self.clips = []
        for i in range(n):
            path = folder / f"{tag}clip{i}.wav"
            path.write_bytes(b"x" * (i + 1))
            self.clips.append(SimpleNamespace(path=path))
        self.processor = SimpleNamespace(feature_extractor=SimpleNamespace(
            sampling_rate=16000, feature_size=80, n_fft=400, hop_length=160, chunk_length=1))
        self.encoded = 0

    def features(self, r: int) -> np.ndarray:
        self.encoded += 1
        return np.random.default_rng(r).standard_normal((80, 2 * FRAMES)).astype(np.float32)


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("WHISPER_TUI_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "encoder-cache"
    folder.mkdir(parents=True)
    return folder


def fake_cache(root: Path, key: str, clips: int, age_s: float = 0.0, kind: str = "encoder") -> Path:
    """A finished cache of `clips` clips, last used `age_s` ago."""
    path = root / f"{key}.npy"
    path.write_bytes(b"\0" * encoder_cache_file_bytes(clips, FRAMES, D_MODEL))
    (root / f"{key}.json").write_text(f'{{"k": 1, "clips": {clips}, "kind": "{kind}"}}')
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def free_space(monkeypatch, free: int) -> None:
    monkeypatch.setattr(cache_admin.shutil, "disk_usage", lambda _path: Usage(10**12, 10**12 - free, free))


# -- size -----------------------------------------------------------------------------------------------------

def test_the_size_is_known_before_the_build_and_is_what_it_writes(model, root, tmp_path):
    data = Clips(tmp_path / "data", 5)
    cache = EncoderCache.build(model, data, 1, root=root)
    assert cache.path.stat().st_size == encoder_cache_file_bytes(5, FRAMES, D_MODEL) == 5 * PER_CLIP + NPY_HEADER_BYTES
    meta = cache_admin.encoder_entries(root)[0]
    assert (meta.kind, meta.clips, meta.in_use) == ("encoder", 5, True)
    assert str(tmp_path / "data") in meta.belongs_to


# -- free disk ------------------------------------------------------------------------------------------------

def test_a_build_that_cannot_fit_on_the_disk_is_refused_before_encoding_anything(model, root, tmp_path, monkeypatch):
    data = Clips(tmp_path / "data", 8)
    free_space(monkeypatch, cache_admin.DISK_RESERVE_BYTES + 3 * PER_CLIP)  # room for 3 of the 8 clips
    with pytest.raises(DiskFull) as err:
        EncoderCache.build(model, data, 1, root=root)
    text = str(err.value)
    assert str(root) in text and "needs 0.0 GB" in text and "GB free" in text
    for advice in ("free some space", "training.augment_views", "finetuning.encoder_cache off",
                   "WHISPER_TUI_CACHE_DIR"):
        assert advice in err.value.hint
    assert data.encoded == 0, "nothing may be encoded for a cache that cannot be written"
    assert not [p for p in root.iterdir() if not p.name.endswith(".lock")]
    assert not list(root.glob(".*.lock")), "a refused build holds no lock"

    free_space(monkeypatch, cache_admin.DISK_RESERVE_BYTES + 8 * PER_CLIP + NPY_HEADER_BYTES)  # just enough
    assert EncoderCache.build(model, data, 1, root=root).reused is False


def test_older_caches_are_removed_to_make_room_on_the_disk_when_that_is_enough(model, root, tmp_path, monkeypatch):
    old = fake_cache(root, "a" * 24, clips=10, age_s=3600)
    data = Clips(tmp_path / "data", 8)
    free_space(monkeypatch, cache_admin.DISK_RESERVE_BYTES + 3 * PER_CLIP)  # only with the old cache gone
    cache = EncoderCache.build(model, data, 1, root=root, max_gb=0)
    assert not old.exists() and [e.name for e in cache.evicted] == ["a" * 24]


def test_the_views_reserve_makes_the_first_build_refuse_when_both_caches_cannot_fit(model, root, tmp_path, monkeypatch):
    data = Clips(tmp_path / "data", 4)
    free_space(monkeypatch, cache_admin.DISK_RESERVE_BYTES + 6 * PER_CLIP)  # 4 clips fit, 4 + 8 views do not
    with pytest.raises(DiskFull, match="with 0.0 GB for the augmentation views"):
        EncoderCache.build(model, data, 1, root=root, reserve_clips=8)
    assert data.encoded == 0


# -- the size limit -------------------------------------------------------------------------------------------

def limit_gb(clips: float) -> float:
    return clips * PER_CLIP / cache_admin.GB


def test_least_recently_used_caches_go_first_until_the_limit_holds(model, root, tmp_path):
    oldest = fake_cache(root, "o" * 24, clips=4, age_s=300)
    older = fake_cache(root, "p" * 24, clips=4, age_s=200)
    recent = fake_cache(root, "r" * 24, clips=4, age_s=100)
    cache = EncoderCache.build(model, Clips(tmp_path / "data", 4), 1, root=root, max_gb=limit_gb(9))
    assert not oldest.exists() and not older.exists() and recent.exists() and cache.path.exists()
    assert [e.name for e in cache.evicted] == ["o" * 24, "p" * 24]


def test_a_reused_cache_becomes_the_most_recent(model, root, tmp_path):
    data = Clips(tmp_path / "data", 4)
    first = EncoderCache.build(model, data, 1, root=root)
    first.close()
    os.utime(first.path, (time.time() - 900, time.time() - 900))
    other = fake_cache(root, "q" * 24, clips=4, age_s=300)
    again = EncoderCache.build(model, data, 1, root=root)  # reuse touches the cache: it is the newest now
    again.close()
    assert again.reused and time.time() - again.path.stat().st_mtime < 60
    EncoderCache.build(model, Clips(tmp_path / "other", 4, tag="b"), 1, root=root, max_gb=limit_gb(9))
    assert again.path.exists() and not other.exists()


def test_a_cache_another_process_holds_is_never_evicted(model, root, tmp_path, live_pid):
    held = fake_cache(root, "h" * 24, clips=4, age_s=9000)  # the oldest, but a live process uses it
    (root / f".{'h' * 24}.{live_pid}.0.lock").touch()
    free = fake_cache(root, "f" * 24, clips=4, age_s=100)
    cache = EncoderCache.build(model, Clips(tmp_path / "data", 4), 1, root=root, max_gb=limit_gb(9))
    assert held.exists() and not free.exists() and cache.path.exists()


def test_the_cache_in_use_by_this_process_is_kept_while_it_is_open(model, root, tmp_path):
    data = Clips(tmp_path / "data", 4)
    first = EncoderCache.build(model, data, 1, root=root)
    os.utime(first.path, (time.time() - 9000, time.time() - 9000))  # the oldest, but open here
    newer = fake_cache(root, "n" * 24, clips=4, age_s=100)
    views = Clips(tmp_path / "views", 4, tag="v")
    second = EncoderCache.build(model, views, 1, root=root, max_gb=limit_gb(9))
    assert first.path.exists() and not newer.exists() and second.path.exists()
    assert first.get(data.clips[0]).shape == (FRAMES, D_MODEL)
    first.close()
    second.close()
    assert not list(root.glob(".*.lock"))
    again = EncoderCache.build(model, views, 1, root=root, max_gb=limit_gb(5))  # a lower limit on reuse
    assert again.reused and not first.path.exists(), "once closed, the older cache is evicted"


def test_caches_in_use_count_against_the_limit(model, root, tmp_path):
    first = EncoderCache.build(model, Clips(tmp_path / "data", 4), 1, root=root)
    with pytest.raises(ProfileError, match="beside the 0.0 GB of caches in use"):
        EncoderCache.build(model, Clips(tmp_path / "views", 4, tag="v"), 1, root=root, max_gb=limit_gb(6))
    assert first.path.exists()


def test_a_cache_bigger_than_the_limit_is_refused_with_the_setting_named(model, root, tmp_path):
    data = Clips(tmp_path / "data", 8)
    with pytest.raises(ProfileError) as err:
        EncoderCache.build(model, data, 1, root=root, max_gb=limit_gb(4))
    assert err.value.where == "finetuning.encoder_cache_max_gb"
    assert "finetuning.encoder_cache_max_gb" in str(err.value) and "0 = no limit" in err.value.hint
    assert data.encoded == 0
    assert EncoderCache.build(model, data, 1, root=root, max_gb=0).path.exists()  # 0 = no limit


# -- leftovers of killed builds -------------------------------------------------------------------------------

def test_leftovers_of_killed_builds_are_removed_by_the_next_build(model, root, tmp_path, live_pid):
    dead = dead_pid()
    leftover = root / f".{'d' * 24}.{dead}.npy.tmp"
    leftover.write_bytes(b"\0" * 5000)
    stale_lock = root / f".{'e' * 24}.{dead}.3.lock"
    stale_lock.touch()
    building = root / f".{'l' * 24}.{live_pid}.npy.tmp"  # another process's build in progress
    building.write_bytes(b"\0" * 10)
    kinds = {e.name: e.kind for e in cache_admin.encoder_entries(root)}
    assert kinds == {leftover.name: "leftover", building.name: "building"}
    EncoderCache.build(model, Clips(tmp_path / "data", 2), 1, root=root)
    assert not leftover.exists() and not stale_lock.exists()
    assert building.exists(), "a live process's build is never touched"


# -- the estimate shown in Train setup ------------------------------------------------------------------------

def test_the_profile_estimate_counts_clips_views_and_says_whether_it_fits(tmp_path, monkeypatch, root):
    data = tmp_path / "set"
    data.mkdir()
    (data / "metadata.csv").write_text("file_name,transcription\n" + "".join(f"c{i}.wav,word\n" for i in range(100)))
    profile = apply_overrides(load_profile("cpu-quick"), {
        "data.train_dir": str(data), "data.test_split": 0.2, "data.keep_set": False, "training.augment_views": 2,
        "model.window_s": 0, "model.windows": []})
    # several windows: one cache per window, a short clip in each; views then go uncached (no cache at all)
    windowed = apply_overrides(profile, {"model.windows": [10, 20, 30], "training.augment_views": 0})
    assert estimate_encoder_cache(windowed).bytes_per_clip == (500 + 1000 + 1500) * 384 * 2
    assert estimate_encoder_cache(apply_overrides(windowed, {"training.augment_views": 2})) is None
    est = estimate_encoder_cache(profile)
    per_clip = 1500 * 384 * 2
    assert (est.clips, est.view_clips, est.bytes_per_clip) == (100, 160, per_clip)
    assert est.total_bytes == 260 * per_clip + 2 * NPY_HEADER_BYTES
    assert est.summary().startswith("disk cache ~") and "(100 clips + 160 views)" in est.summary()
    assert est.verdict() == (True, "fits on disk (limit 20 GB)")

    free_space(monkeypatch, 1024**2)
    est = estimate_encoder_cache(profile)
    ok, line = est.verdict()
    assert not ok and line.startswith("won't fit: 0.0 GB free in ") and str(root) in line
    monkeypatch.setattr(cache_admin, "DISK_RESERVE_BYTES", 0)
    assert not estimate_encoder_cache(profile, clips=5, train_clips=0).verdict()[0]  # 5.8 MB, 1 MiB free
    fake_cache(root, "z" * 24, clips=3000, age_s=60)  # 4.8 MB in an older cache that would be removed first
    assert estimate_encoder_cache(profile, clips=5, train_clips=0).verdict()[0]

    small = apply_overrides(profile, {"finetuning.encoder_cache_max_gb": 0.1})
    assert estimate_encoder_cache(small).verdict() == (
        False, "over the 0.1 GB cache limit (finetuning.encoder_cache_max_gb)")
    assert estimate_encoder_cache(apply_overrides(profile, {"finetuning.encoder_cache": False})) is None
    assert estimate_encoder_cache(apply_overrides(profile, {"training.spec_augment": True})) is None


# -- a training run fails early -------------------------------------------------------------------------------

def test_a_training_run_whose_cache_cannot_fit_fails_before_encoding(tmp_path, monkeypatch):
    from conftest import build_tiny_whisper
    from helpers_audio import write_tone_dataset
    from helpers_jobs import SHORT_RUN, tiny_job_profile
    from whisper_tui.training import events as ev
    from whisper_tui.training.job import TrainingJob

    monkeypatch.setenv("WHISPER_TUI_CACHE_DIR", str(tmp_path / "cache"))
    profile = tiny_job_profile(build_tiny_whisper(tmp_path / "model"), write_tone_dataset(tmp_path / "data", n=8),
                               **SHORT_RUN)
    free_space(monkeypatch, 1000)
    logged = []
    job = TrainingJob(profile, tmp_path / "run", evaluate_base=False)
    job.add_listener(lambda e: logged.append(e.message) if isinstance(e, ev.LogEvent) else None)
    result = job.run()
    assert isinstance(result, ev.RunFailed), result
    assert "encoder cache of 8 clips needs" in result.reason and str(tmp_path / "cache") in result.reason
    assert result.error_type == "DiskFull"
    assert "WHISPER_TUI_CACHE_DIR" in result.hint
    assert not any("encoder cache built" in m for m in logged)
    assert not list((tmp_path / "cache" / "encoder-cache").glob("*.npy"))
