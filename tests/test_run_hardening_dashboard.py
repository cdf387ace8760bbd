"""Issue 24 on the Dashboard: a failed evaluation is shown as such, and progress follows the time budget."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import Label, Static

from helpers_tui_doubles import FakeProfile, training_script
from test_tui_dashboard import DashApp, play_from_thread, settle, text_of
from whisper_tui.training.events import EvalFailed, LogEvent, RunFinished, RunStarted, StepEvent


async def test_a_failed_evaluation_shows_while_running_and_in_the_summary(tmp_path):
    app = DashApp(tmp_path / "run")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        dash = app.dashboard
        job = dash.start_run(FakeProfile())
        script = training_script(job.run_dir, total=20, evals=(10,))
        at = next(i for i, e in enumerate(script) if isinstance(e, StepEvent) and e.step == 15)
        failed = EvalFailed(15, "TypeError: 'NoneType' object is not subscriptable", "the evaluation at step 15")
        play_from_thread(job, [*script[:at + 1], failed])
        await settle(pilot)
        phase = text_of(dash.query_one("#dash-phase", Label))
        assert "training" in phase and "1 evaluation failed" in phase

        final = replace(failed, step=20, during="the final evaluation", count=2)
        play_from_thread(job, [*script[at + 1:-1], final, script[-1]])
        await settle(pilot)
        assert isinstance(script[-1], RunFinished)
        summary = text_of(dash.query_one("#dash-summary", Static))
        assert "Training finished" in summary
        assert "2 evaluations failed (latest: the final evaluation, TypeError: 'NoneType' object is not " \
               "subscriptable)" in summary and "the model was saved" in summary


async def test_progress_under_a_budget_shows_the_epochs_that_fit(tmp_path):
    app = DashApp(tmp_path / "run")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        dash = app.dashboard
        job = dash.start_run(FakeProfile())
        started = RunStarted(job.run_dir, 440, 40.0, 84, 36, "lora", 1, 2, "cpu", "fp32", budget_s=300.0)
        play_from_thread(job, [LogEvent("run folder"), started, StepEvent(8, 99, 0.73, 1.2, 1e-4, 4.0, 250.0, 9.0)])
        await settle(pilot)
        line = text_of(dash.query_one("#dash-step", Label))
        assert "step 8/99" in line and "epoch 0.73/9 " in line and "ETA 4m10s" in line and "/40" not in line
        play_from_thread(job, [StepEvent(22, 77, 2.0, 1.1, 1e-4, 4.0, 150.0, 7.0)])  # the budget's estimate changed
        await settle(pilot)
        assert "epoch 2.00/7 " in text_of(dash.query_one("#dash-step", Label))
        assert "5m00s time budget decides how many" in text_of(dash.query_one("#dash-log")).replace("\n", " ")
