"""Live training dashboard: curves, evals, progress, system load and log of the running job.

The job runs on its own thread and reports through listeners; ours only posts a message, and
everything else happens on the UI thread. Events update a `RunState` (cheap); a 3 Hz timer
redraws charts and labels from it in one batch, so a fast run never floods the screen with
repaints. When the run ends a summary panel says how it went and offers the next step.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, DataTable, Footer, Label, ProgressBar, RichLog, Static

from whisper_tui.errors import WhisperTuiError
from whisper_tui.training.events import (
    CheckpointSaved,
    EvalEvent,
    EvalFailed,
    LogEvent,
    Paused,
    Resumed,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
    TrainingEvent,
)

from screens.console_link import open_in_console
from screens.widgets.charts import MetricChart, Series
from screens.modals.confirm import ConfirmModal
from screens.widgets.gauges import SystemGauges
from screens.messages.dashboard import TrainingEventMessage, TrainingSteps, message_for
from screens.presenters.dashboard_state import RunState
from screens.presenters.dashboard_summary import summary_text
from screens.widgets.log_panel import LogPanel
from screens.widgets.mode_bar import ModeBar
from screens.presenters.run_format import fmt_duration, fmt_lr, fmt_number, fmt_rate

REDRAW_SECONDS = 1 / 3
LOG_STYLES = {"warning": "yellow", "error": "bold red"}
EMPTY_TEXT = Text.assemble(
    ("No training run yet\n\n", "bold"),
    "Press ", ("2", "bold reverse"), " to set up training: pick a dataset and a profile,\nthen start the run. ",
    "Loss, learning rate, WER, progress and\nGPU/CPU use show up here while it trains.\n\n",
    "Press ", ("5", "bold reverse"), " for past runs, ", ("4", "bold reverse"), " to transcribe audio.",
)
PHASE_LABELS = {
    "starting": ("preparing data and model…", "yellow"),
    "running": ("training", "green"),
    "pausing": ("pausing after this step…", "yellow"),
    "paused": ("paused — p resumes", "yellow"),
    "cancelling": ("cancelling: saving a checkpoint…", "yellow"),
    "finished": ("finished", "bold green"),
    "failed": ("failed", "bold red"),
    "cancelled": ("cancelled", "yellow"),
}


def _default_job_factory(profile, output_dir=None, resume_from=None, listeners=()):
    from whisper_tui.training.runs import runs_root_for
    from whisper_tui.training.job import TrainingJob

    # a new run goes under the profile's output.dir when it sets one (ProfileError if that is a file)
    runs_root = runs_root_for(profile) if output_dir is None and resume_from is None else None
    return TrainingJob(profile, output_dir, resume_from=resume_from, listeners=listeners, runs_root=runs_root)


class DashboardScreen(Screen):
    """Shows the current training job; `start_run` starts one (the Train setup screen calls it)."""

    CSS_PATH = "../styles/dashboard.tcss"
    HELP = ("The run started from Train setup (2): loss, learning rate, WER after each evaluation, "
            "progress and CPU/GPU load, live. p pauses, c cancels (a checkpoint is saved first).")
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS = [
        Binding("p", "toggle_pause", "Pause", tooltip="Pause or resume the run", id="dashboard.pause"),
        Binding("c", "cancel_run", "Cancel", tooltip="Cancel the run (asks first; a checkpoint is saved)",
                id="dashboard.cancel"),
        Binding("t", "transcribe", "Transcribe", tooltip="Transcribe with the model this run saved",
                id="dashboard.transcribe"),
        Binding("l", "focus_log", "Log", show=False, tooltip="Move to the log panel", id="dashboard.log"),
    ]

    _job_ids = itertools.count(1)

    def __init__(self, job_factory: Callable | None = None, stats_source: Callable | None = None,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._job_factory = job_factory or _default_job_factory
        self._stats_source = stats_source
        self.job = None
        self.job_id = 0
        self.state = RunState()
        self._drawn_version = -1
        self._drawn_evals = 0
        self._keep_column = False  # the eval table has a "general" (keep-set WER) column

    # -- public API used by the app --------------------------------------------------------------
    @property
    def training_active(self) -> bool:
        """True while a job is starting, training, paused or cancelling.

        (Not called `is_running`: Textual's MessagePump already uses that name for "is this
        widget's message loop alive", and overriding it breaks mounting.)
        """
        return self.job is not None and self.state.is_active

    def start_run(self, profile, output_dir=None, resume_from=None):
        """Create and start a training job for `profile`; returns it, or None after telling the user why not.

        Problems the user can fix (busy or half-written run folder, nothing to resume) come back
        from the job's constructor as WhisperTuiError and are shown as a notification here.
        """
        if self.training_active:
            self.notify("A training run is already in progress: cancel it (c) or wait for it to finish.",
                        title="Training", severity="warning")
            return None
        job_id = next(self._job_ids)

        def listener(event: TrainingEvent) -> None:  # training thread: hand over and return
            self.post_message(message_for(event, job_id))

        try:
            job = self._job_factory(profile, output_dir=output_dir, resume_from=resume_from, listeners=[listener])
        except WhisperTuiError as error:
            self.notify(f"{error.message}\n{error.hint}".strip(), title="Could not start training",
                        severity="error", timeout=12)
            return None
        self.job, self.job_id = job, job_id
        self.state = RunState(phase="starting", run_dir=job.run_dir)
        self._drawn_version, self._drawn_evals = -1, 0
        if self.is_mounted:
            self._reset_widgets(profile)
            self.refresh_bindings()
        job.start()
        return job

    def cancel_run(self) -> None:
        """Ask the job to save a checkpoint and stop (no confirmation: callers already asked)."""
        if self.training_active and self.state.phase != "cancelling":
            self.state.mark("cancelling")
            self._send_to_job("cancel")
            self._redraw()

    # -- layout --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield ModeBar("dashboard")
        with ContentSwitcher(initial="dash-empty", id="dash-switcher"):
            yield Static(EMPTY_TEXT, id="dash-empty")
            with Vertical(id="dash-live"):
                with Horizontal(id="dash-head"):
                    yield Label("", id="dash-run")
                    yield Label("", id="dash-phase")
                with Horizontal(id="dash-progress"):
                    yield ProgressBar(total=None, show_eta=False, id="dash-bar")
                    yield Label("", id="dash-step")
                yield Static("", id="dash-summary")
                with Horizontal(id="dash-charts"):
                    yield MetricChart("Training loss", ylabel="loss", empty_text="first loss after a few steps",
                                      id="dash-loss")
                    yield MetricChart("Learning rate", ylabel="lr", empty_text="waiting for the first step",
                                      y_format=lambda v: f"{v:.1e}", id="dash-lr")
                    yield MetricChart("Eval WER %", ylabel="WER %", empty_text="after the first evaluation",
                                      markers=True, legend=False, id="dash-wer")
                with Horizontal(id="dash-bottom"):
                    yield DataTable(id="dash-evals", cursor_type="row", zebra_stripes=True)
                    yield LogPanel(id="dash-log", wrap=True, markup=False, max_lines=2000, min_width=20)
                yield SystemGauges(self._stats_source, id="dash-gauges")
        yield Footer()

    def on_mount(self) -> None:
        self._eval_columns(keep=False)
        self.query_one("#dash-evals").border_title = "Evaluations"
        self.query_one("#dash-log").border_title = "Log"
        self.set_interval(REDRAW_SECONDS, self._redraw)
        if self.job is not None:
            self._reset_widgets(self.job.profile)

    def _eval_columns(self, keep: bool) -> None:
        """step, epoch, WER, CER, [general speech WER when the run measures the keep set], best marker."""
        table = self.query_one("#dash-evals", DataTable)
        table.clear(columns=True)
        table.add_column("step", key="step")
        table.add_column("epoch", key="epoch")
        table.add_column("WER", key="wer")
        table.add_column("CER", key="cer")
        if keep:
            table.add_column("general", key="keep")
        table.add_column("", key="best")
        self._keep_column = keep

    def _reset_widgets(self, profile) -> None:
        self.query_one("#dash-switcher", ContentSwitcher).current = "dash-live"
        self._eval_columns(keep=bool(profile.data.keep_set))
        log = self.query_one("#dash-log", RichLog)
        log.clear()
        name = profile.name or "unnamed"
        log.write(Text(f"starting a run with profile {name}", style="dim"))
        self._drawn_version, self._drawn_evals = -1, 0
        self._redraw()

    # -- events from the job -------------------------------------------------------------------
    def on_training_steps(self, message: TrainingSteps) -> None:
        message.stop()
        if message.job_id != self.job_id:
            return
        for event in message.events:
            self.state.apply(event)

    def on_training_event_message(self, message: TrainingEventMessage) -> None:
        message.stop()
        if message.job_id != self.job_id:
            return
        event = message.event
        self.state.apply(event)
        self._log_event(event)
        if isinstance(event, RunFinished) and self.state.base_wer is None:
            self._read_base_wer(event.run_dir)
        if isinstance(event, (RunFinished, RunFailed, RunCancelled, EvalEvent, EvalFailed, RunStarted, Paused,
                              Resumed)):
            self._redraw()  # rare and meaningful: show at once
        if isinstance(event, (RunFinished, RunFailed, RunCancelled)):
            self.refresh_bindings()
            self._notify_end(event)

    def _read_base_wer(self, run_dir: Path) -> None:
        from whisper_tui.training.runs import read_run

        run = read_run(run_dir)
        self.state.base_wer = run.base_wer
        if self.state.base_keep_wer is None:
            self.state.base_keep_wer = run.base_keep_wer

    def _log_event(self, event: TrainingEvent) -> None:
        log = self.query_one("#dash-log", RichLog)
        if isinstance(event, LogEvent):
            log.write(Text(event.message, style=LOG_STYLES.get(event.level, "")))
        elif isinstance(event, EvalEvent):
            label = "base model" if event.step == 0 else f"step {event.step}"
            best = " ★ best" if event.is_best else ""
            keep = f" · general speech {fmt_rate(event.keep_wer)}" if event.keep_wer is not None else ""
            log.write(Text(f"eval {label}: WER {fmt_rate(event.wer)} CER {fmt_rate(event.cer)}{keep}{best}",
                           style="bold" if event.is_best else ""))
        elif isinstance(event, CheckpointSaved):
            what = {"best": "best model", "final": "final model", "cancel": "checkpoint before stopping"}
            log.write(Text(f"saved {what.get(event.reason, 'checkpoint')} at step {event.step} → {event.path.name}/",
                           style="dim"))
        elif isinstance(event, Paused):
            log.write(Text(f"paused at step {event.step}", style="yellow"))
        elif isinstance(event, Resumed):
            log.write(Text(f"resumed at step {event.step}", style="green"))
        elif isinstance(event, RunStarted):
            length = f"{event.total_steps} steps" if not event.budget_s else (
                f"at most {event.epochs:g} epochs ({event.total_steps} steps): the {fmt_duration(event.budget_s)} "
                "time budget decides how many")
            log.write(Text(f"training {event.train_clips} clips (testing on {event.test_clips}), {length}"
                           f" on {event.device} in {event.precision}", style="dim"))
        elif isinstance(event, RunFailed):
            log.write(Text(f"failed: {event.reason}" + (f" — {event.hint}" if event.hint else ""), style="bold red"))

    def _notify_end(self, event: TrainingEvent) -> None:
        """Only when the user is elsewhere: here the summary panel already says it."""
        if self.is_current:
            return
        if isinstance(event, RunFinished):
            self.notify(f"Training finished — best WER {fmt_rate(event.best_wer)}", title="Training")
        elif isinstance(event, RunFailed):
            self.notify(event.reason, title="Training failed", severity="error", timeout=10)
        else:
            self.notify("Training cancelled", title="Training", severity="warning")

    # -- drawing -------------------------------------------------------------------------------
    def _redraw(self) -> None:
        state = self.state
        if state.version == self._drawn_version or not self.is_mounted:
            return
        self._drawn_version = state.version
        with self.app.batch_update():
            self._draw_head()
            self._draw_progress()
            self._draw_charts()
            self._draw_evals()
            self._draw_summary()

    def _draw_head(self) -> None:
        state = self.state
        started = state.started
        profile = self.job.profile.name if self.job is not None else ""
        if started is not None:
            run = f"{profile or started.run_dir.name} · {started.strategy} · {started.device}/{started.precision}"
            run += f" · {started.train_clips} train / {started.test_clips} test clips"
            if started.total_params:
                run += f" · {100 * started.trainable_params / started.total_params:.1f}% trainable"
        else:
            run = profile or (state.run_dir.name if state.run_dir else "")
        self.query_one("#dash-run", Label).update(run)
        text, style = PHASE_LABELS.get(state.phase, (state.phase, ""))
        phase = Text(text, style=style)
        if state.eval_failed is not None and state.is_active:  # the ended run's summary says it in full
            failed = state.eval_failed.count
            phase.append(f" · {failed} evaluation{'s' if failed > 1 else ''} failed (see the log)", style="bold red")
        self.query_one("#dash-phase", Label).update(phase)
        self._set_app_status()

    def _set_app_status(self) -> None:
        """The short run status every screen's mode bar shows (the app's `status_line`)."""
        if not hasattr(self.app, "status_line"):  # hosted by another App (the tests' own): no mode bar status
            return
        state = self.state
        status = ""
        if state.is_active:
            step = state.last_step
            percent = f" {100 * step.step / step.total_steps:.0f}%" if step and step.total_steps else ""
            status = {"paused": "● paused", "cancelling": "● cancelling"}.get(state.phase, f"● training{percent}")
        self.app.status_line = status

    def _draw_progress(self) -> None:
        state = self.state
        bar = self.query_one("#dash-bar", ProgressBar)
        step = state.last_step
        total = state.total_steps
        if total:
            bar.update(total=total, progress=step.step if step else 0)
        if state.phase == "finished" and total:
            bar.update(progress=total)
        if step is None:
            self.query_one("#dash-step", Label).update("waiting for the first training step…"
                                                       if state.is_active else "")
            return
        # the epochs the run goes to: under a time budget those that fit (the job's estimate, from the first step)
        epochs = step.total_epochs or (state.started.epochs if state.started else None)
        parts = [f"step {step.step}/{step.total_steps}", f"epoch {step.epoch:.2f}" + (f"/{epochs:g}" if epochs else "")]
        if state.is_active:
            parts.append(f"ETA {fmt_duration(step.eta_seconds)}")
        if not math.isnan(step.loss):
            parts.append(f"loss {fmt_number(step.loss, 3)}")
        parts.append(f"lr {fmt_lr(step.learning_rate)}")
        parts.append(f"{step.samples_per_second:.1f} samples/s")
        self.query_one("#dash-step", Label).update(" · ".join(parts))

    def _draw_charts(self) -> None:
        state = self.state
        loss_points = [(s, v) for s, v in zip(state.steps, state.losses) if not math.isnan(v)]
        self.query_one("#dash-loss", MetricChart).set_series(
            [Series("loss", [p[0] for p in loss_points], [p[1] for p in loss_points])])
        self.query_one("#dash-lr", MetricChart).set_series([Series("lr", state.steps, state.learning_rates)])
        evals = [e for e in state.evals if e.step > 0 or len(state.evals) == 1]
        keep = state.has_keep  # with general speech: fixed colours (test cyan, general speech orange)
        series = [Series("eval WER %", [e.step for e in evals], [100 * e.wer for e in evals],
                         color="cyan" if keep else None)]
        wer_chart = self.query_one("#dash-wer", MetricChart)
        trained = bool(evals) and evals[-1].step > 0
        if state.base_wer is not None:
            if trained:  # flat reference line: where training started from
                xs = [0, max(e.step for e in evals)]
                series.insert(0, Series("base model", xs, [100 * state.base_wer] * 2, color="gray"))
            wer_chart.set_title(f"Eval WER % (base model {fmt_rate(state.base_wer)})")
        else:
            wer_chart.set_title("Eval WER %")
        if keep:  # general speech (the keep set): a second line, with its own gray base line
            kept = [e for e in evals if e.keep_wer is not None]
            if state.base_keep_wer is not None and trained:
                xs = [0, max(e.step for e in evals)]
                series.insert(1, Series("general speech, base model", xs, [100 * state.base_keep_wer] * 2,
                                        color="gray"))
            series.append(Series("general speech", [e.step for e in kept], [100 * e.keep_wer for e in kept],
                                 color="orange"))
            wer_chart.set_title("Eval WER % · orange: general speech")
        wer_chart.set_series(series)
        for chart in self.query(MetricChart):
            chart.redraw()

    def _draw_evals(self) -> None:
        state = self.state
        table = self.query_one("#dash-evals", DataTable)
        best = state.best_eval
        if len(state.evals) != self._drawn_evals:
            for event in state.evals[self._drawn_evals:]:
                step = "base" if event.step == 0 else str(event.step)
                cells = [step, f"{event.epoch:.2f}", fmt_rate(event.wer), fmt_rate(event.cer)]
                if self._keep_column:
                    cells.append(Text(fmt_rate(event.keep_wer), style="" if event.keep_within else "yellow"))
                table.add_row(*cells, "", key=f"eval-{len(table.rows)}")
            self._drawn_evals = len(state.evals)
            table.move_cursor(row=table.row_count - 1)
        for index, event in enumerate(state.evals):
            # "★" alone: with the general column, "★ best" overran the 42-column panel of a 100-column terminal;
            # the log's "eval step N: ... ★ best" says what it means
            marker = Text("★", style="bold green") if event is best else ""
            table.update_cell(f"eval-{index}", "best", marker)

    def _draw_summary(self) -> None:
        summary = self.query_one("#dash-summary", Static)
        ended = self.state.has_ended
        summary.display = ended
        self.set_class(ended, "-ended")
        summary.set_class(self.state.phase == "failed", "-failed")
        summary.set_class(self.state.phase == "finished", "-finished")
        if ended:
            summary.update(summary_text(self.state))

    # -- actions -------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_pause", "cancel_run", "transcribe") and self.job is None:
            return False  # nothing to act on: keep the footer clean
        if action == "toggle_pause":
            return True if self.training_active and self.state.phase != "cancelling" else None
        if action == "cancel_run":
            return True if self.training_active and self.state.phase != "cancelling" else None
        if action == "transcribe":
            return True if self.state.model_dir is not None else None
        return True

    def action_toggle_pause(self) -> None:
        if not self.training_active:
            return
        if self.state.phase in ("paused", "pausing"):
            self._send_to_job("resume")
            if self.state.phase == "pausing":
                self.state.mark("running")  # the job never got to pause
        else:
            self._send_to_job("pause")
            self.state.mark("pausing")
        self._redraw()
        self.refresh_bindings()

    def action_cancel_run(self) -> None:
        if not self.training_active:
            return
        step = self.state.last_step.step if self.state.last_step else 0

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.cancel_run()
                self.refresh_bindings()

        self.app.push_screen(ConfirmModal(
            "Cancel this training run?",
            f"Training stops after the current step (now {step}). A checkpoint is saved first, so the run "
            "can be resumed later; the model so far stays in the run folder.",
            yes_label="Cancel run", no_label="Keep training"), answered)

    def _run_data_folder(self) -> str:
        """The folder the run trained on (the bundled sample data when the profile left it empty)."""
        data = self.job.profile.data
        if data.train_dir:
            return data.train_dir
        from whisper_tui.config.locations import default_sample_data_dir

        return str(default_sample_data_dir())

    async def action_transcribe(self) -> None:
        model_dir = self.state.model_dir
        if model_dir is None:
            self.notify("No finished model yet", severity="warning")
            return
        await open_in_console(self, model_dir, audio=self._run_data_folder())

    def action_focus_log(self) -> None:
        self.query_one("#dash-log").focus()

    def _send_to_job(self, command: str) -> None:
        """pause/resume/cancel only set flags the training thread checks between steps: safe to call here."""
        job = self.job
        if job is not None:
            getattr(job, command)()

    def on_screen_resume(self) -> None:
        self._drawn_version = -1  # sizes may have changed while hidden
        self._redraw()
