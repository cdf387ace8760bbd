"""The training job on a tiny random Whisper: strategies, events, cache equivalence, pause/cancel/resume."""

from __future__ import annotations

import json
import threading

import pytest

from conftest import build_tiny_whisper
from helpers_audio import write_tone_dataset
from helpers_jobs import SHORT_RUN, tiny_job_profile
from whisper_tui.errors import RunFolderError
from whisper_tui.config.profile import apply_overrides
from whisper_tui.training import events as ev
from whisper_tui.training.job import TrainingJob


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("job")
    # d_model 64 (not conftest's 32): bitsandbytes' CPU nf4 kernels need rows of at least 64 for QLoRA.
    model = build_tiny_whisper(root / "model", d_model=64, encoder_layers=2, encoder_ffn_dim=128, decoder_ffn_dim=128)
    return model, write_tone_dataset(root / "data", n=8)


pytestmark = pytest.mark.usefixtures("own_cache")  # 'cached' really builds its cache in every test


def make_profile(assets, **overrides):
    return tiny_job_profile(*assets, **{**SHORT_RUN, **overrides})


def run(profile, out, **kw):
    seen = []
    job = TrainingJob(profile, out, listeners=[seen.append], **kw)
    result = job.run()
    return job, result, seen


def losses(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r["loss"] for r in map(json.loads, lines) if r["type"] == "step"]


@pytest.mark.parametrize("strategy", ["full", "lora", "qlora"])
def test_each_strategy_trains_and_saves_a_loadable_model(assets, tmp_path, strategy):
    from whisper_tui.models.loading import load_model

    profile = make_profile(assets, **{"finetuning.strategy": strategy, "training.num_train_epochs": 1,
                                      "training.learning_rate": 1e-3})
    job, result, seen = run(profile, tmp_path / "run")
    assert isinstance(result, ev.RunFinished), result
    kinds = [type(e).__name__ for e in seen]
    assert kinds.index("RunStarted") < kinds.index("StepEvent") < kinds.index("RunFinished")
    assert sum(isinstance(e, ev.EvalEvent) for e in seen) == 2  # base + one epoch
    started = next(e for e in seen if isinstance(e, ev.RunStarted))
    assert 0 < started.trainable_params < started.total_params
    status = json.loads((tmp_path / "run" / "run.json").read_text())
    assert status["status"] == "finished" and status["strategy"] == strategy
    assert (tmp_path / "run" / "profile.toml").exists() and (tmp_path / "run" / "train.log").exists()
    model, processor = load_model(str(tmp_path / "run" / "final"))
    assert model is not None and processor is not None
    if strategy != "full":
        assert (tmp_path / "run" / "final" / "adapter_config.json").exists()


def test_frozen_encoder_lora_targets_decoder_only(assets, tmp_path):
    from whisper_tui.training.model_setup import build_trainable_model, choose_precision

    profile = make_profile(assets)
    model, _proc, k = build_trainable_model(profile, "cpu", choose_precision(profile, "cpu"))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert k == 2 and trainable and all("decoder" in n and "lora_" in n for n in trainable)
    profile = make_profile(assets, **{"finetuning.freeze_encoder": False, "finetuning.frozen_encoder_layers": 1})
    model, _proc, k = build_trainable_model(profile, "cpu", choose_precision(profile, "cpu"))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert k == 1
    assert any("encoder.layers.1." in n for n in trainable)
    assert not any("encoder.layers.0." in n for n in trainable)


@pytest.mark.parametrize("overrides", [
    {},  # whole encoder frozen: decoder trains from the cache
    {"finetuning.freeze_encoder": False, "finetuning.frozen_encoder_layers": 1},  # top layer trains on cached layer 1
    {"finetuning.strategy": "full", "finetuning.freeze_encoder": False, "finetuning.frozen_encoder_layers": 1,
     "training.learning_rate": 1e-4},
])
def test_cached_and_uncached_training_give_the_same_losses(assets, tmp_path, overrides):
    cached = make_profile(assets, **overrides)
    plain = apply_overrides(cached, {"finetuning.encoder_cache": False})
    _job, r1, seen1 = run(cached, tmp_path / "cached", evaluate_base=False)
    _job, r2, seen2 = run(plain, tmp_path / "plain", evaluate_base=False)
    assert isinstance(r1, ev.RunFinished) and isinstance(r2, ev.RunFinished)
    assert any("cach" in e.message for e in seen1 if isinstance(e, ev.LogEvent))
    l1, l2 = losses(tmp_path / "cached"), losses(tmp_path / "plain")
    assert len(l1) == len(l2) > 0
    assert l1 == pytest.approx(l2, rel=2e-3, abs=2e-3)


def test_pause_and_resume_from_another_thread(assets, tmp_path):
    profile = make_profile(assets, **{"training.num_train_epochs": 2})
    job = TrainingJob(profile, tmp_path / "run", evaluate_base=False)
    seen = []
    paused = threading.Event()

    def listener(event):
        seen.append(event)
        if isinstance(event, ev.StepEvent) and event.step == 2 and not paused.is_set():
            job.pause()
        if isinstance(event, ev.Paused):
            paused.set()

    job.add_listener(listener)
    job.start()
    assert paused.wait(60), "job never paused"
    assert job.state == "paused"
    steps_at_pause = sum(isinstance(e, ev.StepEvent) for e in seen)
    assert not job.wait(1.0)  # it really stays put
    assert sum(isinstance(e, ev.StepEvent) for e in seen) == steps_at_pause
    job.resume()
    assert job.wait(120)
    assert isinstance(job.result, ev.RunFinished)
    assert any(isinstance(e, ev.Resumed) for e in seen)


def test_cancel_saves_a_checkpoint_and_resume_matches_an_uninterrupted_run(assets, tmp_path):
    profile = make_profile(assets, **{"training.num_train_epochs": 3, "training.eval_strategy": "no"})
    _job, full_result, _ = run(profile, tmp_path / "straight", evaluate_base=False)
    assert isinstance(full_result, ev.RunFinished)

    job = TrainingJob(profile, tmp_path / "interrupted", evaluate_base=False)
    job.add_listener(lambda e: job.cancel() if isinstance(e, ev.StepEvent) and e.step == 4 else None)
    result = job.run()
    assert isinstance(result, ev.RunCancelled) and result.step == 4
    assert result.checkpoint_dir is not None and result.checkpoint_dir.name == "checkpoint-4"
    assert (result.checkpoint_dir / "whisper_tui_complete").exists()
    assert json.loads((tmp_path / "interrupted" / "run.json").read_text())["status"] == "cancelled"

    resumed = TrainingJob(profile, resume_from=tmp_path / "interrupted", evaluate_base=False)
    assert resumed.run_dir == tmp_path / "interrupted"
    final = resumed.run()
    assert isinstance(final, ev.RunFinished), final
    straight, interrupted = losses(tmp_path / "straight"), losses(tmp_path / "interrupted")
    assert len(interrupted) == len(straight)
    assert interrupted[-1] == pytest.approx(straight[-1], rel=1e-3, abs=1e-3)


def test_a_second_run_into_the_same_folder_is_refused(assets, tmp_path):
    profile = make_profile(assets, **{"training.num_train_epochs": 1})
    _job, first, _ = run(profile, tmp_path / "run", evaluate_base=False)
    assert isinstance(first, ev.RunFinished)
    _job, second, _ = run(profile, tmp_path / "run", evaluate_base=False)
    assert isinstance(second, ev.RunFailed) and "already holds a training run" in second.reason
    assert (tmp_path / "run" / "final" / "adapter_config.json").exists()  # the first run's model is untouched


def test_lock_held_by_a_live_process_is_refused(assets, tmp_path):
    import subprocess
    import sys

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / ".lock").write_text(str(sleeper.pid))
        _job, result, _ = run(make_profile(assets), tmp_path / "run")
        assert isinstance(result, ev.RunFailed) and "in use by another training run" in result.reason
    finally:
        sleeper.kill()
    with pytest.raises(RunFolderError):
        TrainingJob(make_profile(assets), resume_from=tmp_path / "missing")


def test_lora_learning_rate_rule_is_logged(assets, tmp_path):
    profile = make_profile(assets, **{"training.learning_rate": 1e-5, "training.num_train_epochs": 1})
    _job, result, seen = run(profile, tmp_path / "run", evaluate_base=False)
    assert isinstance(result, ev.RunFinished)
    assert any("raised to 1e-3" in e.message for e in seen if isinstance(e, ev.LogEvent))
    assert "raised to 1e-3" in (tmp_path / "run" / "train.log").read_text()


def test_final_wer_is_the_last_steps_evaluation_when_the_run_evaluated_during_training(assets, tmp_path):
    """eval_strategy=epoch evaluates the last step: that is the final model's WER, so run.json and RunFinished
    report it (it was null: only an eval_strategy=no run's final evaluation filled it)."""
    profile = make_profile(assets, **{"training.eval_strategy": "epoch"})
    _job, result, seen = run(profile, tmp_path / "run", evaluate_base=False)
    assert isinstance(result, ev.RunFinished), result
    last = [e for e in seen if isinstance(e, ev.EvalEvent)][-1]
    assert last.step == result.metrics["steps"]
    status = json.loads((tmp_path / "run" / "run.json").read_text())
    assert status["final_wer"] == pytest.approx(last.wer)
    assert result.metrics["final_wer"] == pytest.approx(last.wer)

