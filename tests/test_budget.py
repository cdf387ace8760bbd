"""training.budget_s and early stopping: epochs fitted to the time left, the schedule ending with the budget."""

from __future__ import annotations

import functools
import json
from types import SimpleNamespace

import pytest
import torch

from helpers_audio import write_tone_dataset
from helpers_jobs import SHORT_RUN, tiny_job_profile
from whisper_tui.training import events as ev
from whisper_tui.training.budget import (BudgetCallback, format_duration, parse_duration, plan_epochs,
                                         refit_schedule)
from whisper_tui.training.job import TrainingJob


def test_parse_duration_accepts_what_people_type():
    assert parse_duration("300") == 300 and parse_duration("5m") == 300 and parse_duration("1h30m") == 5400
    assert parse_duration("90s") == 90 and parse_duration("2.5min") == 150 and parse_duration(42) == 42
    for bad in ("", "five minutes", "5x", "-3", "5m-"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)
    assert (format_duration(300), format_duration(90), format_duration(45)) == ("5m", "1m30s", "45s")


def test_plan_epochs_fits_whole_epochs_and_respects_the_cap():
    assert plan_epochs(left_s=100, epoch_s=30, done_epochs=0, max_epochs=50) == 3
    assert plan_epochs(left_s=100, epoch_s=30, done_epochs=2, max_epochs=4) == 4
    assert plan_epochs(left_s=-5, epoch_s=30, done_epochs=0, max_epochs=50) == 1  # always at least one epoch
    assert plan_epochs(left_s=-5, epoch_s=30, done_epochs=3, max_epochs=50) == 3


def _linear_scheduler(total: int, warmup: int):
    from transformers import get_linear_schedule_with_warmup

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    return opt, get_linear_schedule_with_warmup(opt, warmup, total)


def test_refit_schedule_moves_the_end_of_a_linear_schedule_in_place():
    opt, sched = _linear_scheduler(total=400, warmup=40)
    for _ in range(10):
        opt.step()
        sched.step()
    assert refit_schedule(sched, total_steps=20, warmup=0.1)
    assert isinstance(sched.lr_lambdas[0], functools.partial)
    assert sched.lr_lambdas[0].keywords == {"num_warmup_steps": 2, "num_training_steps": 20}
    lrs = []
    for _ in range(10):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[-1] == pytest.approx(0.0, abs=1e-9) and lrs == sorted(lrs, reverse=True)
    constant = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    assert not refit_schedule(constant, 20, 0.1)


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _state(step, steps_per_epoch, max_steps=10**6):
    return SimpleNamespace(global_step=step, epoch=step / steps_per_epoch, max_steps=max_steps)


def test_budget_callback_plans_replans_and_stops_on_time():
    clock = _Clock()
    _opt, sched = _linear_scheduler(total=10 * 50, warmup=0)
    said = []
    cb = BudgetCallback(budget_s=100, started=clock.now, steps_per_epoch=10, max_epochs=50, warmup=0.0,
                        eval_s=4.0, log=lambda m, level="info": said.append(m), clock=clock)
    cb.CALIBRATION_STEPS = 5
    args, control = SimpleNamespace(eval_strategy="epoch"), SimpleNamespace(should_training_stop=False)
    clock.now += 20  # model, cache and base evaluation
    state = _state(0, 10, max_steps=500)
    for step in range(1, 6):
        cb._step_times.append(1.0)  # one second per step, as measured by on_step_begin/on_step_end
        cb._t_step = None
        clock.now += 1
        state.global_step, state.epoch = step, step / 10
        cb.on_step_end(args, state, control, lr_scheduler=sched)
    # 75 s used at step 5 of 10: finishing the epoch costs 7 s, each epoch 14 s -> 1 + 4 epochs
    assert cb.planned_epochs == 5 and "5 epoch(s)" in said[0]
    assert state.max_steps == 50  # what progress bars and the ETA count to
    assert sched.lr_lambdas[0].keywords["num_training_steps"] == 50
    assert not control.should_training_stop
    for step in range(6, 51):
        clock.now += 1
        cb.on_step_end(args, _state(step, 10), control, lr_scheduler=sched)
        if control.should_training_stop:
            break
    assert step == 50 and "5 epoch(s) fit in 1m40s" in cb.stop_reason


def test_budget_callback_stops_mid_epoch_when_load_makes_it_overshoot():
    clock = _Clock()
    cb = BudgetCallback(budget_s=30, started=clock.now, steps_per_epoch=100, max_epochs=5, warmup=0.0, clock=clock)
    control = SimpleNamespace(should_training_stop=False)
    clock.now += 31
    cb.on_step_end(SimpleNamespace(eval_strategy="no"), _state(3, 100), control)
    assert control.should_training_stop and "used up at step 3" in cb.stop_reason


def test_under_a_budget_evaluations_are_thinned_but_the_last_epoch_is_evaluated():
    clock = _Clock()
    said = []
    cb = BudgetCallback(budget_s=600, started=clock.now, steps_per_epoch=10, max_epochs=50, warmup=0.0,
                        eval_s=12.0, log=lambda m, level="info": said.append(m), clock=clock)
    cb.CALIBRATION_STEPS = 10
    args = SimpleNamespace(eval_strategy="epoch")
    evaluated = []
    for step in range(1, 1000):
        control = SimpleNamespace(should_training_stop=False, should_evaluate=False)
        cb._step_times.append(2.0)
        clock.now += 2.0
        cb.on_step_end(args, _state(step, 10), control)
        if step % 10 == 0:  # the Trainer asks to evaluate at every epoch end; the callback may say no
            control.should_evaluate = True
            cb.on_epoch_end(args, _state(step, 10), control)
            if control.should_evaluate:
                evaluated.append(step // 10)
                clock.now += 12.0
                cb.on_evaluate(args, _state(step, 10), control, metrics={"eval_wer": 0.5})
        if control.should_training_stop:
            break
    # an epoch trains in 20 s and an evaluation costs 12 s: at most 25% -> every 3rd epoch, and the last
    assert cb.eval_every == 3 and any("every 3 epoch(s)" in m for m in said)
    assert evaluated[-1] == cb.planned_epochs and all(e % 3 == 0 for e in evaluated[:-1])
    assert cb.elapsed() <= 600


def test_early_stopping_ignores_the_base_evaluation_and_counts_evaluations_without_progress():
    cb = BudgetCallback(budget_s=0, started=0, steps_per_epoch=4, max_epochs=9, warmup=0.0, patience=2)
    args, control = SimpleNamespace(eval_strategy="epoch"), SimpleNamespace(should_training_stop=False)
    cb.on_evaluate(args, _state(0, 4), control, metrics={"eval_wer": 0.1})  # base model: not a best
    for step, wer in ((4, 0.5), (8, 0.4), (12, 0.45), (16, 0.41)):
        cb.on_evaluate(args, _state(step, 4), control, metrics={"eval_wer": wer})
    assert control.should_training_stop and "2 evaluation(s)" in cb.stop_reason and "40.0%" in cb.stop_reason


# --------------------------------------------------------------------------- in a real (tiny) run


@pytest.fixture(scope="module")
def assets(tmp_path_factory, tiny_whisper_dir):
    return tiny_whisper_dir, write_tone_dataset(tmp_path_factory.mktemp("budget") / "data", n=8)




@pytest.mark.usefixtures("own_cache")
def test_a_budget_run_stops_by_itself_and_says_why(assets, tmp_path):
    profile = tiny_job_profile(*assets, **{**SHORT_RUN, "training.num_train_epochs": 2000, "training.budget_s": 10.0,
                                           "training.warmup_steps": 0.1})
    seen = []
    job = TrainingJob(profile, tmp_path / "run", listeners=[seen.append])
    result = job.run()
    assert isinstance(result, ev.RunFinished), result
    assert "time budget" in result.metrics["stopped"]
    status = json.loads((tmp_path / "run" / "run.json").read_text())
    assert status["stopped"] == result.metrics["stopped"]
    logs = [e.message for e in seen if isinstance(e, ev.LogEvent)]
    assert any(m.startswith("time budget 10s for the whole run") for m in logs)
    step_events = [e for e in seen if isinstance(e, ev.StepEvent)]
    # from the first progress line on, the epochs that fit (not the cap of 2000) and an ETA within the budget
    # (issue 24: "step 8/440 · epoch 0.73/40 · ETA 13m58s" for a 5-minute run)
    first = step_events[0]
    assert first.total_epochs < 2000 and first.total_steps == first.total_epochs * 3
    assert all(e.eta_seconds is not None and 0 <= e.eta_seconds <= 10.0 for e in step_events)
    steps = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in steps if r["type"] == "step"]
    assert 0 < len(steps) < 2000 * 3
    if "fit in" in result.metrics["stopped"] and len(steps) >= 9:  # planned, not cut short by a burst of load
        assert steps[-1]["learning_rate"] < 0.25 * max(r["learning_rate"] for r in steps)


@pytest.mark.usefixtures("own_cache")
def test_early_stopping_ends_a_run_that_does_not_improve(assets, tmp_path):
    profile = tiny_job_profile(*assets, **{**SHORT_RUN, "training.num_train_epochs": 6, "finetuning.strategy": "full",
                                           "training.learning_rate": 1e-12, "training.early_stopping_patience": 1})
    result = TrainingJob(profile, tmp_path / "run").run()
    assert isinstance(result, ev.RunFinished), result
    assert result.metrics["stopped"].startswith("early stop")
    evals = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len([r for r in evals if r["type"] == "eval" and not r.get("base")]) == 2
