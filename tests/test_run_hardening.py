"""Issue 24, round three: an evaluation that raises never costs a run its trained model.

The evaluation is made to fail as the real bug did (a TypeError out of generate, inside the Trainer's
evaluation loop): every prediction step raises. Before, the error came out of `trainer.train` (an epoch's
evaluation) or out of the final evaluation, which ran before final/ was saved: run.json said failed,
there was no final/ and `whisper-tui train` exited 3.
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

BUG = "'NoneType' object is not subscriptable"


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardening")
    return build_tiny_whisper(root / "model"), write_tone_dataset(root / "data", n=8)


def failing_generation(monkeypatch, fail_when=lambda trainer: True):
    """Every evaluation batch for which `fail_when(trainer)` holds raises the TypeError of issue 24."""
    from whisper_tui.training.trainer import WhisperTrainer

    original = WhisperTrainer.prediction_step

    def prediction_step(self, *args, **kwargs):
        if fail_when(self):
            raise TypeError(BUG)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WhisperTrainer, "prediction_step", prediction_step)


def status(run_dir):
    return json.loads((run_dir / "run.json").read_text())


def test_a_failing_final_evaluation_leaves_a_finished_run_with_its_final_model(assets, tmp_path, monkeypatch):
    failing_generation(monkeypatch)
    profile = tiny_job_profile(*assets, **{**SHORT_RUN, "training.eval_strategy": "no"})
    seen = []
    result = TrainingJob(profile, tmp_path / "run", evaluate_base=False, listeners=[seen.append]).run()
    assert isinstance(result, ev.RunFinished), result
    assert (tmp_path / "run" / "final" / "adapter_config.json").exists()
    saved = status(tmp_path / "run")
    assert saved["status"] == "finished" and saved["final_wer"] is None
    failed = saved["evaluation_failed"]
    assert failed["during"] == "the final evaluation" and BUG in failed["reason"] and failed["count"] == 1
    assert result.metrics["evaluation_failures"] == 1
    [event] = [e for e in seen if isinstance(e, ev.EvalFailed)]
    assert event.during == "the final evaluation" and event.reason == f"TypeError: {BUG}"
    lines = [e.message for e in seen if isinstance(e, ev.LogEvent) and e.message.startswith("evaluation failed: ")]
    assert len(lines) == 1 and BUG in lines[0] and "final" in lines[0]
    # final/ was written before the evaluation: the model saved event comes first
    saved_final = next(i for i, e in enumerate(seen) if isinstance(e, ev.CheckpointSaved) and e.reason == "final")
    assert saved_final < seen.index(event)
    log = (tmp_path / "run" / "train.log").read_text()
    assert "Traceback" in log and "evaluation failed: TypeError" in log


def test_evaluations_failing_at_every_epoch_are_reported_and_training_goes_on(assets, tmp_path, monkeypatch):
    # the base evaluation works, those after each epoch fail
    failing_generation(monkeypatch, lambda trainer: trainer.state.global_step > 0)
    profile = tiny_job_profile(*assets, **SHORT_RUN)  # evaluated after each of its 2 epochs
    seen = []
    job = TrainingJob(profile, tmp_path / "run", listeners=[seen.append])
    result = job.run()
    assert isinstance(result, ev.RunFinished), result
    failures = [e for e in seen if isinstance(e, ev.EvalFailed)]
    steps = [e.step for e in seen if isinstance(e, ev.StepEvent)]
    assert [e.count for e in failures] == [1, 2]
    assert failures[-1].step == steps[-1] and failures[-1].during == f"the evaluation at step {steps[-1]}"
    assert [e.step for e in seen if isinstance(e, ev.EvalEvent)] == [0]  # only the base model has figures
    assert (tmp_path / "run" / "final").is_dir() and status(tmp_path / "run")["status"] == "finished"
    assert status(tmp_path / "run")["evaluation_failed"]["count"] == 2
    assert not (tmp_path / "run" / "best").exists()  # no evaluation to choose it by


def test_a_failing_base_evaluation_does_not_stop_the_run(assets, tmp_path, monkeypatch):
    failing_generation(monkeypatch, lambda trainer: trainer.state.global_step == 0)
    profile = tiny_job_profile(*assets, **{**SHORT_RUN, "training.num_train_epochs": 1})
    seen = []
    result = TrainingJob(profile, tmp_path / "run", listeners=[seen.append]).run()
    assert isinstance(result, ev.RunFinished), result
    assert [e.during for e in seen if isinstance(e, ev.EvalFailed)] == ["the model before training"]
    assert result.metrics["base_wer"] is None and result.metrics["best_wer"] is not None


def test_train_command_exits_0_when_only_the_evaluation_failed(assets, tmp_path, monkeypatch, capsys):
    from whisper_tui.cli.main import main

    failing_generation(monkeypatch)
    model, data = assets
    code = main(["train", "--model", str(model), "--data", str(data), "--output", str(tmp_path / "run"),
                 "--epochs", "1", "--no-base-eval", "--set", "training.eval_strategy='no'",
                 "--set", "data.keep_set=false", "--set", "model.windows=[]", "--set", "training.budget_s=0"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert any(line.startswith("evaluation failed: TypeError") for line in err.splitlines()), err
    assert (tmp_path / "run" / "final").is_dir() and status(tmp_path / "run")["status"] == "finished"


def test_a_cancel_during_the_resume_time_evaluation_stops_before_any_step(assets, tmp_path, monkeypatch):
    """A resumed run whose first session had no base keep-set WER measures it before training; a cancel
    there used to let the Trainer train (and checkpoint) one step before it stopped."""
    from whisper_tui.training.trainer import WhisperTrainer

    profile = tiny_job_profile(*assets, **{**SHORT_RUN, "training.eval_strategy": "no", "data.keep_set": True,
                                           "training.per_device_eval_batch_size": 1})
    first = TrainingJob(profile, tmp_path / "run", evaluate_base=False)
    first.add_listener(lambda e: first.cancel() if isinstance(e, ev.StepEvent) and e.step == 2 else None)
    cut = first.run()
    assert isinstance(cut, ev.RunCancelled) and cut.checkpoint_dir.name == "checkpoint-2", cut

    again = TrainingJob(profile, resume_from=tmp_path / "run")  # measures the base model on the keep set first
    original = WhisperTrainer.prediction_step

    def cancel_at_the_first_batch(self, *args, **kwargs):
        again.cancel()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WhisperTrainer, "prediction_step", cancel_at_the_first_batch)
    seen = []
    again.add_listener(seen.append)
    result = again.run()
    assert any(isinstance(e, ev.LogEvent) and e.message.startswith("evaluating the base model on the keep set")
               for e in seen)
    assert isinstance(result, ev.RunCancelled), result
    assert result.checkpoint_dir == cut.checkpoint_dir and result.step == 2
    assert not any(isinstance(e, (ev.StepEvent, ev.CheckpointSaved)) for e in seen)
    assert not (tmp_path / "run" / "checkpoints" / "checkpoint-3").exists()
