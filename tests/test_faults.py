"""Faults: kill -9 during writes, out of memory, disk full, SSH drop, half-written run folders.

Each test builds its fault for real where it can (a killed process, a SIGHUP) and fakes only what
cannot be produced on demand (a full disk, an out-of-memory error), at the call that would raise it.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import tomllib

import pytest

from conftest import build_tiny_whisper
from helpers_audio import write_tone_dataset
from whisper_tui.config.profile import apply_overrides, load_profile
from whisper_tui.training import events as ev
from whisper_tui.training.job import TrainingJob


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    return build_tiny_whisper(root / "model"), write_tone_dataset(root / "data", n=6)


def tiny_profile(assets, **extra):
    model, data = assets
    values = {"model.name": str(model), "data.train_dir": str(data), "data.test_split": 0.34,
              "training.num_train_epochs": 2, "training.per_device_train_batch_size": 2,
              "training.generation_max_length": 8}
    values.update(extra)
    return apply_overrides(load_profile("cpu-quick"), values)


def _kill_while_writing(tmp_path, body: str, check) -> None:
    """Run `body` (a write loop) in a child, SIGKILL it mid-loop several times, check the target each time.

    The child touches `started` once its loop runs, so every kill lands among writes, not during imports.
    """
    script = tmp_path / "writer.py"
    started = tmp_path / "started"
    script.write_text(textwrap.dedent(body).replace("STARTED", repr(str(started))))
    versions = set()
    for delay in (0.05, 0.2, 0.37, 0.6):
        started.unlink(missing_ok=True)
        child = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.DEVNULL)
        deadline = time.time() + 60
        while not started.exists() and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        versions.add(check())
    assert len(versions) > 1, "the writer never replaced the file: the test killed nothing mid-loop"


def test_kill_9_during_profile_writes_leaves_a_readable_profile(tmp_path):
    target = tmp_path / "mine.toml"
    from whisper_tui.config.profile import Profile, save_profile

    save_profile(Profile(), target)
    body = f"""
        from whisper_tui.config.profile import Profile, apply_overrides, save_profile
        from pathlib import Path
        import time
        p = Profile()
        i = int(time.time() * 1000) % 1000
        Path(STARTED).touch()
        while True:
            i += 1
            save_profile(apply_overrides(p, {{"training.num_train_epochs": i % 50 + 1,
                                              "model.name": "tiny.en" + " " * (i % 4000)}}), {str(target)!r})
    """

    def check():
        data = tomllib.loads(target.read_text())  # never half a file
        assert data["training"]["num_train_epochs"] >= 1
        return (data["training"]["num_train_epochs"], data["model"]["name"])

    _kill_while_writing(tmp_path, body, check)


def test_kill_9_while_saving_a_model_folder_keeps_the_previous_one(tmp_path):
    target = tmp_path / "best"
    target.mkdir()
    (target / "model.safetensors").write_bytes(b"old" * 1000)
    (target / "config.json").write_text('{"v": 0}')
    (target / "whisper_tui.json").write_text("{}")  # a model folder whisper-tui wrote (only those are replaced)
    body = f"""
        import json, os
        from pathlib import Path
        import time
        from whisper_tui.storage.atomic import atomic_directory
        i = int(time.time() * 1000)
        Path(STARTED).touch()
        while True:
            i += 1
            with atomic_directory(Path({str(target)!r})) as tmp:
                (tmp / "model.safetensors").write_bytes(os.urandom(2_000_000))
                (tmp / "config.json").write_text(json.dumps({{"v": i}}))
    """

    def check():
        assert target.is_dir(), "the model folder vanished"
        version = json.loads((target / "config.json").read_text())["v"]
        assert (target / "model.safetensors").stat().st_size == (3000 if version == 0 else 2_000_000)
        return version

    _kill_while_writing(tmp_path, body, check)


def test_incomplete_checkpoint_is_ignored_on_resume_and_refused_by_name(assets, tmp_path):
    from whisper_tui.errors import RunFolderError

    profile = tiny_profile(assets, **{"training.eval_strategy": "no", "training.num_train_epochs": 3})
    job = TrainingJob(profile, tmp_path / "run", evaluate_base=False)
    job.add_listener(lambda e: job.cancel() if isinstance(e, ev.StepEvent) and e.step == 2 else None)
    assert isinstance(job.run(), ev.RunCancelled)
    # a later checkpoint that a kill -9 interrupted: files there, completion mark missing
    broken = tmp_path / "run" / "checkpoints" / "checkpoint-5"
    broken.mkdir()
    (broken / "model.safetensors").write_bytes(b"\0" * 10)
    with pytest.raises(RunFolderError, match="not written completely"):
        TrainingJob(profile, resume_from=broken)
    seen = []
    resumed = TrainingJob(profile, resume_from=tmp_path / "run", listeners=[seen.append], evaluate_base=False)
    assert resumed.resume_checkpoint.name == "checkpoint-2"
    assert isinstance(resumed.run(), ev.RunFinished)
    assert any("incomplete checkpoint checkpoint-5" in e.message for e in seen if isinstance(e, ev.LogEvent))


def test_run_folder_of_a_killed_process_is_reported_not_loaded(tmp_path):
    from whisper_tui.errors import ModelError
    from whisper_tui.models.loading import resolve_model
    from whisper_tui.training.runs import read_run

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"status": "running", "pid": 999_999, "host": os.uname().nodename,
                                              "started": "2026-11-25T08:00:00"}))
    (run / ".lock").write_text("999999")
    summary = read_run(run)
    assert summary.status == "interrupted" and summary.reason
    with pytest.raises(ModelError):
        resolve_model(str(run))  # no final/ or best/: refused with a message, not half-loaded
    (run / "run.json").write_text('{"status": "runn')  # killed mid-write without our atomic writes
    assert read_run(run).status == "broken"


def test_out_of_memory_fails_the_run_with_advice_and_keeps_the_process(assets, tmp_path, monkeypatch):
    import torch

    from whisper_tui.training.trainer import WhisperTrainer

    def boom(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(WhisperTrainer, "training_step", boom)
    job, seen = TrainingJob(tiny_profile(assets), tmp_path / "run", evaluate_base=False), []
    job.add_listener(seen.append)
    result = job.run()
    assert isinstance(result, ev.RunFailed) and result.error_type == "OutOfMemory"
    assert "batch_size" in result.hint and "gradient_checkpointing" in result.hint and "lora" in result.hint
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "failed"
    assert not (tmp_path / "run" / ".lock").exists()  # the folder is free again

    monkeypatch.setattr(WhisperTrainer, "training_step", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    result = TrainingJob(tiny_profile(assets), tmp_path / "run2", evaluate_base=False).run()
    assert isinstance(result, ev.RunFailed) and result.error_type == "OutOfMemory"


def test_disk_full_while_saving_is_reported_and_the_best_model_is_kept(assets, tmp_path, monkeypatch):
    from whisper_tui.training.job import TrainingJob as Job

    original = Job.save_model

    def save(self, target, *, reason, step):
        if reason == "final":
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        return original(self, target, reason=reason, step=step)

    monkeypatch.setattr(Job, "save_model", save)
    result = Job(tiny_profile(assets), tmp_path / "run", evaluate_base=False).run()
    assert isinstance(result, ev.RunFailed) and result.error_type == "DiskFull"
    assert "disk full" in result.reason and "previous checkpoint was kept" in result.hint
    assert (tmp_path / "run" / "best" / "adapter_config.json").exists()
    assert list((tmp_path / "run" / "checkpoints").glob("checkpoint-*/whisper_tui_complete"))


def test_atomic_write_on_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    from whisper_tui.storage.atomic import atomic_write_text
    from whisper_tui.errors import DiskFull

    target = tmp_path / "profile.toml"
    atomic_write_text(target, "old = 1\n")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(DiskFull, match="Disk full"):
        atomic_write_text(target, "new = 2\n")
    assert target.read_text() == "old = 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["profile.toml"]  # no temp file left behind


def test_headless_training_survives_a_terminal_hangup(assets, tmp_path):
    model, data = assets
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "whisper_tui.cli", "train", "--model", str(model), "--data", str(data),
         "--output", str(out), "--epochs", "3", "--batch-size", "1", "--no-base-eval",
         "--set", "training.generation_max_length=8"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not (out / "metrics.jsonl").exists():
        time.sleep(0.3)
    proc.send_signal(signal.SIGHUP)
    proc.stdout.close()  # the terminal is gone: nothing reads its output any more
    proc.stderr.close()
    assert proc.wait(timeout=400) == 0
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


def test_qlora_where_bitsandbytes_cannot_run_fails_with_the_reason(assets, tmp_path, monkeypatch):
    import whisper_tui.config.profile as profile_module

    monkeypatch.setattr(profile_module, "_qlora_problem",
                        lambda: "bitsandbytes 0.43 runs 4-bit models only on NVIDIA GPUs and none was found")
    result = TrainingJob(tiny_profile(assets, **{"finetuning.strategy": "qlora"}), tmp_path / "run").run()
    assert isinstance(result, ev.RunFailed) and result.error_type == "ProfileError"
    assert "finetuning.strategy = qlora cannot run here" in result.reason and "NVIDIA" in result.reason
    assert "lora" in result.hint
