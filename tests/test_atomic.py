"""Folder swaps that never lose the folder, leftovers cleaned, foreign folders never replaced (issue 13)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from whisper_tui.storage import atomic
from whisper_tui.storage.atomic import OWNER_MARK, atomic_directory, atomic_write_text, recover_directory
from whisper_tui.errors import NotOurFolder


def write_version(target, version: int, *, via_fallback=False, monkeypatch=None):
    if via_fallback:
        monkeypatch.setattr(atomic, "exchange_paths", lambda a, b: False)
    with atomic_directory(target) as tmp:
        (tmp / "config.json").write_text(json.dumps({"v": version}))


def test_the_swap_exchanges_in_one_step_so_the_folder_is_never_missing(tmp_path, monkeypatch):
    target = tmp_path / "best"
    write_version(target, 1)
    seen = []
    original = atomic.exchange_paths

    def watched(a, b):
        done = original(a, b)
        seen.append(done)
        return done

    monkeypatch.setattr(atomic, "exchange_paths", watched)
    renames = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (renames.append((a, b)), real_replace(a, b)))
    write_version(target, 2)
    assert seen == [True], "renameat2(RENAME_EXCHANGE) should be used on Linux"
    assert not renames, "with an exchange there is no moment without the folder (no move-aside rename)"
    assert json.loads((target / "config.json").read_text()) == {"v": 2}
    assert (target / OWNER_MARK).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]


def test_a_kill_between_the_fallback_renames_is_recovered_by_readers_and_writers(tmp_path):
    target = tmp_path / "best"
    write_version(target, 1)
    os.replace(target, atomic.old_copy(target))  # what a kill after the first of the two renames leaves
    assert not target.exists()
    assert recover_directory(target)
    assert json.loads((target / "config.json").read_text()) == {"v": 1}

    os.replace(target, atomic.old_copy(target))
    write_version(target, 2)  # a writer puts it back first, then replaces it as usual
    assert json.loads((target / "config.json").read_text()) == {"v": 2}
    assert not atomic.old_copy(target).exists()


def test_model_readers_recover_a_folder_left_as_old(tiny_whisper_dir, tmp_path):
    import shutil

    from whisper_tui.models.loading import resolve_model

    run = tmp_path / "run"
    shutil.copytree(tiny_whisper_dir, run / ".final.old")
    ref = resolve_model(str(run))  # a run folder resolves to final/ (or best/)
    assert ref.path == (run / "final").resolve()
    shutil.copytree(tiny_whisper_dir, tmp_path / ".model.old")
    assert resolve_model(str(tmp_path / "model")).path == (tmp_path / "model").resolve()


def test_the_fallback_swap_still_replaces_the_folder(tmp_path, monkeypatch):
    target = tmp_path / "best"
    write_version(target, 1)
    write_version(target, 2, via_fallback=True, monkeypatch=monkeypatch)
    assert json.loads((target / "config.json").read_text()) == {"v": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]


def test_leftovers_of_killed_writers_are_cleaned_but_not_a_live_writers(tmp_path):
    target = tmp_path / "best"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    live_pid = os.getppid()
    for pid in (dead_pid, live_pid):
        (tmp_path / f".best.{pid}.abc123.tmp").mkdir()
        (tmp_path / f".best.{pid}.abc123.tmp" / "model.safetensors").write_bytes(b"x" * 100)
        (tmp_path / f".run.json.{pid}.xyz.tmp").write_text("{")
    write_version(target, 1)
    atomic_write_text(tmp_path / "run.json", "{}")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert f".best.{dead_pid}.abc123.tmp" not in names and f".run.json.{dead_pid}.xyz.tmp" not in names
    assert f".best.{live_pid}.abc123.tmp" in names and f".run.json.{live_pid}.xyz.tmp" in names


def test_a_folder_whisper_tui_did_not_write_is_never_replaced(tmp_path):
    target = tmp_path / "final"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(NotOurFolder, match="did not write") as err:
        write_version(target, 1)
    assert err.value.where == str(target) and (target / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final"]  # nothing built, nothing left
    empty = tmp_path / "empty"
    empty.mkdir()
    write_version(empty, 1)  # an empty folder is fine
    older = tmp_path / "older"
    older.mkdir()
    (older / "whisper_tui.json").write_text("{}")  # written by a version before the marker
    write_version(older, 1)
    assert (older / OWNER_MARK).exists()


def test_files_get_the_umask_permissions_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "metadata.csv", "file_name,text\n")
        with atomic_directory(tmp_path / "folder") as tmp:
            (tmp / "x").write_text("1")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "metadata.csv").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o755


def test_train_into_a_folder_whose_final_is_not_ours_refuses_before_training(tiny_whisper_dir, tmp_path):
    from helpers_audio import write_tone_dataset
    from helpers_jobs import SHORT_RUN, tiny_job_profile
    from whisper_tui.training import events as ev
    from whisper_tui.training.job import TrainingJob

    out = tmp_path / "out"
    (out / "final").mkdir(parents=True)
    (out / "final" / "weights.bin").write_bytes(b"the user's own model")
    profile = tiny_job_profile(tiny_whisper_dir, write_tone_dataset(tmp_path / "data", n=4), **SHORT_RUN)
    seen = []
    result = TrainingJob(profile, out, listeners=[seen.append]).run()
    assert isinstance(result, ev.RunFailed) and str(out / "final") in result.reason
    assert not any(isinstance(e, ev.StepEvent) for e in seen)
    assert (out / "final" / "weights.bin").read_bytes() == b"the user's own model"
