"""Issue 24: progress and ETA follow the time budget from the first progress line on.

Before, a 5-minute run started with "step 8/440 · epoch 0.73/40 · ETA 13m58s" (the cap of
training.num_train_epochs and an ETA past the budget's end) and kept "epoch 2.00/40" after the budget
said 7-10 epochs fit: the total came from the Trainer's state (replaced only once the plan was made,
12 steps in) and the epochs from RunStarted.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

from whisper_tui.training.budget import BudgetCallback
from whisper_tui.training.callbacks import JobCallback
from whisper_tui.training.events import RunStarted, StepEvent

STEPS_PER_EPOCH, CAP = 11, 40  # the run: 440 steps in 40 epochs


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class FakeRun:
    """What JobCallback uses of a run (callbacks.TrainingRun), with the budget of a real run."""

    def __init__(self, budget):
        self.budget = budget
        self.events = []
        self.control = SimpleNamespace(emit=self.events.append, step=0, wait_while_paused=lambda step: True)

    def evaluate_missed(self, args, state):
        pass

    def budget_outlook(self, state):
        return self.budget.outlook(state)


def run_steps(job_cb, budget, state, clock, seconds_per_step, steps):
    """Steps as the Trainer runs them: JobCallback's hooks first, then the budget's (trainer_setup's order)."""
    args = SimpleNamespace(eval_strategy="no")
    control = SimpleNamespace(should_training_stop=False, should_save=False)
    for _ in range(steps):
        job_cb.on_step_begin(args, state, control)
        budget.on_step_begin(args, state, control)
        clock.now += seconds_per_step
        state.global_step += 1
        state.epoch = state.global_step / STEPS_PER_EPOCH
        job_cb.on_step_end(args, state, control)
        budget.on_step_end(args, state, control, lr_scheduler=None)
    return job_cb.run.events[-1]


def budget_run(budget_s=300.0, used_before=30.0):
    clock = Clock()
    budget = BudgetCallback(budget_s=budget_s, started=clock.now, steps_per_epoch=STEPS_PER_EPOCH, max_epochs=CAP,
                            warmup=0.0, eval_s=6.0, clock=clock, timer=clock)
    clock.now += used_before  # model, caches and the base evaluation come out of the budget too
    job_cb = JobCallback(FakeRun(budget))
    args = SimpleNamespace(per_device_train_batch_size=2, gradient_accumulation_steps=1, world_size=1)
    state = SimpleNamespace(global_step=0, epoch=0.0, max_steps=STEPS_PER_EPOCH * CAP, num_train_epochs=CAP,
                            is_world_process_zero=True)
    job_cb.on_train_begin(args, state, None)
    return clock, budget, job_cb, state


def left(budget, clock):
    return budget.budget_s - (clock.now - budget.started)


def test_the_first_progress_line_shows_the_epochs_that_fit_and_an_eta_within_the_budget():
    clock, budget, job_cb, state = budget_run()
    first = run_steps(job_cb, budget, state, clock, 2.0, 1)
    assert isinstance(first, StepEvent) and budget.planned_epochs is None  # not planned yet: 12 steps to calibrate
    # 2 s a step, 6 s an evaluation: 28 s an epoch, 236 s left once this epoch is done -> 9 epochs, not 40
    assert first.total_epochs == 9 and first.total_steps == 9 * STEPS_PER_EPOCH
    assert first.eta_seconds <= left(budget, clock)


def test_progress_follows_the_budgets_estimate_as_it_changes():
    clock, budget, job_cb, state = budget_run()
    early = run_steps(job_cb, budget, state, clock, 2.0, 3)
    slower = run_steps(job_cb, budget, state, clock, 6.0, 9)  # a burst of load: steps three times as long
    assert slower.total_epochs < early.total_epochs
    assert budget.planned_epochs is not None  # the plan (made at step 12) and the line agree from then on
    after = run_steps(job_cb, budget, state, clock, 6.0, 1)
    assert after.total_epochs == budget.planned_epochs and after.total_steps == budget.planned_epochs * STEPS_PER_EPOCH
    budget.planned_epochs = 2  # the plan revised at an epoch end (measured epochs, evaluations)
    revised = run_steps(job_cb, budget, state, clock, 6.0, 1)
    assert revised.total_epochs == 2 and revised.total_steps == 2 * STEPS_PER_EPOCH
    assert all(e.eta_seconds <= budget.budget_s for e in job_cb.run.events)


def test_the_eta_never_passes_the_end_of_the_budget():
    # steps so slow that the estimate is beyond the budget: the budget stops the run before that
    clock, budget, job_cb, state = budget_run(budget_s=60.0, used_before=5.0)
    event = run_steps(job_cb, budget, state, clock, 20.0, 1)
    assert event.total_epochs == 1 and event.eta_seconds <= left(budget, clock)


def test_without_a_budget_progress_counts_to_the_profiles_epochs():
    clock, budget, job_cb, state = budget_run(budget_s=0.0)
    event = run_steps(job_cb, budget, state, clock, 2.0, 2)
    assert event.total_steps == STEPS_PER_EPOCH * CAP and event.total_epochs == CAP


def test_the_cli_line_shows_the_epochs_that_fit(monkeypatch):
    from whisper_tui.cli.console import TrainingPrinter

    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    printer = TrainingPrinter()
    printer(RunStarted("run", 440, 40.0, 84, 36, "lora", 1, 2, "cpu", "fp32", budget_s=300.0))
    printer(StepEvent(8, 99, 0.73, 1.5, 1e-3, 2.0, 240.0, 9.0))
    text = err.getvalue()
    assert "at most 40 epochs (440 steps): the 5m time budget decides how many" in text
    assert "8/99" in text and "ep 0.73/9 " in text and "ETA 04:00" in text and "/40" not in text.splitlines()[-1]
