"""Shared fixtures.

- Every test gets its own config and data folders (WHISPER_TUI_CONFIG_DIR / _DATA_DIR), so
  nothing touches the user's profiles or runs.
- The cache folder (converted models) is shared by the whole session, so the bundled tiny.en is
  converted at most once per run; WHISPER_TUI_TEST_REAL_CACHE=1 reuses the real user cache
  across runs instead.
- `tiny_whisper_dir`: a randomly initialised Whisper (d_model 32, one layer each side) with the
  real tiny.en tokenizer and feature extractor, saved like a fine-tuned model folder;
  `tiny_ct2_dir`: the same model exported by ctranslate2's converter.
- `shared_audio_dir` / `jfk_path`: ../shared/audio beside the repo (skipped when absent).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# OpenMP threads that spin while waiting made torch 8x slower here when other processes shared the
# 2 CPUs (tiny.en on jfk.flac: 16 s instead of 2 s at load 8); passive waiting avoids that.
# Must be set before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

SHARED_AUDIO = Path(__file__).resolve().parents[2] / "shared" / "audio"
MAX_WORKERS = 4  # each worker holds torch, transformers and a Whisper or two (~1-2 GiB): more than 4 gains little


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto` (pyproject addopts): one worker per CPU the process may use, at most MAX_WORKERS.

    The suite spent ~18 of its 19 minutes on one core of two (user time = wall time): a second worker halves
    most of it. Session fixtures (the converted tiny.en, the keep set's sentences) are built once per worker."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(MAX_WORKERS, usable))
JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


@pytest.fixture(scope="session")
def session_cache_dir(tmp_path_factory) -> Path:
    if os.environ.get("WHISPER_TUI_TEST_REAL_CACHE") == "1":
        from platformdirs import user_cache_dir

        return Path(user_cache_dir("whisper-tui"))
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch, session_cache_dir):
    monkeypatch.setenv("WHISPER_TUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("WHISPER_TUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WHISPER_TUI_CACHE_DIR", str(session_cache_dir))


@pytest.fixture(scope="session")
def session_keep_set(session_cache_dir) -> Path:
    """The keep set's everyday sentences (keep_set.py), synthesised once per session into the session cache."""
    from whisper_tui.data import keep_set

    previous = os.environ.get("WHISPER_TUI_CACHE_DIR")
    os.environ["WHISPER_TUI_CACHE_DIR"] = str(session_cache_dir)
    try:
        keep_set.everyday_clips()
        return keep_set.everyday_dir()
    finally:
        if previous is None:
            os.environ.pop("WHISPER_TUI_CACHE_DIR", None)
        else:
            os.environ["WHISPER_TUI_CACHE_DIR"] = previous


@pytest.fixture
def own_cache(tmp_path, monkeypatch, session_keep_set) -> Path:
    """A fresh cache for one test (tmp_path/cache), so an encoder cache is really built, not reused.
    The keep set's synthesised sentences are copied in (training evaluates them; no need to speak them again)."""
    import shutil

    monkeypatch.setenv("WHISPER_TUI_CACHE_DIR", str(tmp_path / "cache"))
    shutil.copytree(session_keep_set, tmp_path / "cache" / session_keep_set.name)
    return tmp_path / "cache"


def build_tiny_whisper(out_dir: Path, seed: int = 0, **config_overrides) -> Path:
    """Save a tiny random Whisper (d_model 32, 1 encoder layer unless overridden) + the real tiny.en processor
    into `out_dir`; returns it."""
    from whisper_tui.models.random_whisper import build_random_whisper

    return build_random_whisper(out_dir, seed, **{"d_model": 32, "encoder_layers": 1, "ffn_dim": 64,
                                                  **config_overrides})


@pytest.fixture(scope="session")
def tiny_whisper_dir(tmp_path_factory) -> Path:
    return build_tiny_whisper(tmp_path_factory.mktemp("tiny-whisper"))


def export_ct2(hf_dir: Path, out_dir: Path, quantization: str | None = None) -> Path:
    """Convert a saved HF Whisper to CTranslate2 with ctranslate2's own converter (as faster-whisper does)."""
    import ctranslate2

    converter = ctranslate2.converters.TransformersConverter(str(hf_dir), copy_files=["tokenizer.json"])
    converter.convert(str(out_dir), quantization=quantization)
    return out_dir


@pytest.fixture(scope="session")
def tiny_ct2_dir(tiny_whisper_dir, tmp_path_factory) -> Path:
    """`tiny_whisper_dir` exported to CTranslate2 (float32)."""
    return export_ct2(tiny_whisper_dir, tmp_path_factory.mktemp("tiny-ct2") / "model")


@pytest.fixture(scope="session")
def shared_audio_dir() -> Path:
    if not SHARED_AUDIO.is_dir():
        pytest.skip(f"{SHARED_AUDIO} is absent (the shared test audio sits beside the repo)")
    return SHARED_AUDIO


@pytest.fixture(scope="session")
def jfk_path(shared_audio_dir) -> Path:
    path = shared_audio_dir / "jfk.flac"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


def dead_pid() -> int:
    """The pid of a process that has ended (for leftovers whose owner is gone)."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live_pid():
    """The pid of a process that stays alive for the test (for files a running process owns)."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()

