"""Cancel is honoured in every phase of a run, not only between training steps (issue 13 item 3).

Quitting the app cancels the run and waits for it; before this, a cancel during the encoder-cache
build or an evaluation waited for the whole phase (minutes on real data) and the app then gave
up on the thread, leaving no checkpoint and run.json saying "running".
"""

from __future__ import annotations

import errno
import json
import threading

import pytest

from conftest import build_tiny_whisper
from helpers_audio import write_tone_dataset
from helpers_jobs import SHORT_RUN, tiny_job_profile
from whisper_tui.training import events as ev
from whisper_tui.training.job import TrainingJob

pytestmark = pytest.mark.usefixtures("own_cache")  # the encoder cache really is built (and cancelled) here


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("cancel")
    return build_tiny_whisper(root / "model"), write_tone_dataset(root / "data", n=8)


def profile_for(assets, **overrides):
    # eval batches of one clip: an evaluation has several batches to be cancelled between
    return tiny_job_profile(*assets, **{**SHORT_RUN, "training.per_device_eval_batch_size": 1, **overrides})


def status(run_dir):
    return json.loads((run_dir / "run.json").read_text())


def assert_cleanly_cancelled(job, result, run_dir):
    assert isinstance(result, ev.RunCancelled), result
    assert job.wait(0), "wait() must return once the run has ended"
    assert status(run_dir)["status"] == "cancelled"
    assert not (run_dir / ".lock").exists()


def count_predictions(monkeypatch, on_call=None):
    """Counts the Trainer's evaluation batches; `on_call(trainer, n)` runs before each."""
    from whisper_tui.training.trainer import WhisperTrainer

    calls = []
    original = WhisperTrainer.prediction_step

    def counted(self, *args, **kwargs):
        calls.append(self.state.global_step)
        if on_call is not None:
            on_call(self, len(calls))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WhisperTrainer, "prediction_step", counted)
    return calls


def test_cancel_during_the_encoder_cache_build_stops_it_and_leaves_no_partial_cache(assets, tmp_path):
    from whisper_tui.config.locations import cache_dir

    job = TrainingJob(profile_for(assets), tmp_path / "run")
    job.add_listener(lambda e: job.cancel() if isinstance(e, ev.LogEvent) and e.message.startswith("caching") else None)
    result = job.run()
    assert_cleanly_cancelled(job, result, tmp_path / "run")
    root = cache_dir() / "encoder-cache"
    assert not list(root.glob("*.npy")), "the build ran to the end after the cancel"
    assert not list(root.glob("*.tmp")), "a cancelled build must remove its partial file"
    log = (tmp_path / "run" / "train.log").read_text()
    assert "encoder cache built" not in log
    assert status(tmp_path / "run")["last_checkpoint"] is None  # nothing trained, nothing to resume from


def test_cancel_during_the_base_evaluation_stops_between_batches(assets, tmp_path, monkeypatch):
    job = TrainingJob(profile_for(assets), tmp_path / "run")
    calls = count_predictions(monkeypatch, lambda trainer, n: job.cancel() if n == 1 else None)
    seen = []
    job.add_listener(seen.append)
    result = job.run()
    assert_cleanly_cancelled(job, result, tmp_path / "run")
    assert len(calls) == 1, f"{len(calls)} evaluation batches ran after the cancel"
    assert not any(isinstance(e, (ev.EvalEvent, ev.StepEvent)) for e in seen)


def test_cancel_during_an_evaluation_in_training_saves_that_step_and_resume_finishes(assets, tmp_path, monkeypatch):
    job = TrainingJob(profile_for(assets), tmp_path / "run", evaluate_base=False)
    calls = count_predictions(monkeypatch, lambda trainer, n: job.cancel() if trainer.state.global_step > 0 else None)
    seen = []
    job.add_listener(seen.append)
    result = job.run()
    assert_cleanly_cancelled(job, result, tmp_path / "run")
    step = calls[0]
    assert len(calls) == 1, f"{len(calls)} evaluation batches ran after the cancel"
    assert not any(isinstance(e, ev.EvalEvent) for e in seen), "the cut-short evaluation must not be recorded"
    assert result.step == step and result.checkpoint_dir.name == f"checkpoint-{step}"
    assert (result.checkpoint_dir / "whisper_tui_complete").exists()
    assert status(tmp_path / "run")["last_checkpoint"] == str(result.checkpoint_dir)

    # (the counting patch stays: its cancel is the first job's; monkeypatch.undo() would also undo the
    # isolated cache dir of conftest's fixtures and let the resumed run write into the user's cache)
    final = TrainingJob(profile_for(assets), resume_from=tmp_path / "run").run()
    assert isinstance(final, ev.RunFinished), final
    assert (tmp_path / "run" / "final").is_dir()


def test_a_cancel_during_the_evaluation_a_resume_redoes_keeps_that_evaluation_for_the_next_resume(
        assets, tmp_path, monkeypatch):
    """Found by soak_cancel: the resumed session's first act, evaluating the step whose evaluation the last
    cancel cut short, was cut short too; the Trainer then trained one more step and checkpointed it, so that
    step's evaluation was never made. Now the session stops before training anything."""
    first = TrainingJob(profile_for(assets), tmp_path / "run", evaluate_base=False)
    count_predictions(monkeypatch, lambda trainer, n: first.cancel() if trainer.state.global_step > 0 else None)
    cut = first.run()
    assert isinstance(cut, ev.RunCancelled), cut
    step = cut.step

    again = TrainingJob(profile_for(assets), resume_from=tmp_path / "run", evaluate_base=False)
    seen = []
    again.add_listener(seen.append)
    again.add_listener(lambda e: again.cancel() if isinstance(e, ev.LogEvent)
                       and e.message.startswith(f"evaluating step {step} first") else None)
    result = again.run()
    assert_cleanly_cancelled(again, result, tmp_path / "run")
    assert result.checkpoint_dir == cut.checkpoint_dir  # the resume point, evaluated first next time
    assert not any(isinstance(e, (ev.StepEvent, ev.EvalEvent, ev.CheckpointSaved)) for e in seen)
    assert not (tmp_path / "run" / "checkpoints" / f"checkpoint-{step + 1}").exists()

    final = TrainingJob(profile_for(assets), resume_from=tmp_path / "run", evaluate_base=False).run()
    assert isinstance(final, ev.RunFinished), final
    evals = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
             if '"eval"' in line]
    assert step in [r["step"] for r in evals]


def test_cancel_before_training_of_a_resumed_run_names_the_checkpoint_it_resumed_from(assets, tmp_path):
    profile = profile_for(assets, **{"training.eval_strategy": "no"})
    first = TrainingJob(profile, tmp_path / "run", evaluate_base=False)
    first.add_listener(lambda e: first.cancel() if isinstance(e, ev.StepEvent) and e.step == 2 else None)
    assert isinstance(first.run(), ev.RunCancelled)
    again = TrainingJob(profile, resume_from=tmp_path / "run", evaluate_base=False)
    again.add_listener(lambda e: again.cancel() if isinstance(e, ev.LogEvent) and e.message.startswith("resuming")
                       else None)
    result = again.run()
    assert_cleanly_cancelled(again, result, tmp_path / "run")
    assert result.checkpoint_dir.name == "checkpoint-2"
    assert status(tmp_path / "run")["last_checkpoint"].endswith("checkpoint-2")


def test_a_full_disk_while_cancelling_still_ends_the_run(assets, tmp_path, monkeypatch):
    from whisper_tui.training.run_folder import RunFolder

    original = RunFolder.update_status

    def full_disk_on_cancel(self, **fields):
        if fields.get("status") == "cancelled":
            raise OSError(errno.ENOSPC, "No space left on device", str(self.status_file))
        return original(self, **fields)

    monkeypatch.setattr(RunFolder, "update_status", full_disk_on_cancel)
    job = TrainingJob(profile_for(assets), tmp_path / "run")
    job.add_listener(lambda e: job.cancel() if isinstance(e, ev.LogEvent) and e.message.startswith("caching") else None)
    results = []
    thread = threading.Thread(target=lambda: results.append(job.run()), daemon=True)
    thread.start()
    assert job.wait(120), "wait() hung after a disk-full error while cancelling"
    thread.join(10)
    assert isinstance(job.result, ev.RunCancelled)
    assert not (tmp_path / "run" / ".lock").exists()


def test_wait_returns_even_when_the_cleanup_after_a_cancel_fails(assets, tmp_path, monkeypatch):
    job = TrainingJob(profile_for(assets), tmp_path / "run")

    def broken_release():
        raise RuntimeError("release failed")

    monkeypatch.setattr(job.folder, "release", broken_release)
    job.add_listener(lambda e: job.cancel() if isinstance(e, ev.LogEvent) and e.message.startswith("caching") else None)
    with pytest.raises(RuntimeError):
        job.run()
    assert job.wait(0) and isinstance(job.result, ev.RunCancelled)


def test_resume_skips_bad_metrics_lines_with_a_warning(assets, tmp_path):
    profile = profile_for(assets)
    first = TrainingJob(profile, tmp_path / "run")
    first.add_listener(lambda e: first.cancel() if isinstance(e, ev.StepEvent) and e.step == 2 else None)
    assert isinstance(first.run(), ev.RunCancelled)
    metrics = tmp_path / "run" / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    lines[1] = "edited by hand {"
    metrics.write_text("\n".join(lines) + '\n{"type": "eval", "step": 3, "wer": "oops"}\n{"type": "st')
    seen = []
    final = TrainingJob(profile, resume_from=tmp_path / "run", listeners=[seen.append]).run()
    assert isinstance(final, ev.RunFinished), final
    warnings = [e.message for e in seen if isinstance(e, ev.LogEvent) and e.level == "warning"]
    assert any("metrics.jsonl" in w and "line 2" in w for w in warnings), warnings
