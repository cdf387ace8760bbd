"""Dashboard screen: fed real training events by a scripted job, it must show them; keys must reach the job."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import DataTable, Label, RichLog, Static
from helpers_tui import dashboard_drawn, until
from helpers_tui_doubles import FakeProfile, ScriptedJob, no_gpu_stats, training_script

from screens.dashboard import DashboardScreen
from screens.widgets.charts import MetricChart
from screens.modals.confirm import ConfirmModal
from screens.widgets.gauges import SystemGauges
from screens.messages.dashboard import TrainingSteps
from whisper_tui.errors import RunFolderError
from whisper_tui.training.events import Paused, Resumed, RunCancelled, RunFailed, StepEvent


class DashApp(App):
    """Just the dashboard, with a scripted job and fixed system stats."""

    def __init__(self, run_dir: Path, factory=None) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.jobs: list[ScriptedJob] = []
        self.opened: list[Path] = []
        self._factory = factory

    def make_job(self, *args, **kwargs) -> ScriptedJob:
        if self._factory is not None:
            return self._factory(*args, **kwargs)
        job = ScriptedJob(*args, **kwargs, run_dir=self.run_dir)
        self.jobs.append(job)
        return job

    async def open_transcribe(self, path, audio=None, compare=False) -> None:
        self.opened.append(Path(path))
        self.open_options = {"audio": audio, "compare": compare}

    def on_mount(self) -> None:
        self.dashboard = DashboardScreen(job_factory=self.make_job, stats_source=no_gpu_stats)
        self.push_screen(self.dashboard)


def text_of(widget) -> str:
    if isinstance(widget, RichLog):
        return "\n".join("".join(segment.text for segment in line) for line in widget.lines)
    return str(widget.content)


def play_from_thread(job: ScriptedJob, events) -> None:
    """Listeners are called from the training thread in real life: do the same."""
    thread = threading.Thread(target=job.play, args=(list(events),))
    thread.start()
    thread.join()


async def settle(pilot) -> None:
    await dashboard_drawn(pilot, pilot.app.dashboard)


async def test_empty_state_says_how_to_start(tmp_path):
    app = DashApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        dash = app.dashboard
        empty = dash.query_one("#dash-empty", Static)
        assert empty.display and "Press 2 to set up training" in text_of(empty)
        assert not dash.query_one("#dash-live").display
        assert not dash.training_active
        assert dash.check_action("toggle_pause", ()) is False  # nothing to pause: hidden from the footer
        await pilot.press("p", "c", "t")  # harmless without a run
        assert app.jobs == []


async def test_scripted_run_updates_every_panel(tmp_path):
    app = DashApp(tmp_path / "run")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        dash = app.dashboard
        job = dash.start_run(FakeProfile())
        assert job.calls == ["start"] and dash.training_active
        script = training_script(job.run_dir, total=40)
        finished_at = next(i for i, e in enumerate(script) if type(e).__name__ == "CheckpointSaved"
                           and e.reason == "final")
        halfway = next(i for i, e in enumerate(script) if isinstance(e, StepEvent) and e.step == 26)

        play_from_thread(job, script[:halfway + 1])
        await settle(pilot)

        assert dash.query_one("#dash-live").display
        assert "step 26/40" in text_of(dash.query_one("#dash-step", Label))
        assert "ETA" in text_of(dash.query_one("#dash-step", Label))
        assert "training" in text_of(dash.query_one("#dash-phase", Label))
        assert "24 train / 6 test clips" in text_of(dash.query_one("#dash-run", Label))
        table = dash.query_one("#dash-evals", DataTable)
        assert table.row_count == 3  # base + steps 10, 20
        assert [str(table.get_row_at(i)[0]) for i in range(3)] == ["base", "10", "20"]
        assert str(table.get_row_at(2)[4]) == "★" and str(table.get_row_at(1)[4]) == ""
        log = text_of(dash.query_one("#dash-log", RichLog))
        assert "disk is getting full" in log and "eval step 20: WER 34.0%" in log
        loss = dash.query_one("#dash-loss", MetricChart)
        assert len(loss.series[0].xs) == 26
        wer = dash.query_one("#dash-wer", MetricChart)
        assert "base model 42.0%" in wer.chart_title
        assert not dash.query_one("#dash-summary").display
        assert dash.check_action("transcribe", ()) is None  # shown dimmed until the run finishes

        play_from_thread(job, script[halfway + 1:])
        await settle(pilot)

        assert not dash.training_active
        assert "finished" in text_of(dash.query_one("#dash-phase", Label))
        summary = dash.query_one("#dash-summary", Static)
        assert summary.display
        text = text_of(summary)
        assert "Training finished" in text and "best WER 22.0%" in text and "base model 42.0%" in text
        assert str(job.run_dir) in text
        assert table.row_count == 5 and str(table.get_row_at(4)[4]) == "★"
        assert finished_at > 0

        await pilot.press("t")
        await pilot.pause()
        assert app.opened == [job.run_dir / "best"]
        # the console opens on the run's data, comparing against the base model
        assert app.open_options["compare"] is True
        assert app.open_options["audio"] == "/data/speech"


async def test_pause_and_resume_keys_reach_the_job(tmp_path):
    app = DashApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        job = app.dashboard.start_run(FakeProfile())
        play_from_thread(job, training_script(job.run_dir, total=10, evals=(), finish=False)[:5])
        await settle(pilot)

        await pilot.press("p")
        assert job.calls[-1] == "pause"
        await settle(pilot)
        assert "pausing" in text_of(app.dashboard.query_one("#dash-phase", Label))
        play_from_thread(job, [Paused(2)])
        await settle(pilot)
        assert "paused" in text_of(app.dashboard.query_one("#dash-phase", Label))
        assert "paused at step 2" in text_of(app.dashboard.query_one("#dash-log", RichLog))

        await pilot.press("p")
        assert job.calls[-1] == "resume"
        play_from_thread(job, [Resumed(2)])
        await settle(pilot)
        assert text_of(app.dashboard.query_one("#dash-phase", Label)) == "training"


async def test_cancel_asks_first_and_only_yes_cancels(tmp_path):
    app = DashApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        job = app.dashboard.start_run(FakeProfile())
        play_from_thread(job, training_script(job.run_dir, total=10, evals=(), finish=False)[:6])
        await settle(pilot)

        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmModal)
        assert "cancel" not in job.calls

        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert job.calls.count("cancel") == 1
        assert "cancelling" in text_of(app.dashboard.query_one("#dash-phase", Label))
        assert app.dashboard.training_active  # until the job confirms

        checkpoint = job.run_dir / "checkpoints" / "checkpoint-3"
        play_from_thread(job, [RunCancelled(checkpoint, 3)])
        await settle(pilot)
        assert not app.dashboard.training_active
        summary = text_of(app.dashboard.query_one("#dash-summary", Static))
        assert "cancelled at step 3" in summary and str(checkpoint) in summary


async def test_failure_shows_reason_and_hint(tmp_path):
    app = DashApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        job = app.dashboard.start_run(FakeProfile())
        play_from_thread(job, training_script(job.run_dir, total=10, evals=(), finish=False)[:4])
        play_from_thread(job, [RunFailed("out of memory during training", "lower the batch size", "OutOfMemory")])
        await settle(pilot)
        summary = app.dashboard.query_one("#dash-summary", Static)
        assert summary.display and summary.has_class("-failed")
        text = text_of(summary)
        assert "out of memory during training" in text and "lower the batch size" in text
        assert app.dashboard.check_action("transcribe", ()) is None


async def test_start_errors_are_notified_not_raised(tmp_path):
    def refuse(*args, **kwargs):
        raise RunFolderError(f"{tmp_path} is in use by another training run (pid 1)", "choose another folder")

    app = DashApp(tmp_path, factory=refuse)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.dashboard.start_run(FakeProfile()) is None
        await pilot.pause()
        assert not app.dashboard.training_active
        assert any("in use by another training run" in n.message for n in app._notifications)


async def test_second_start_while_running_is_refused(tmp_path):
    app = DashApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.dashboard.start_run(FakeProfile()) is not None
        assert app.dashboard.start_run(FakeProfile()) is None
        assert len(app.jobs) == 1


async def test_gauges_show_no_gpu_note(tmp_path):
    app = DashApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.dashboard.start_run(FakeProfile())
        gauges = app.dashboard.query_one(SystemGauges)
        await until(pilot, lambda: gauges.polls >= 1)
        assert gauges.polls >= 1
        rendered = str(gauges.render())
        assert "No NVIDIA GPU detected" in rendered and "91% of 2 cores" in rendered


async def test_slow_polls_never_overlap():
    running = []
    overlaps = []
    lock = threading.Lock()

    def slow_source():
        with lock:
            running.append(1)
            if len(running) > 1:
                overlaps.append(len(running))
        time.sleep(0.08)  # slower than the poll interval
        with lock:
            running.pop()
        return no_gpu_stats()

    class GaugeApp(App):
        def compose(self):
            yield SystemGauges(slow_source, poll_seconds=0.01)

    app = GaugeApp()
    async with app.run_test(size=(80, 5)) as pilot:
        gauges = app.query_one(SystemGauges)
        await until(pilot, lambda: gauges.polls >= 3)
        assert gauges.polls >= 3
    assert overlaps == []


def test_gauge_packing_fits_width():
    from screens.widgets.gauges import gauge_items, pack_lines
    from helpers_tui_doubles import gpu_machine_stats

    items = gauge_items(gpu_machine_stats())
    narrow, wide = pack_lines(items, 78), pack_lines(items, 200)
    assert len(wide) == 1 and len(narrow) == 2
    assert all(line.cell_len <= 78 for line in narrow)
    assert "GPU0 mem" in narrow[1].plain and "40.0 GiB / 80.0 GiB" in narrow[1].plain


def test_step_backlog_collapses_without_losing_points():
    events = [StepEvent(i, 10, i / 10, 1.0 / i, 1e-5, 4.0, None) for i in range(1, 4)]
    first, second, third = (TrainingSteps(e, job_id=7) for e in events)
    assert first.can_replace(second)
    assert second.can_replace(third)
    assert [e.step for e in third.events] == [1, 2, 3]
    assert not third.can_replace(TrainingSteps(events[0], job_id=8))  # another job's steps stay apart


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_finished_layout_keeps_summary_and_table_visible(tmp_path, size):
    app = DashApp(tmp_path / "run")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        job = app.dashboard.start_run(FakeProfile())
        play_from_thread(job, training_script(job.run_dir, total=20, evals=(10, 20)))
        await settle(pilot)
        dash = app.dashboard
        screen_region = dash.region
        for selector, lines in (("#dash-summary", 5), ("#dash-evals", 5), ("#dash-log", 5), ("#dash-gauges", 1)):
            widget = dash.query_one(selector)
            assert widget.region.height >= lines, selector
            assert screen_region.contains_region(widget.region), selector


def make_tone_dataset(folder: Path, n_clips: int = 6) -> Path:
    """Synthetic clips (tones + noise) with transcripts: enough for the trainer to run, not to learn."""
    import numpy as np
    import soundfile as sf

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = ["file_name,transcription"]
    words = ["one two", "three four", "five six", "seven eight", "nine ten", "eleven twelve"]
    for index in range(n_clips):
        t = np.arange(int(16000 * 0.6)) / 16000
        wave = 0.3 * np.sin(2 * np.pi * (220 + 60 * index) * t) + 0.02 * rng.standard_normal(t.size)
        sf.write(folder / f"clip{index}.wav", wave.astype("float32"), 16000)
        rows.append(f"clip{index}.wav,{words[index % len(words)]}")
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n")
    return folder


async def test_real_training_job_drives_the_dashboard(tmp_path, tiny_whisper_dir):
    from whisper_tui.config.profile import apply_overrides, load_profile

    data = make_tone_dataset(tmp_path / "data")
    profile = apply_overrides(load_profile("cpu-quick"), {
        "model.name": str(tiny_whisper_dir), "data.train_dir": str(data), "data.test_split": 0.34,
        "finetuning.strategy": "full", "finetuning.freeze_encoder": False, "finetuning.encoder_cache": False,
        "training.num_train_epochs": 1, "training.per_device_train_batch_size": 2,
        "training.per_device_eval_batch_size": 2, "training.learning_rate": 1e-4,
        "training.generation_max_length": 8, "training.eval_strategy": "epoch"})

    class RealApp(App):
        def on_mount(self) -> None:
            self.dashboard = DashboardScreen(stats_source=no_gpu_stats)
            self.push_screen(self.dashboard)

    app = RealApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        dash = app.dashboard
        job = dash.start_run(profile, output_dir=tmp_path / "run")
        assert job is not None and dash.training_active
        assert job.wait(240), "training did not finish"
        for _ in range(50):  # let the last messages arrive
            await pilot.pause(0.1)
            if not dash.training_active:
                break
        assert dash.state.phase == "finished", dash.state.failed
        assert dash.state.last_step is not None and dash.state.last_step.step == dash.state.total_steps == 2
        assert "step 2/2" in text_of(dash.query_one("#dash-step", Label))
        assert dash.query_one("#dash-evals", DataTable).row_count == 2  # base model + epoch 1
        summary = text_of(dash.query_one("#dash-summary", Static))
        assert "Training finished" in summary and str(tmp_path / "run") in summary
        assert (tmp_path / "run" / "final").is_dir()
        assert "run folder" in text_of(dash.query_one("#dash-log", RichLog))


# -- the keep set (general speech) ----------------------------------------------------------------


class KeepData:
    train_dir = "/data/speech"
    keep_set = True


class KeepProfile(FakeProfile):
    data = KeepData()


def with_keep(script, keep_wers: dict[int, float], within: dict[int, bool] | None = None, finish_metrics=None):
    """training_script's events with the keep set's WER on each evaluation (by step) and in RunFinished."""
    from dataclasses import replace

    from whisper_tui.training.events import EvalEvent, RunFinished

    out = []
    for event in script:
        if isinstance(event, EvalEvent):
            event = replace(event, keep_wer=keep_wers[event.step], keep_cer=keep_wers[event.step] / 3,
                            keep_within=(within or {}).get(event.step, True))
        elif isinstance(event, RunFinished) and finish_metrics is not None:
            event = replace(event, metrics={**event.metrics, **finish_metrics})
        out.append(event)
    return out


async def test_keep_set_draws_a_second_line_a_column_and_the_summary(tmp_path):
    app = DashApp(tmp_path / "run")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        dash = app.dashboard
        job = dash.start_run(KeepProfile())
        script = with_keep(training_script(job.run_dir, total=20, evals=(10, 20)), {0: 0.158, 10: 0.152, 20: 0.149},
                           finish_metrics={"base_keep_wer": 0.158, "best_keep_wer": 0.149,
                                           "keep_summary": "general speech: 15.8% → 14.9% (kept)",
                                           "keep_over": False, "stopped": "time budget: 2 epoch(s) fit in 5m"})
        play_from_thread(job, script)
        await settle(pilot)

        table = dash.query_one("#dash-evals", DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["step", "epoch", "WER", "CER", "general", ""]
        assert [str(table.get_row_at(i)[4]) for i in range(3)] == ["15.8%", "15.2%", "14.9%"]
        assert str(table.get_row_at(2)[5]) == "★"
        chart = dash.query_one("#dash-wer", MetricChart)
        labels = [s.label for s in chart.series]
        assert labels == ["base model", "general speech, base model", "eval WER %", "general speech"]
        assert list(chart.series[3].ys) == pytest.approx([15.2, 14.9])
        assert chart.series[1].color == "gray" and list(chart.series[1].ys) == pytest.approx([15.8, 15.8])
        assert "general speech" in chart.chart_title
        assert "general speech 15.2%" in text_of(dash.query_one("#dash-log", RichLog))
        summary = text_of(dash.query_one("#dash-summary", Static))
        assert "general speech: 15.8% → 14.9% (kept)" in summary and "best WER 34.0%" in summary
        assert "(time budget: 2 epoch(s) fit in 5m)" in summary  # why the run ended where it did


async def test_keep_set_worse_than_the_tolerance_warns(tmp_path):
    app = DashApp(tmp_path / "run")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        dash = app.dashboard
        job = dash.start_run(KeepProfile())
        # no keep_summary from the job: the summary works it out from the evaluations (best = step 20)
        script = with_keep(training_script(job.run_dir, total=20, evals=(10, 20)), {0: 0.158, 10: 0.17, 20: 0.21},
                           within={20: False})
        play_from_thread(job, script)
        await settle(pilot)
        summary = text_of(dash.query_one("#dash-summary", Static))
        assert "⚠ general speech: 15.8% → 21.0% (worse by 5.2 points, over the 2-point tolerance)" in summary
        cell = dash.query_one("#dash-evals", DataTable).get_row_at(2)[4]
        assert str(cell) == "21.0%" and cell.style == "yellow"


async def test_without_a_keep_set_the_table_has_no_general_column(tmp_path):
    app = DashApp(tmp_path / "run")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        job = app.dashboard.start_run(FakeProfile())
        play_from_thread(job, training_script(job.run_dir, total=10, evals=(10,)))
        await settle(pilot)
        table = app.dashboard.query_one("#dash-evals", DataTable)
        assert "general" not in [str(c.label) for c in table.columns.values()]
        assert [s.label for s in app.dashboard.query_one("#dash-wer", MetricChart).series] == [
            "base model", "eval WER %"]


# -- output.dir: where the Train flow makes a new run folder ---------------------------------------

def test_the_train_flow_makes_new_runs_under_the_profiles_output_dir(tmp_path):
    from screens.dashboard import _default_job_factory
    from whisper_tui.config.profile import apply_overrides, load_profile
    from whisper_tui.training.runs import remembered_runs_roots

    profile = apply_overrides(load_profile("cpu-quick"), {"output.dir": str(tmp_path / "runs-here")})
    job = _default_job_factory(profile)
    assert job.run_dir.parent == tmp_path / "runs-here" and job.run_dir.name.endswith("-cpu-quick")
    assert remembered_runs_roots() == [tmp_path / "runs-here"]  # the Runs screen will look there
    assert _default_job_factory(profile, output_dir=tmp_path / "one").run_dir == tmp_path / "one"
    from whisper_tui.config.locations import default_runs_dir

    assert _default_job_factory(load_profile("cpu-quick")).run_dir.parent == default_runs_dir()


async def test_an_output_dir_that_is_a_file_is_told_not_started(tmp_path):
    from whisper_tui.config.profile import apply_overrides, load_profile

    (tmp_path / "a-file").write_text("x")
    profile = apply_overrides(load_profile("cpu-quick"), {"output.dir": str(tmp_path / "a-file")})

    class RealApp(App):
        def on_mount(self) -> None:
            self.dashboard = DashboardScreen(stats_source=no_gpu_stats)
            self.push_screen(self.dashboard)

    app = RealApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.dashboard.start_run(profile) is None and not app.dashboard.training_active
        await pilot.pause()
        note = list(app._notifications)[-1]
        assert note.severity == "error" and "output.dir" in note.message and "is a file" in note.message
