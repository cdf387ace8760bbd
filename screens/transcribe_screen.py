"""Transcribe console: run the bundled or a fine-tuned model on a file or folder and compare them.

Models load and run in a thread worker (loading alone takes seconds), results come back one
batch at a time as messages, and the table grows as they arrive. Compare mode runs the bundled
tiny.en and the chosen model on the same batch, so each row shows both transcripts with the
words that differ marked, plus WER per clip when the folder has reference transcripts.

The Backend control picks the engine both sides run on: CTranslate2 int8 (the default when it
imports; about 4x faster on CPU) or torch. Results and the real-time factor name the backend used,
and a model CTranslate2 cannot load or export is reported in the screen with what to do.

One file (not a folder) is decoded with timestamps, as `transcribe --format srt` does (inference/timed.py),
so its row lists the segments with their times and `w` saves them as NAME.srt and NAME.vtt next to the
audio. The Prompt field is previous text put before every window (`--prompt`): names, spellings, style.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Select, Static, Switch
from textual.worker import Worker, WorkerState, get_current_worker

from whisper_tui.errors import WhisperTuiError

from screens.notify import error_text, notify_worker_failure
from screens.widgets.mode_bar import ModeBar
from screens.presenters.run_format import fmt_rate
from screens.presenters.transcribe_backend import (
    BACKEND_CHOICES,
    BACKEND_KEY,
    BACKEND_LABELS,
    CT2,
    TORCH,
    ct2_problem,
    engine_label,
    initial_backend,
    other_backend,
    ran_with,
)
from screens.presenters.transcriber_cache import TranscriberCache, loading_text
from screens.messages.transcribe import (
    TranscribeFiles,
    TranscribeFinished,
    TranscribeLoaded,
    TranscribeResult,
    TranscribeStatus,
)
from screens.presenters.transcribe_models import BUNDLED, is_bundled, model_choices, short_model_name
from screens.presenters.transcribe_references import find_references
from screens.widgets.transcribe_results import BASE, MODEL, ClipRow, ResultsTable
from screens.presenters.transcribe_summary import summary_text
from screens.widgets.word_diff import inline_diff


class TranscribeScreen(Screen):
    """Pick a model and some audio, see the transcripts; `select_model` pre-selects a model (from a run)."""

    CSS_PATH = "../styles/transcribe.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    HELP = ("Transcribe a file or a folder with the bundled tiny.en or a model from a run. Compare mode shows "
            "both models side by side, with the words that changed marked; folders with metadata.csv or .txt "
            "transcripts get a WER per clip. Backend: CTranslate2 int8 (faster on CPU) or torch, for both sides. "
            "One file is decoded with timestamps: its segments are listed with their times, w saves them as "
            "SRT and VTT next to the audio. Prompt: previous text before every window (names, spellings, style).")
    BINDINGS = [
        Binding("ctrl+t", "toggle_compare", "Compare", tooltip="Compare with tiny.en side by side (on/off)",
                id="transcribe.compare"),
        Binding("ctrl+r", "rerun", "Again", tooltip="Transcribe the audio filled in (again)", id="transcribe.rerun"),
        Binding("escape", "stop_or_leave", "Stop", show=False,
                tooltip="Stop transcribing after the current batch, or leave the text field", id="transcribe.stop"),
        Binding("y", "copy_text", "Copy", tooltip="Copy the selected clip's transcript", id="transcribe.copy"),
        Binding("ctrl+l", "focus_audio", "Audio", tooltip="Type an audio file or folder",
                id="transcribe.audio"),
        Binding("ctrl+s", "save_dataset", "Save",  # short: the 80-column footer is full
                tooltip="Save as dataset: the transcripts and their audio, rows marked auto to review",
                id="transcribe.save_dataset"),
        Binding("w", "save_subtitles", "Subtitles", tooltip="Save the file's segments as NAME.srt and NAME.vtt "
                "next to the audio", id="transcribe.subtitles"),
        Binding(BACKEND_KEY, "toggle_backend", "Backend",
                tooltip="Switch the backend: CTranslate2 int8 (faster on CPU) or torch", id="transcribe.backend"),
    ]

    def __init__(self, name: str | None = None, id: str | None = None, classes: str | None = None, *,
                 runs_root=None, base_model: str = BUNDLED, transcriber_factory=None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.runs_root = runs_root
        self.base_model = base_model  # what compare mode puts beside the chosen model
        self.model_value = BUNDLED
        self._extra_models: list[tuple[str, str]] = []  # opened by path / from a run, kept across refreshes
        # (model, backend) -> loaded Transcriber; transcriber_factory(model, backend=...) replaces it in tests
        self._transcribers = TranscriberCache(transcriber_factory)
        self.backend = initial_backend()
        self._backend_chosen = False  # the user picked one: the startup check no longer changes it
        self._engines: dict[str, str] = {}
        self._ran_with = ""  # the done line's "with ...": each backend once
        self._job = 0
        self._busy = False
        self._target: Path | None = None
        self._labels: dict[str, str] = {}
        self._references: dict[Path, str] = {}
        self.last_saved_dataset = None  # the engine's LabelReport of the last "Save as dataset"

    # -- layout --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield ModeBar("transcribe")
        with Vertical(id="tx-form"):
            with Horizontal(id="tx-model-row"):
                yield Label("Model", classes="tx-label")
                yield Select([("tiny.en (bundled)", BUNDLED)], value=BUNDLED, allow_blank=False, compact=True,
                             id="tx-model")
                yield Input(placeholder="…or a model folder / hub id, Enter", compact=True, id="tx-model-path")
            with Horizontal(id="tx-audio-row"):
                yield Label("Audio", classes="tx-label")
                yield Input(placeholder="audio file or folder, Enter to transcribe", compact=True, id="tx-audio")
                yield Label("Compare with tiny.en", id="tx-compare-label")
                yield Label("vs tiny.en", id="tx-compare-short")  # 80 columns: leaves room for the path
                yield Switch(False, id="tx-compare")
                yield Label("Backend", id="tx-backend-label")
                yield Select(BACKEND_CHOICES, value=self.backend, allow_blank=False, compact=True, id="tx-backend")
            with Horizontal(id="tx-prompt-row"):
                yield Label("Prompt", classes="tx-label")
                yield Input(placeholder="optional previous text: names, spellings, style the model should follow",
                            compact=True, id="tx-prompt")
        yield Label("Pick a model, type an audio file or folder under Audio (Tab), then Enter.", id="tx-status")
        yield ResultsTable(id="tx-results")
        yield Static("", id="tx-detail")
        yield Static("", id="tx-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_models()
        # Not a text field: number keys must still switch screens when this one opens.
        self.query_one("#tx-model", Select).focus()
        self._check_ct2()

    def on_screen_resume(self) -> None:
        self.refresh_models()  # a run may have finished since

    # -- models --------------------------------------------------------------------------------
    def refresh_models(self) -> None:
        from whisper_tui.training.runs import list_runs

        try:
            runs = list_runs(self.runs_root)
        except OSError:
            runs = []
        choices = model_choices(runs)
        known = {value for _, value in choices}
        choices += [(label, value) for label, value in self._extra_models if value not in known]
        select = self.query_one("#tx-model", Select)
        with self.prevent(Select.Changed):
            select.set_options(choices)
            select.value = self.model_value if self.model_value in {v for _, v in choices} else BUNDLED
        self.model_value = select.value

    def select_model(self, path, audio: str | None = None, compare: bool = False) -> None:
        """Choose `path` (a model folder, run output or hub id) as the model to transcribe with.

        Coming from a finished run, `audio` pre-fills the run's data folder (unless the user typed one)
        and `compare` turns on the base-vs-tuned view, and the comparison starts at once: opening the
        console from a run is asking to see what the fine-tune changed.
        """
        if self.is_mounted:
            if audio and not self._audio_value():
                self.query_one("#tx-audio", Input).value = str(audio)
            if compare and not is_bundled(str(path)):
                self.query_one("#tx-compare", Switch).value = True
        value = str(path).strip()
        if not value:
            return
        if is_bundled(value):
            value = BUNDLED
        elif Path(value).expanduser().exists():
            value = str(Path(value).expanduser())
            if all(v != value for _, v in self._extra_models):
                self._extra_models.append((f"{short_model_name(value)} (opened)", value))
        elif all(v != value for _, v in self._extra_models):
            self._extra_models.append((f"{value} (hub)", value))
        self.model_value = value
        if not self.is_mounted:
            return
        self.refresh_models()
        if audio and self._audio_value():
            self.transcribe(self._audio_value())
            self.query_one(ResultsTable).focus()  # results stream in there; number keys switch screens
            return
        self._set_status(Text.assemble("Model: ", (short_model_name(value), "bold"),
                                       " — type an audio file or folder and press Enter."))
        self.query_one("#tx-audio", Input).focus()  # the next thing to do

    def _audio_value(self) -> str:
        return self.query_one("#tx-audio", Input).value.strip()

    @on(Select.Changed, "#tx-model")
    def _model_chosen(self, event: Select.Changed) -> None:
        # A Changed queued before `select_model` set another value arrives late: only the current one counts.
        if isinstance(event.value, str) and event.value == event.select.value:
            self.model_value = event.value

    @on(Input.Submitted, "#tx-model-path")
    def _model_path_given(self, event: Input.Submitted) -> None:
        self.select_model(event.value)
        self.query_one("#tx-audio", Input).focus()

    # -- running -------------------------------------------------------------------------------
    @on(Input.Submitted, "#tx-audio")
    def _audio_given(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.transcribe(event.value.strip())
            self.query_one(ResultsTable).focus()  # results stream in there; number keys switch screens again

    def transcribe(self, target: str | Path) -> None:
        """Transcribe a file or folder with the selected model (and tiny.en too in compare mode)."""
        compare = self.query_one("#tx-compare", Switch).value
        if compare and is_bundled(self.model_value):
            self.notify("Compare shows tiny.en next to a fine-tuned model: pick one under Model first.",
                        severity="warning")
            compare = False
        self._job += 1
        self._busy = True
        self._target = Path(target).expanduser()
        model_label = short_model_name(self.model_value)
        base_label = short_model_name(self.base_model)
        self._labels = {BASE: base_label, MODEL: model_label} if compare else {MODEL: model_label}
        self._engines = {}
        self._ran_with = ""
        self._references = {}
        self.query_one(ResultsTable).reset(compare=compare, model_label=model_label, base_label=base_label)
        self.query_one("#tx-detail", Static).update("")
        self.query_one("#tx-detail", Static).remove_class("-error")
        self.query_one("#tx-summary", Static).update("")
        self._set_status(f"Reading {self._target}…")
        self.refresh_bindings()
        prompt = self.query_one("#tx-prompt", Input).value.strip() or None
        self._transcribe_worker(self._job, self._target, self.model_value, compare, self.backend, prompt)

    @work(thread=True, exclusive=True, group="transcribe", exit_on_error=False, description="transcribe")
    def _transcribe_worker(self, job: int, target: Path, model_value: str, compare: bool, backend: str,
                           prompt: str | None = None) -> None:
        from whisper_tui.inference.transcribe import list_audio_files

        worker = get_current_worker()
        files = list_audio_files(target)
        self.post_message(TranscribeFiles(job, files, find_references(target, files)))
        roles = [(BASE, self.base_model), (MODEL, model_value)] if compare else [(MODEL, model_value)]
        transcribers = {}
        for role, value in roles:
            if worker.is_cancelled:
                return
            self.post_message(TranscribeStatus(job, loading_text(value, backend)))
            transcribers[role] = self._transcribers.get(value, backend, keep=self.base_model)
            transcribers[role].prompt = prompt  # loaded once per (model, backend); the prompt is this run's
        timed = target.is_file()  # one file: timestamps (segments and subtitles); a folder: batched text
        names = {BASE: self._labels.get(BASE, BASE), MODEL: "fine-tuned"}
        self.post_message(TranscribeLoaded(job, {role: engine_label(t) for role, t in transcribers.items()},
                                           ran_with({role: t.backend_info for role, t in transcribers.items()},
                                                    names)))
        batch = max(t.batch_size for t in transcribers.values())
        for start in range(0, len(files), batch):
            chunk = files[start:start + batch]
            results = {}
            for role, value in roles:
                self.post_message(TranscribeStatus(
                    job, f"Transcribing {start + 1}–{start + len(chunk)} of {len(files)} with "
                         f"{short_model_name(value)}…  (escape stops)"))
                if timed:
                    results[role] = [transcribers[role].transcribe_file_timed(chunk[0])]
                else:
                    results[role] = transcribers[role].transcribe_files(chunk)
                if worker.is_cancelled:
                    self.post_message(TranscribeFinished(job, stopped=True))
                    return
            for index in range(len(chunk)):
                self.post_message(TranscribeResult(job, {role: results[role][index] for role, _ in roles}))
        self.post_message(TranscribeFinished(job))

    # -- worker messages -----------------------------------------------------------------------
    def on_transcribe_status(self, message: TranscribeStatus) -> None:
        if message.job == self._job:
            self._set_status(message.text)

    def on_transcribe_loaded(self, message: TranscribeLoaded) -> None:
        if message.job == self._job:
            self._engines = dict(message.engines)
            self._ran_with = message.ran_with

    def on_transcribe_files(self, message: TranscribeFiles) -> None:
        if message.job != self._job:
            return
        self._references = message.references
        refs = f", {len(message.references)} with a reference transcript" if message.references else ""
        self._set_status(f"{len(message.files)} audio file{'s' * (len(message.files) != 1)}{refs}")

    def on_transcribe_result(self, message: TranscribeResult) -> None:
        if message.job != self._job:
            return
        results = message.results
        path = next(iter(results.values())).path
        table = self.query_one(ResultsTable)
        table.add_clip(ClipRow(path, self._references.get(Path(path).resolve()), dict(results)))
        self.query_one("#tx-summary", Static).update(summary_text(table.clip_rows, self._labels, self._engines))
        if len(table.clip_rows) == 1:
            self._show_detail(table.clip_rows[0])

    def on_transcribe_finished(self, message: TranscribeFinished) -> None:
        if message.job != self._job:
            return
        self._busy = False
        count = len(self.query_one(ResultsTable).clip_rows)
        done = "Stopped" if message.stopped else "Done"
        on = f" with {self._ran_with}" if self._ran_with else ""
        self._set_status(f"{done}: {count} file{'s' * (count != 1)}{on}. ctrl+r runs again.")
        self.refresh_bindings()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "ct2-check":
            self._ct2_checked(event)
            return
        if event.worker.group == "save-dataset":
            self._dataset_saved(event)
            return
        if event.worker.group != "transcribe":
            return
        if notify_worker_failure(self, event):
            self._busy = False
            error = event.worker.error
            message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
            self._set_status(Text(f"Failed: {message}", style="red"))
            self._show_failure(error)
            self.refresh_bindings()

    def _show_failure(self, error: BaseException) -> None:
        """The notification fades; the whole message and what to do stay where the results would be."""
        if isinstance(error, WhisperTuiError):
            text = Text(error.message, style="red")
            if error.hint:
                text.append(f"\n{error.hint}", style="bold")
        else:
            text = Text(error_text(error), style="red")
        detail = self.query_one("#tx-detail", Static)
        detail.update(text)
        detail.add_class("-error")

    # -- backend -------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="ct2-check", exit_on_error=False, description="check CTranslate2")
    def _check_ct2(self) -> str | None:
        return ct2_problem()

    def _ct2_checked(self, event: Worker.StateChanged) -> None:
        """CTranslate2 does not import here: torch becomes the default (unless the user already chose)."""
        problem = event.worker.result if event.state == WorkerState.SUCCESS else None
        if not problem or self._backend_chosen or self.backend != CT2:
            return
        self._set_backend(TORCH)
        self._set_status(Text(f"CTranslate2 cannot run here ({problem}): transcribing with torch.", style="yellow"))

    def _set_backend(self, backend: str) -> None:
        self.backend = backend
        select = self.query_one("#tx-backend", Select)
        with self.prevent(Select.Changed):
            select.value = backend

    @on(Select.Changed, "#tx-backend")
    def _backend_selected(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value == event.select.value and event.value != self.backend:
            self._backend_changed(event.value)

    def action_toggle_backend(self) -> None:
        self._set_backend(other_backend(self.backend))
        self._backend_changed(self.backend)

    def _backend_changed(self, backend: str) -> None:
        """The next run uses `backend` (a run in progress keeps its own); results say which one they used."""
        self.backend = backend
        self._backend_chosen = True
        text = f"Backend: {BACKEND_LABELS.get(backend, backend)}"
        if self._busy:
            self.notify(f"{text} from the next run on.")
        else:
            self._set_status(text + (" — ctrl+r runs the same audio again with it." if self._target else "."))

    # -- detail of the highlighted clip --------------------------------------------------------
    @on(DataTable.RowHighlighted, "#tx-results")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self.query_one(ResultsTable).row_for_cursor()
        if row is not None:
            self._show_detail(row)

    def _show_detail(self, row: ClipRow) -> None:
        detail = Text.assemble((row.path.name, "bold"), f" · {row.duration_s:.1f} s")
        if row.reference is not None:
            detail.append("\nreference  ", style="dim")
            detail.append(row.reference)
        for role, label in self._labels.items():
            result = row.results.get(role)
            if result is None:
                continue
            if len(label) > 10:
                label = "fine-tuned" if role == MODEL else label[:10]
            detail.append(f"\n{label:<10} ", style="bold")
            if not result.ok:
                detail.append(result.error or "failed", style="red")
            elif row.reference is not None:
                detail.append_text(inline_diff(row.reference, result.text))
                detail.append(f"  WER {fmt_rate(row.wer(role))}", style="bold")
            elif role == MODEL and row.segments:
                detail.append(f"{len(row.segments)} segment{'s' * (len(row.segments) != 1)} · w saves "
                              f"{row.path.stem}.srt and .vtt beside the audio", style="dim")
            else:
                detail.append(result.text)
        if row.reference is not None:
            detail.append("\nvs reference: red = missed or wrong, green = said instead", style="dim italic")
        elif BASE in row.results and MODEL in row.results:
            detail.append("\nred = only tiny.en has it, green = only the fine-tuned model has it", style="dim italic")
        self.query_one("#tx-detail", Static).update(detail)

    # -- actions -------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "rerun":  # while running it restarts (the new worker replaces the old one)
            return True if self._rerun_target() is not None else None
        if action == "copy_text":
            return True if self.query_one(ResultsTable).clip_rows else None
        if action == "save_subtitles":  # shown for a file decoded with timestamps
            return True if self._subtitle_row() is not None and not self._busy else False
        if action == "save_dataset":  # shown once there are results; dimmed while a run still fills the table
            if not self.query_one(ResultsTable).clip_rows:
                return False
            return None if self._busy else True
        return True

    def action_toggle_compare(self) -> None:
        switch = self.query_one("#tx-compare", Switch)
        switch.value = not switch.value

    @on(Switch.Changed, "#tx-compare")
    def _compare_changed(self, event: Switch.Changed) -> None:
        """Show the other view of the same audio at once, unless the results already are that view."""
        wanted = event.value and not is_bundled(self.model_value)
        if self._target is not None and self.query_one(ResultsTable).compare != wanted:
            self.transcribe(self._target)

    def _rerun_target(self) -> str | Path | None:
        """What ctrl+r transcribes: the audio filled in (typed, or from a run), else the last audio run."""
        return self._audio_value() or self._target

    @on(Input.Changed, "#tx-audio")
    def _audio_typed(self) -> None:
        self.refresh_bindings()  # ctrl+r (Again) runs whatever is filled in

    def action_rerun(self) -> None:
        target = self._rerun_target()
        if target is not None:
            self.transcribe(target)

    def action_stop_or_leave(self) -> None:
        if self._busy:
            self.workers.cancel_group(self, "transcribe")
            self._set_status("Stopping after the current batch…")
            return
        if isinstance(self.focused, Input):
            self.query_one(ResultsTable).focus()

    def action_copy_text(self) -> None:
        row = self.query_one(ResultsTable).row_for_cursor()
        if row is None:
            return
        result = row.results.get(MODEL) or row.results.get(BASE)
        if result is not None and result.ok:
            self.app.copy_to_clipboard(result.text)
            self.notify(f"Copied the transcript of {row.path.name}")

    # -- segments -> subtitles ----------------------------------------------------------------------
    def _subtitle_row(self) -> ClipRow | None:
        """The highlighted clip, else the first, when it has timed segments."""
        table = self.query_one(ResultsTable)
        row = table.row_for_cursor() or (table.clip_rows[0] if table.clip_rows else None)
        return row if row is not None and row.segments else None

    def action_save_subtitles(self) -> None:
        """NAME.srt and NAME.vtt next to the audio, each written atomically (inference/subtitles.py)."""
        from whisper_tui.inference.subtitles import write_transcript

        row = self._subtitle_row()
        if row is None:
            return
        try:
            written = [write_transcript(list(row.segments), row.path, row.path.parent, fmt) for fmt in ("srt", "vtt")]
        except OSError as exc:
            self._set_status(Text(f"Subtitles not saved: {exc.strerror or exc}", style="red"))
            self.notify(f"Subtitles not saved in {row.path.parent}: {exc.strerror or exc}", severity="error")
            return
        self._set_status(Text.assemble("Saved ", (" and ".join(p.name for p in written), "bold"),
                                       f" in {row.path.parent}."))
        self.notify(f"Saved {' and '.join(p.name for p in written)}")

    # -- results -> a labelled dataset ---------------------------------------------------------------
    def dataset_items(self) -> list[tuple[Path, str, float | None, float | None]]:
        """(audio, text, confidence, no_speech) of every clip the chosen model transcribed (the tuned side
        in compare mode), as `whisper_tui.labelling.save_transcripts_as_dataset` takes them."""
        items = []
        for row in self.query_one(ResultsTable).clip_rows:
            result = row.results.get(MODEL)
            if result is not None and result.ok:
                items.append((row.path, result.text, getattr(result, "confidence", None),
                              getattr(result, "no_speech", None)))
        return items

    def _dataset_suggestion(self) -> Path:
        target = (self._target or Path.cwd()).expanduser().absolute()
        name = target.name if target.is_dir() else target.stem
        return target.parent / f"{name}-labelled"

    def action_save_dataset(self) -> None:
        items = self.dataset_items()
        if not items:
            self.notify("No transcript to save: transcribe some audio first.", severity="warning")
            return
        from screens.modals.folder_prompt import FolderPrompt

        def chosen(folder: Path | None) -> None:
            if folder is not None:
                self._set_status(f"Saving {len(items)} clip{'s' * (len(items) != 1)} as a dataset in {folder}…")
                self._save_dataset(folder, items)

        note = (f"{len(items)} clip{'s' * (len(items) != 1)} and the transcripts of "
                f"{short_model_name(self.model_value)}, marked auto (review them on the Dataset screen). "
                "A new or empty folder, or one saved here before (reviewed rows are kept).")
        self.app.push_screen(FolderPrompt("Save as dataset: folder", self._dataset_suggestion(), note), chosen)

    @work(thread=True, exclusive=True, group="save-dataset", exit_on_error=False, description="save as dataset")
    def _save_dataset(self, folder: Path, items: list):
        from whisper_tui.labelling import save_transcripts_as_dataset

        return save_transcripts_as_dataset(folder, items)

    def _dataset_saved(self, event: Worker.StateChanged) -> None:
        if notify_worker_failure(self, event):
            error = event.worker.error
            self._set_status(Text(f"Not saved: {getattr(error, 'message', None) or error}", style="red"))
            self._show_failure(error)
            return
        if event.state != WorkerState.SUCCESS:
            return
        report = event.worker.result
        self.last_saved_dataset = report
        skipped = sum(report.left_out.values()) + len(report.failed)
        extra = f"; {skipped} left out (no speech or unreadable)" if skipped else ""
        kept = f"; {report.kept_reviewed} reviewed row(s) kept" if report.kept_reviewed else ""
        self._set_status(Text.assemble("Saved ", (f"{report.written + report.relabelled}", "bold"),
                                       f" clip(s) as a dataset in {report.out_dir}{kept}{extra}. "
                                       "Open it on the Dataset screen (1) to review."))
        self.notify(f"Saved as a dataset: {report.out_dir}")

    def action_focus_audio(self) -> None:
        self.query_one("#tx-audio", Input).focus()

    def _set_status(self, text: str | Text) -> None:
        self.query_one("#tx-status", Label).update(text)
