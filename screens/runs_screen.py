"""Runs history: every past run with its result, its curves, and two runs compared side by side.

The list is read from the run folders each time the screen is shown (a run may have finished
meanwhile). Folders a crash left half written show as "broken" with the reason instead of
breaking the list. Unfinished runs with a checkpoint can be resumed from here.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, DataTable, Footer, Label, Static

from whisper_tui.training.runs import MetricsReport, RunSummary, list_runs, metric_series, read_metrics_report, runs_roots

from screens.console_link import open_in_console
from screens.widgets.charts import MetricChart, Series
from screens.widgets.mode_bar import ModeBar
from screens.presenters.run_format import MISSING, fmt_duration, fmt_rate, fmt_when
from screens.presenters.runs_compare import compare_rows
from screens.presenters.runs_info import RESUMABLE, resume_text, run_info_text, status_text
from screens.presenters.runs_stats import keep_curve, run_stats, wer_curve

MARK = "●"


class RunsScreen(Screen):
    """Past runs under the runs folder (and `extra_roots`)."""

    CSS_PATH = "../styles/runs.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    HELP = ("Every training run: its best WER, its loss and WER curves. Mark two runs with space and press c "
            "to compare them; t transcribes with a run's model, u resumes a cancelled or interrupted run.")
    BINDINGS = [
        Binding("enter", "open", "Open", show=False, tooltip="Show the run's curves", id="runs.open"),
        Binding("space", "mark", "Mark", tooltip="Mark / unmark a run for comparing (two at most)", id="runs.mark"),
        Binding("c", "compare", "Compare", tooltip="Compare the two marked runs", id="runs.compare"),
        Binding("t", "transcribe", "Transcribe", tooltip="Transcribe with this run's model", id="runs.transcribe"),
        Binding("u", "resume", "Resume", tooltip="Resume a cancelled or interrupted run from its checkpoint",
                id="runs.resume"),
        Binding("r", "refresh", "Refresh", tooltip="Read the runs folder again", id="runs.refresh"),
        Binding("escape", "back", "Back", tooltip="Back to the list of runs", id="runs.back"),
    ]

    def __init__(self, name: str | None = None, id: str | None = None, classes: str | None = None, *,
                 root=None, extra_roots=()) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.root = root
        self.extra_roots = tuple(extra_roots)
        self.runs: list[RunSummary] = []
        self.marked: list[Path] = []  # at most two, oldest first
        self.shown: RunSummary | None = None
        self._reports: dict[Path, MetricsReport] = {}

    # -- layout --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield ModeBar("runs")
        yield Label("", id="runs-status")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        with ContentSwitcher(initial="runs-empty", id="runs-view"):
            yield Static("", id="runs-empty")
            with Vertical(id="runs-detail"):
                yield Static("", id="runs-info")
                with Horizontal(id="runs-charts"):
                    yield MetricChart("Training loss", empty_text="no training steps logged", id="runs-loss")
                    yield MetricChart("WER % (step 0 = before training)", markers=True,
                                      empty_text="no evaluations logged", id="runs-wer")
            with Vertical(id="runs-compare"):
                with Horizontal(id="runs-compare-body"):
                    yield DataTable(id="runs-compare-table", cursor_type="none", zebra_stripes=True)
                    with Vertical(id="runs-compare-charts"):
                        yield MetricChart("WER %  (A cyan, B orange)", markers=True, legend=False,
                                          empty_text="no evaluations logged", id="runs-compare-wer")
                        yield MetricChart("Training loss  (A cyan, B orange)", legend=False,
                                          empty_text="no training steps logged", id="runs-compare-loss")
        yield Footer()

    def on_mount(self) -> None:
        self._keep_column: bool | None = None
        self.refresh_runs()

    def _columns(self, keep: bool) -> None:
        """The list's columns; "General" (keep-set WER, base → best) only once some run has measured it."""
        if keep == self._keep_column:
            return
        table = self.query_one("#runs-table", DataTable)
        table.clear(columns=True)
        columns = [("mark", " "), ("started", "Started"), ("status", "Status"), ("profile", "Profile"),
                   ("strategy", "Strategy"), ("best", "Best WER"), ("base", "Before"),
                   *([("keep", "General")] if keep else []), ("duration", "Duration"), ("name", "Run")]
        for key, label in columns:
            table.add_column(label, key=key)
        self._keep_column = keep

    def on_screen_resume(self) -> None:
        self.refresh_runs()

    # -- data ----------------------------------------------------------------------------------
    def _run_roots_text(self) -> str:
        return ", ".join(str(r) for r in runs_roots(self.root, self.extra_roots))

    def refresh_runs(self) -> None:
        self.runs = list_runs(self.root, self.extra_roots)
        self._reports.clear()
        keys = {run.run_dir for run in self.runs}
        self.marked = [path for path in self.marked if path in keys]
        table = self.query_one("#runs-table", DataTable)
        cursor_key = self.shown.run_dir if self.shown else None
        table.clear()
        self._columns(any(run.keep_change != (None, None) for run in self.runs))
        for run in self.runs:
            table.add_row(*self._cells(run), key=str(run.run_dir))
        if not self.runs:
            self.shown = None
            self.query_one("#runs-empty", Static).update(Text.assemble(
                ("No training runs yet\n\n", "bold"), f"Runs are kept in {self._run_roots_text()}.\n",
                "Press ", ("2", "bold reverse"), " to set up and start one."))
            self._set_view("runs-empty")
        else:
            index = next((i for i, run in enumerate(self.runs) if run.run_dir == cursor_key), 0)
            table.move_cursor(row=index)
            if self.query_one("#runs-view", ContentSwitcher).current != "runs-compare":
                self.show_run(self.runs[index])
        self._update_status()
        self.refresh_bindings()

    def _cells(self, run: RunSummary) -> list:
        mark = Text(MARK, style="bold magenta") if run.run_dir in self.marked else Text("")
        keep = []
        if self._keep_column:
            base, after = run.keep_change
            keep = [MISSING if base is None and after is None else f"{fmt_rate(base)} → {fmt_rate(after)}"]
        return [mark, fmt_when(run.started), status_text(run.status),
                run.profile or "—", run.strategy or "—", fmt_rate(run.best_wer), fmt_rate(run.base_wer),
                *keep, fmt_duration(run.duration_s), run.name]

    def metrics_report(self, run: RunSummary) -> MetricsReport:
        """The run's metrics.jsonl read once per refresh, with the lines it had to skip."""
        if run.run_dir not in self._reports:
            self._reports[run.run_dir] = read_metrics_report(run.run_dir)
        return self._reports[run.run_dir]

    def records(self, run: RunSummary) -> list[dict]:
        return self.metrics_report(run).records

    def _update_status(self) -> None:
        count = len(self.runs)
        text = f"{count} run{'s' * (count != 1)} · space marks two, c compares them"
        if self.marked:
            text += f" · marked: {', '.join(p.name for p in self.marked)}"
        self.query_one("#runs-status", Label).update(text)

    def _set_view(self, view: str) -> None:
        """Comparing takes the whole screen (the list hides); escape brings the list back."""
        self.query_one("#runs-view", ContentSwitcher).current = view
        self.set_class(view == "runs-compare", "-comparing")

    def _run_at_cursor(self) -> RunSummary | None:
        table = self.query_one("#runs-table", DataTable)
        if not self.runs or table.cursor_row < 0 or table.cursor_row >= len(self.runs):
            return None
        return self.runs[table.cursor_row]

    # -- one run -------------------------------------------------------------------------------
    def show_run(self, run: RunSummary) -> None:
        self.shown = run
        records = self.records(run)
        report = self.metrics_report(run)
        info = self.query_one("#runs-info", Static)
        info.update(run_info_text(run, run_stats(records), report.summary))
        info.tooltip = report.warning or None  # the full path and each skipped line's problem
        loss = self.query_one("#runs-loss", MetricChart)
        loss.set_series([Series("loss", *metric_series(records, "step", "loss"))])
        wer = self.query_one("#runs-wer", MetricChart)
        series = [Series("WER %", *wer_curve(records))]
        keep = keep_curve(records)
        if keep[0]:
            series.append(Series("general speech", *keep))
        wer.set_series(series)
        wer.set_title("WER % (step 0 = before training)" + (" · orange: general speech" if keep[0] else ""))
        self._set_view("runs-detail")
        loss.redraw(force=True)
        wer.redraw(force=True)
        self.refresh_bindings()

    @on(DataTable.RowHighlighted, "#runs-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        run = self._run_at_cursor()
        if run is not None and self.query_one("#runs-view", ContentSwitcher).current != "runs-compare":
            self.show_run(run)
        self.refresh_bindings()

    @on(DataTable.RowSelected, "#runs-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    # -- two runs ------------------------------------------------------------------------------
    def compare(self, first: RunSummary, second: RunSummary) -> None:
        runs = (first, second)
        stats = [run_stats(self.records(run)) for run in runs]
        table = self.query_one("#runs-compare-table", DataTable)
        table.clear(columns=True)
        table.add_column("", key="label")
        table.add_column(Text("A", style="bold cyan"), key="a")
        table.add_column(Text("B", style="bold orange1"), key="b")
        for label, left, right in compare_rows(runs, stats):
            table.add_row(Text(label, style="bold"), left, right)
        wer_series, loss_series = [], []
        for tag, run, color in (("A", first, "cyan"), ("B", second, "orange")):
            records = self.records(run)
            wer_series.append(Series(f"{tag} {run.name}", *wer_curve(records), color=color))
            loss_series.append(Series(f"{tag} {run.name}", *metric_series(records, "step", "loss"), color=color))
        wer = self.query_one("#runs-compare-wer", MetricChart)
        loss = self.query_one("#runs-compare-loss", MetricChart)
        wer.set_series(wer_series)
        loss.set_series(loss_series)
        self._set_view("runs-compare")
        skipped = [tag for tag, run in (("A", first), ("B", second)) if self.metrics_report(run).summary]
        self.query_one("#runs-status", Label).update(Text.assemble(
            ("A", "bold cyan"), f" {first.name}   ", ("B", "bold orange1"), f" {second.name}   ",
            ("escape: back to the list", "dim"),
            (f"   ⚠ bad metrics.jsonl lines skipped in {' and '.join(skipped)} (open the run to see which)"
             if skipped else "", "yellow")))
        wer.redraw(force=True)
        loss.redraw(force=True)
        self.refresh_bindings()

    # -- actions -------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        run = self._run_at_cursor() if self.is_mounted else None
        if action in ("open", "mark"):
            return True if run is not None else None
        if action == "compare":
            return True if len(self.marked) == 2 else None
        if action == "back":
            return True if self.has_class("-comparing") else False
        if action == "transcribe":
            return True if run is not None and run.model_dirs else None
        if action == "resume":
            return True if run is not None and run.status in RESUMABLE and run.latest_checkpoint else None
        return True

    def action_open(self) -> None:
        run = self._run_at_cursor()
        if run is not None:
            self.show_run(run)
            self._update_status()

    def action_back(self) -> None:
        self.action_open()
        self.query_one("#runs-table", DataTable).focus()

    def action_mark(self) -> None:
        run = self._run_at_cursor()
        if run is None:
            return
        if run.run_dir in self.marked:
            self.marked.remove(run.run_dir)
        else:
            self.marked.append(run.run_dir)
            if len(self.marked) > 2:
                self.marked.pop(0)  # keep the two most recent marks
        table = self.query_one("#runs-table", DataTable)
        for other in self.runs:
            table.update_cell(str(other.run_dir), "mark", self._cells(other)[0])
        self._update_status()
        self.refresh_bindings()

    def action_compare(self) -> None:
        if len(self.marked) != 2:
            self.notify("Mark two runs with space first.", severity="warning")
            return
        by_dir = {run.run_dir: run for run in self.runs}
        self.compare(by_dir[self.marked[0]], by_dir[self.marked[1]])

    async def action_transcribe(self) -> None:
        run = self._run_at_cursor()
        if run is None or not run.model_dirs:
            self.notify("This run saved no model.", severity="warning")
            return
        model = run.best_dir or run.final_dir
        await open_in_console(self, model, audio=run.data_dir)

    async def action_resume(self) -> None:
        run = self._run_at_cursor()
        if run is None or run.latest_checkpoint is None:
            why = resume_text(run) if run is not None else ""
            self.notify(why or "Nothing to resume: this run has no checkpoint to continue from.",
                        title="Cannot resume", severity="warning")
            return
        from whisper_tui.errors import WhisperTuiError
        from whisper_tui.config.profile import load_profile

        try:
            profile = load_profile(run.run_dir / "profile.toml")
        except WhisperTuiError as error:
            self.notify(f"{error.message}\n{error.hint}".strip(), title="Cannot resume", severity="error")
            return
        starter = getattr(self.app, "start_training", None)
        if not callable(starter):
            self.notify("This app cannot start training.", severity="error")
            return
        result = starter(profile, resume_from=run.run_dir)
        if inspect.isawaitable(result):
            await result

    def action_refresh(self) -> None:
        self.refresh_runs()
        self.notify(f"{len(self.runs)} runs", timeout=2)
