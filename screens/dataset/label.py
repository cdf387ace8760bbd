""""Label a folder" in the Dataset screen: recordings in, a labelled dataset out, opened for review.

`whisper_tui.labelling.label_folder` (what `whisper-tui label` runs) works in a thread worker; it
reports progress through `on_progress` (posted as `LabelProgressed`, collapsing a backlog) and stops
between segments when the cancel event is set (what it finished is kept, and a later run continues).
The progress row is the one the sample data uses, with a Cancel button. When it is done the output
folder opens in the table, ready for review (worst rows first).
"""

from __future__ import annotations

import threading
from pathlib import Path

from textual import work
from textual.widgets import Button, Input, ProgressBar, Static

from whisper_tui.errors import WhisperTuiError

from screens.messages import EngineFailed, LabelFinished, LabelProgressed
from screens.modals.label_folder import LabelFolderModal

LABEL_ACTION = "label the folder"


class LabelFolderMixin:
    """Needs the screen's progress row (`#ds-progress-row`, `#ds-progress`, `#ds-progress-label`,
    `#ds-progress-cancel`), `open_folder` and `_set_sort`."""

    _label_stop: threading.Event | None = None

    @property
    def labelling(self) -> bool:
        return self._label_stop is not None

    def action_label_folder(self) -> None:
        if self.labelling:
            self.notify("A folder is already being labelled (x cancels it).")
            return
        typed = self.query_one("#ds-folder", Input).value.strip()
        start = Path(typed).expanduser() if typed else None

        def answered(choice: tuple[Path, Path] | None) -> None:
            if choice is not None:
                self.start_labelling(*choice)

        self.app.push_screen(LabelFolderModal(start if start is not None and start.is_dir() else None), answered)

    def start_labelling(self, audio_dir: Path, out_dir: Path) -> None:
        self._label_stop = threading.Event()
        self.query_one("#ds-progress-row").display = True
        self.query_one("#ds-progress-cancel", Button).display = True
        self.query_one("#ds-progress-label", Static).update(f"Labelling {audio_dir.name} → {out_dir}")
        self.query_one("#ds-progress", ProgressBar).update(total=None, progress=0)
        self.refresh_bindings()
        self._label(audio_dir, out_dir, self._label_stop)

    @work(thread=True, exclusive=True, group="label", exit_on_error=False, description=LABEL_ACTION)
    def _label(self, audio_dir: Path, out_dir: Path, stop: threading.Event) -> None:
        from whisper_tui.labelling import label_folder

        try:
            report = label_folder(audio_dir, out_dir, on_progress=lambda p: self.post_message(LabelProgressed(p)),
                                  should_stop=stop.is_set)
        except WhisperTuiError as exc:
            self.post_message(EngineFailed(LABEL_ACTION, exc))
            self.app.call_from_thread(self._label_done)
            return
        self.post_message(LabelFinished(report, cancelled=stop.is_set()))

    def on_label_progressed(self, message: LabelProgressed) -> None:
        progress = message.progress
        bar = self.query_one("#ds-progress", ProgressBar)
        if progress.total_s:
            bar.update(total=progress.total_s, progress=progress.done_s)
        current = Path(str(progress.current)).name if progress.current else ""
        self.query_one("#ds-progress-label", Static).update(
            f"Labelling file {progress.files_done}/{progress.files_total}" + (f" · {current}" if current else ""))

    def action_cancel_label(self) -> None:
        if self._label_stop is not None:
            self._label_stop.set()
            self.query_one("#ds-progress-label", Static).update("Cancelling: finishing the current segment…")

    def _label_done(self) -> None:
        self._label_stop = None
        self.query_one("#ds-progress-row").display = False
        self.query_one("#ds-progress-cancel", Button).display = False
        self.refresh_bindings()

    def on_label_finished(self, message: LabelFinished) -> None:
        self._label_done()
        report = message.report
        summary = report.summary() if hasattr(report, "summary") else ""
        how = "Labelling cancelled; what was done is kept (run it again to continue)" if message.cancelled \
            else "Labelled"
        self.notify(f"{how}: {summary}" if summary else how, timeout=8)
        if getattr(report, "written", 0) or Path(report.out_dir, "metadata.csv").is_file():
            self._set_sort("worst", False)
            self.open_folder(Path(report.out_dir))
