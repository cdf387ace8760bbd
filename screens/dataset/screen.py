"""Dataset view (key 1): open a folder, see every clip, what is wrong with it, and how it sounds.

Validation (`whisper_tui.data.dataset.validate_dataset`) reads every file's header and can take a
while on large folders, so it runs in a thread worker; so do decoding the highlighted clip for its
waveform and generating the sample dataset. Rows with problems are coloured (red: not usable for
training, yellow: a warning) and can be filtered to; the side panel sums the folder up the way
training will see it (usable clips, train/test split with the profile's test_split).

A labelled dataset (`whisper-tui label`: status, confidence and flags columns) is reviewed here too
(review.py: edit in place, accept, undo; label.py: label a folder of recordings). The side panel, the
highlighted clip and the sample data are mixins of their own (summary.py, clip_detail.py, sample.py).
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, DataTable, Footer, Input, ProgressBar, Select, Sparkline, Static
from textual.worker import Worker, get_current_worker

from whisper_tui.errors import WhisperTuiError
from whisper_tui.whisper_facts import SAMPLE_RATE

from screens.dataset.clip_detail import ClipDetailMixin
from screens.dataset.import_offer import ImportOfferMixin, import_offer
from screens.dataset.label import LabelFolderMixin
from screens.dataset.report import ReportScreen
from screens.dataset.review import ReviewMixin
from screens.dataset.sample import SampleDataMixin
from screens.dataset.summary import SummaryMixin
from screens.presenters.dataset_rows import (COLUMNS, REVIEW_COLUMNS, ROW_STYLES, SORT_CYCLE, STATUS_FILTERS, WORST,
                                             ClipRow, filter_rows, review_columns, rows_from_report, sort_rows)
from screens.messages import DatasetValidated, EngineFailed, ReviewSheetRead
from screens.notify import error_text, notify_error, notify_worker_failure
from screens.modals.folder_picker import FolderPicker
from screens.widgets.mode_bar import ModeBar
from screens.widgets.path_suggester import PathSuggester
from screens.widgets.review_bar import ReviewBar
from screens.widgets.transcript_editor import TranscriptEditor
from screens.widgets.waveform import Waveform

STATUS_LABELS = {"": "All rows", "auto": "Not reviewed", "reviewed": "Reviewed", "flagged": "Flagged"}
LOW_CONFIDENCE = 0.6  # label confidence under this is shown in yellow
TRANSCRIPT_WIDTH = 60


class DatasetScreen(ReviewMixin, LabelFolderMixin, ImportOfferMixin, SummaryMixin, ClipDetailMixin, SampleDataMixin,
                    Screen):
    AUTO_FOCUS = "#ds-table"  # not the folder field: a first key press should act, not type
    sample_clips: int | None = None  # size of the generated sample set: None = the engine's (tests make a small one)
    HELP = ("Open a dataset folder (audio + metadata.csv) to check it before training. Red rows are not "
            "used for training, yellow rows have warnings.")

    BINDINGS = [
        Binding("f", "focus_folder", "Folder", show=False, tooltip="Type a dataset folder", id="dataset.folder"),
        Binding("b", "browse", "Browse", id="dataset.browse"),
        Binding("s", "open_sample", "Sample", id="dataset.sample"),
        Binding("l", "label_folder", "Label", tooltip="Label a folder of recordings (transcribe, then review)",
                id="dataset.label"),
        Binding("x", "cancel_label", "Cancel labelling", id="dataset.label_cancel"),
        Binding("e", "edit", "Edit", tooltip="Edit the transcript (enter on a row too); saving marks it reviewed",
                id="dataset.edit"),
        Binding("r", "mark_reviewed", "Reviewed", tooltip="Mark the row reviewed as it is and go to the next one",
                id="dataset.reviewed"),
        Binding("u", "undo", "Undo", tooltip="Undo the last edit or mark (the file goes back as it was)",
                id="dataset.undo"),
        Binding("w", "sort_worst", "Worst", tooltip="Sort: not reviewed, flagged, lowest confidence first",
                id="dataset.worst"),
        Binding("a", "cycle_status", "Status", tooltip="Show all / not reviewed / reviewed / flagged rows",
                id="dataset.status"),
        Binding("slash", "focus_filter", "Filter", key_display="/", id="dataset.filter"),
        Binding("p", "toggle_problems", "Problems", tooltip="Show only rows with problems", id="dataset.problems"),
        Binding("o", "cycle_sort", "Sort", id="dataset.sort"),
        Binding("O", "reverse_sort", "Reverse sort", show=False, id="dataset.reverse"),
        Binding("R", "revalidate", "Recheck", show=False, tooltip="Check the folder again", id="dataset.recheck"),
        Binding("v", "report", "Report", id="dataset.report"),
        Binding("t", "use_for_training", "Train", tooltip="Use this folder as data.train_dir", id="dataset.train"),
        Binding("g", "generate_sample", "Generate sample data", show=False, id="dataset.generate"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.folder: Path | None = None
        self.report = None
        self.rows: list[ClipRow] = []
        self.shown: list[ClipRow] = []
        self.sort_column = "row"
        self.sort_reverse = False
        self._pending_folder: Path | None = None
        self._wave_timer = None
        self._generating = False
        self.visible_columns: tuple[str, ...] = ()

    # -- layout --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield ModeBar("dataset")
        with Horizontal(id="ds-top", classes="bar"):
            yield Input(placeholder="dataset folder (audio + metadata.csv): Enter opens, → completes",
                        id="ds-folder", compact=True, suggester=PathSuggester())
            yield Button("Browse", id="ds-browse", compact=True)
            yield Button("Sample data", id="ds-sample", compact=True)
            yield Button("Label…", id="ds-label", compact=True)
            yield Button("Import…", id="ds-import", compact=True, variant="primary")  # import_offer.py
        yield Static("", id="ds-folder-error", classes="field-error")
        with Horizontal(id="ds-filters", classes="bar"):
            yield Input(placeholder="filter: words in file name, transcript or problem", id="ds-filter", compact=True)
            yield Checkbox("problems only", id="ds-problems-only", compact=True)
            yield Select([(label, value or "all") for value, label in STATUS_LABELS.items()], value="all",
                         allow_blank=False, id="ds-status", compact=True)
        yield ReviewBar(id="ds-review")
        with Horizontal(id="ds-progress-row", classes="bar"):
            yield Static("Generating the sample dataset", id="ds-progress-label")
            yield ProgressBar(total=None, id="ds-progress", show_eta=False)  # sized when generation starts
            yield Button("Cancel (x)", id="ds-progress-cancel", compact=True)
        with Horizontal(id="ds-main"):
            table = DataTable(id="ds-table", cursor_type="row", zebra_stripes=True)
            table.border_title = "Clips"
            yield table
            with VerticalScroll(id="ds-side"):
                yield Static(self._empty_text(), id="ds-summary")
                yield Sparkline([], id="ds-histogram")
                yield Static("", id="ds-histogram-axis")
                yield Static("", id="ds-problem-counts")
        with Horizontal(id="ds-detail"):
            wave = Waveform(id="ds-wave")
            wave.border_title = "Waveform"
            yield wave
            yield Static("", id="ds-clip-info")
        yield TranscriptEditor(id="ds-editor")
        yield Footer(compact=True, show_command_palette=False)  # ^p is on the mode bar: room for keys

    def on_mount(self) -> None:
        self._rebuild_columns()
        for hidden in ("#ds-status", "#ds-review", "#ds-editor", "#ds-progress-cancel"):
            self.query_one(hidden).display = False
        self.query_one("#ds-progress-row").display = False
        self.query_one("#ds-folder-error").display = False
        self.query_one("#ds-histogram").display = False
        self.query_one("#ds-import").display = False

    @staticmethod
    def _empty_text() -> Text:
        return Text.assemble(
            ("No dataset open\n\n", "bold"),
            "Press ", ("f", "bold reverse"), " to type a folder (Enter opens it), ", ("b", "bold reverse"),
            " to browse, ", ("l", "bold reverse"), " to label a folder of recordings, or ", ("s", "bold reverse"),
            " for the sample data (made offline on first use).\n\n",
            "A dataset is a folder of audio clips with a metadata.csv of file_name,transcription.")

    def on_screen_resume(self) -> None:
        if self.report is not None:
            self._refresh_summary()  # the split follows Train setup's test_split, which may have changed

    def on_resize(self) -> None:
        self.set_class(self.size.width < 100, "-narrow")  # a slimmer side panel leaves the table room

    # -- opening a folder ----------------------------------------------------------------------
    def open_folder(self, folder: Path) -> None:
        """Validate `folder` in the background; the table fills when it is done."""
        folder = Path(folder).expanduser()
        self._pending_folder = folder
        field = self.query_one("#ds-folder", Input)
        if field.value != str(folder):
            field.value = str(folder)
        self._show_folder_error("")
        self._hide_import()
        self.query_one("#ds-table", DataTable).loading = True
        self._validate(folder)

    @work(thread=True, exclusive=True, group="validate", exit_on_error=False, description="check the dataset")
    def _validate(self, folder: Path) -> None:
        from whisper_tui.data.dataset import validate_dataset

        worker = get_current_worker()
        offer = import_offer(folder)  # not a dataset yet, but a format `whisper-tui import` reads?
        if offer is not None:
            if not worker.is_cancelled:
                self.post_message(offer)
            return
        try:
            report = validate_dataset(folder)
        except WhisperTuiError as exc:
            if not worker.is_cancelled:
                self.post_message(EngineFailed("open the dataset", exc))
            return
        if not worker.is_cancelled:
            self.post_message(self._read_sheet(folder))
            self.post_message(DatasetValidated(folder, report))

    @staticmethod
    def _read_sheet(folder: Path) -> ReviewSheetRead:
        from whisper_tui.data.review import ReviewSheet

        try:
            return ReviewSheetRead(folder, ReviewSheet.open(folder))
        except WhisperTuiError as exc:  # e.g. UTF-16: it can be browsed, not edited
            return ReviewSheetRead(folder, None, exc)

    def on_dataset_validated(self, message: DatasetValidated) -> None:
        if message.folder != self._pending_folder:
            return  # an older folder finished after a newer one was asked for
        self.query_one("#ds-table", DataTable).loading = False
        self.folder = message.folder
        self.report = message.report
        self.rows = rows_from_report(message.report)
        self._rebuild_columns()
        status = self.query_one("#ds-status", Select)
        status.display = bool(review_columns(self.report))
        if not status.display:
            status.value = "all"
        self._refresh_table()
        self._refresh_review_bar()
        self.refresh_bindings()
        self._refresh_summary()
        if self.report.metadata_generated:
            self.notify("metadata.csv was written from the .txt transcripts beside the audio files.")
        table = self.query_one("#ds-table", DataTable)
        if table.row_count:
            table.focus()

    def on_engine_failed(self, message: EngineFailed) -> None:
        self.query_one("#ds-table", DataTable).loading = False
        if message.action == "open the dataset":
            self._show_folder_error(error_text(message.error))
            self.query_one("#ds-folder", Input).focus()
        else:
            notify_error(self, message.error, message.action)

    def _show_folder_error(self, text: str) -> None:
        label = self.query_one("#ds-folder-error", Static)
        label.update(Text(text))
        label.display = bool(text)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if notify_worker_failure(self, event):
            self.query_one("#ds-table", DataTable).loading = False
            if event.worker.group == "sample":
                self._stop_progress()
            elif event.worker.group == "label":
                self._label_done()
            elif event.worker.group == "import":
                self._import_done()

    # -- table ---------------------------------------------------------------------------------
    def _columns_wanted(self) -> tuple[str, ...]:
        """Every column, with status/confidence only when metadata.csv has them (or a review added status)."""
        present = set(review_columns(self.report)) if self.report is not None else set()
        if self.sheet is not None and self.sheet.has_status:
            present.add("status")
        return tuple(key for key in COLUMNS if key not in REVIEW_COLUMNS or key in present)

    def _rebuild_columns(self) -> None:
        wanted = self._columns_wanted()
        if wanted == self.visible_columns:
            return
        table = self.query_one("#ds-table", DataTable)
        table.clear(columns=True)
        for key in wanted:
            table.add_column(COLUMNS[key][0], key=key)
        self.visible_columns = wanted
        if self.sort_column not in wanted and self.sort_column != WORST:
            self.sort_column, self.sort_reverse = "row", False
        self._update_headers()
        if self.report is not None:
            self._refresh_table()

    def _status_filter(self) -> str:
        value = self.query_one("#ds-status", Select).value
        return "" if value in ("all", Select.BLANK) else str(value)

    def _refresh_table(self) -> None:
        table = self.query_one("#ds-table", DataTable)
        filter_text = self.query_one("#ds-filter", Input).value
        problems_only = self.query_one("#ds-problems-only", Checkbox).value
        rows = filter_rows(self.rows, filter_text, problems_only, self._status_filter())
        self.shown = sort_rows(rows, self.sort_column, self.sort_reverse)
        current = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value if table.row_count else None
        table.clear()
        for row in self.shown:
            table.add_row(*self._cells(row, self.visible_columns), key=row.key)
        total = len(self.rows)
        table.border_title = f"Clips {len(self.shown)}/{total}" if len(self.shown) != total else f"Clips {total}"
        if self.sort_column == WORST:
            table.border_title += " · worst first"
        keys = [row.key for row in self.shown]
        if current in keys:
            table.move_cursor(row=keys.index(current))
        if not self.shown:
            self._clear_detail("No clip matches the filter" if self.rows else "No clip selected")

    @staticmethod
    def _cells(row: ClipRow, columns: tuple[str, ...]) -> list[Text]:
        style = ROW_STYLES[row.severity]
        rate_style = style or ("yellow" if row.sample_rate not in (None, SAMPLE_RATE) else "")
        transcript = row.transcription if len(row.transcription) <= TRANSCRIPT_WIDTH \
            else row.transcription[: TRANSCRIPT_WIDTH - 1] + "…"
        if row.reviewed:
            status = Text("✓ reviewed", style="green")
        else:
            status = Text(("⚑ " if row.flags else "") + (row.status or "—"), style="bold yellow" if row.flags else "dim")
        low = row.confidence is not None and row.confidence < LOW_CONFIDENCE
        cells = {
            "row": Text(str(row.row), style=style or "dim", justify="right"),
            "file": Text(row.file_name, style=style),
            "status": status,
            "confidence": Text("—" if row.confidence is None else f"{row.confidence:.2f}",
                               style="yellow" if low else "", justify="right"),
            "duration": Text("—" if row.duration_s is None else f"{row.duration_s:.1f}", style=style, justify="right"),
            "rate": Text("—" if row.sample_rate is None else str(row.sample_rate), style=rate_style, justify="right"),
            "channels": Text("—" if row.channels is None else str(row.channels), style=style, justify="right"),
            "problems": Text(row.problem_text or "ok", style=style or "green"),
            "transcript": Text(transcript or "(empty)", style=style or ("" if transcript else "dim")),
        }
        return [cells[key] for key in columns]

    def _update_headers(self) -> None:
        table = self.query_one("#ds-table", DataTable)
        arrow = " ▼" if self.sort_reverse else " ▲"
        for key, column in table.columns.items():
            label = COLUMNS[key.value][0]
            column.label = Text(label + (arrow if key.value == self.sort_column else ""))
        table.refresh()

    def _set_sort(self, column: str, reverse: bool) -> None:
        self.sort_column, self.sort_reverse = column, reverse
        self._update_headers()
        self._refresh_table()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = event.column_key.value
        self._set_sort(column, not self.sort_reverse if column == self.sort_column else False)

    @on(Input.Changed, "#ds-filter")
    def _filter_changed(self) -> None:
        self._refresh_table()

    @on(Checkbox.Changed, "#ds-problems-only")
    def _problems_only_changed(self) -> None:
        self._refresh_table()

    @on(Select.Changed, "#ds-status")
    def _status_changed(self) -> None:
        self._refresh_table()

    @on(Input.Submitted, "#ds-folder")
    def _folder_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.open_folder(Path(event.value.strip()))

    @on(Input.Submitted, "#ds-filter")
    def _filter_submitted(self) -> None:
        self.query_one("#ds-table", DataTable).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ds-browse":
            self.action_browse()
        elif event.button.id == "ds-sample":
            self.action_open_sample()
        elif event.button.id == "ds-import":
            self.action_import()
        elif event.button.id == "ds-label":
            self.action_label_folder()
        elif event.button.id == "ds-progress-cancel":
            self.action_cancel_label()

    # -- actions -------------------------------------------------------------------------------
    def action_focus_folder(self) -> None:
        self.query_one("#ds-folder", Input).focus()

    def action_focus_filter(self) -> None:
        self.query_one("#ds-filter", Input).focus()

    def action_browse(self) -> None:
        start = Path(self.query_one("#ds-folder", Input).value.strip() or "~").expanduser()

        def picked(folder: Path | None) -> None:
            if folder is not None:
                self.open_folder(folder)

        self.app.push_screen(FolderPicker(start if start.exists() else Path.home()), picked)

    def action_toggle_problems(self) -> None:
        box = self.query_one("#ds-problems-only", Checkbox)
        box.value = not box.value

    def action_cycle_sort(self) -> None:
        cycle = [c for c in SORT_CYCLE if c in self.visible_columns]
        index = cycle.index(self.sort_column) if self.sort_column in cycle else -1
        self._set_sort(cycle[(index + 1) % len(cycle)], False)
        self.notify(f"Sorted by {COLUMNS[self.sort_column][0]}", timeout=2)

    def action_sort_worst(self) -> None:
        """Review order (not reviewed, flagged, lowest confidence), starting at the top: the worst row."""
        self._set_sort(WORST, False)
        table = self.query_one("#ds-table", DataTable)
        if table.row_count:
            table.move_cursor(row=0)

    def action_cycle_status(self) -> None:
        select = self.query_one("#ds-status", Select)
        values = [value or "all" for value in STATUS_FILTERS]
        current = select.value if select.value in values else "all"
        select.value = values[(values.index(current) + 1) % len(values)]
        select.display = True
        self.notify(f"Showing: {STATUS_LABELS[self._status_filter()].lower()}", timeout=2)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Review keys show once a dataset is open; the cancel key only while a folder is labelled."""
        if action == "cancel_label":
            return self.labelling
        if action in ("edit", "mark_reviewed", "undo", "sort_worst", "cycle_status"):
            return self.report is not None
        return True

    def action_reverse_sort(self) -> None:
        self._set_sort(self.sort_column, not self.sort_reverse)

    def action_revalidate(self) -> None:
        if self.folder is None and self._pending_folder is None:
            self.notify("Open a folder first.", severity="warning")
            return
        self.open_folder(self.folder or self._pending_folder)

    def action_report(self) -> None:
        if self.report is None:
            self.notify("Open a folder first.", severity="warning")
            return
        self.app.push_screen(ReportScreen(self.report.format_text()))

    def action_use_for_training(self) -> None:
        if self.folder is None:
            self.notify("Open a folder first.", severity="warning")
            return
        if self.report is not None and not self.report.usable_clips:
            self.notify("No clip in this folder is usable for training: fix the red rows first.",
                        severity="error")
            return
        self.run_worker(self.app.use_dataset_for_training(self.folder), exclusive=False)
