"""The Dataset screen's offer to import a folder that is not a dataset yet (Common Voice, NeMo, subtitles, ...).

When a folder without a metadata.csv is opened, the validate worker first asks
`whisper_tui.data.importers.detect_format` what it is. If it is a format whisper-tui can import, the
screen says so under the folder field and shows an Import button (focused, so Enter presses it);
after a confirmation the import runs in a thread worker (`import_dataset`, into the data folder's
`imports/NAME`) with the progress row, and the new dataset folder opens when it is done. The
source is only read. Kept out of screen.py as a mixin so that screen stays about browsing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import work
from textual.message import Message
from textual.widgets import Button, ProgressBar, Static

from whisper_tui.errors import WhisperTuiError

from screens.messages import EngineFailed

PROGRESS_EVERY_S = 0.2  # the worker updates the bar at most this often (a Common Voice list has 10^6 rows)


@dataclass
class ImportOffered(Message):
    """`folder` is not a dataset but `source` (the folder or one inside it) is `label`, importable into `out`."""

    folder: Path
    source: Path
    format: str
    label: str
    out: Path
    replaces: bool  # `out` holds an earlier import of the same source


@dataclass
class DatasetImported(Message):
    out: Path
    report: object  # whisper_tui.data.importers.ImportReport


def import_offer(folder: Path) -> ImportOffered | None:
    """For the validate worker: an offer when `folder` has no metadata.csv and is in a format `import` reads.

    Asked before validating, because validating a folder of long recordings with `.txt` transcripts
    would write a metadata.csv of too-long clips into it instead of offering to cut them.
    """
    from whisper_tui.data.metadata import METADATA_FILE

    if not folder.is_dir() or (folder / METADATA_FILE).exists():
        return None
    from whisper_tui.data.importers import detect_format
    from whisper_tui.data.importers.run import default_output

    try:
        module, source = detect_format(folder)
        out, replaces = default_output(source)
    except (WhisperTuiError, OSError):
        return None
    return ImportOffered(folder, source, module.NAME, module.LABEL, out, replaces)


class ImportOfferMixin:
    """Handlers and the worker for ImportOffered; the screen composes `#ds-import` and the progress row."""

    _import_offer: ImportOffered | None = None

    def _hide_import(self) -> None:
        self._import_offer = None
        self.query_one("#ds-import", Button).display = False

    def on_import_offered(self, message: ImportOffered) -> None:
        if message.folder != self._pending_folder:
            return
        self.query_one("#ds-table").loading = False
        self._import_offer = message
        where = f" ({message.source.name}/ inside it)" if message.source != message.folder else ""
        self._show_folder_error("")
        label = self.query_one("#ds-folder-error", Static)
        label.update(Text.assemble(("Not a dataset yet: ", "bold"), f"this looks like {message.label}{where}. ",
                                   "Import writes a dataset folder (clips + metadata.csv) to ",
                                   (str(message.out), "bold"), "; the source is only read."))
        label.display = True
        button = self.query_one("#ds-import", Button)
        button.display = True
        button.focus()

    def action_import(self) -> None:
        offer = self._import_offer
        if offer is None:
            self.notify("Open a folder that is not a dataset yet (Common Voice, NeMo, subtitles, ...) first.",
                        severity="warning")
            return
        from screens.modals.confirm import ConfirmModal

        replaces = " It replaces the earlier import of this source there." if offer.replaces else ""
        body = (f"{offer.source} looks like {offer.label}. whisper-tui writes a dataset folder to {offer.out} "
                f"(clips + metadata.csv; subtitles are cut into clips of at most 30 s).{replaces} "
                "The source is only read.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._start_import(offer)

        self.app.push_screen(ConfirmModal(f"Import {offer.label}?", body, yes_label="Import"), answered)

    def _start_import(self, offer: ImportOffered) -> None:
        self.query_one("#ds-import", Button).display = False
        self.query_one("#ds-progress-label", Static).update(f"Importing {offer.label} into {offer.out}")
        self.query_one("#ds-progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#ds-progress-row").display = True
        self._import(offer)

    def _import_progress(self, done: int, total: int | None) -> None:
        self.query_one("#ds-progress", ProgressBar).update(total=total, progress=done)

    @work(thread=True, exclusive=True, group="import", exit_on_error=False, description="import the folder")
    def _import(self, offer: ImportOffered) -> None:
        from whisper_tui.data.importers import import_dataset

        last = [0.0]

        def progress(done: int, total: int | None, _what: str) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S or (total and done >= total):
                last[0] = now
                self.app.call_from_thread(self._import_progress, done, total)

        try:
            report = import_dataset(offer.source, offer.out, format=offer.format, force=offer.replaces,
                                    on_progress=progress)
        except WhisperTuiError as exc:
            self.post_message(EngineFailed("import the folder", exc))
            self.app.call_from_thread(self._import_done)
            return
        self.post_message(DatasetImported(offer.out, report))

    def _import_done(self) -> None:
        self.query_one("#ds-progress-row").display = False
        if self._import_offer is not None:
            self.query_one("#ds-import", Button).display = True

    def on_dataset_imported(self, message: DatasetImported) -> None:
        report = message.report
        self._import_offer = None
        self._import_done()
        skipped = f", {len(report.skipped)} row(s) skipped (see import.json)" if report.skipped else ""
        self.notify(f"Imported {report.clips} clips from {report.format_label}{skipped}.", title="Import done")
        self.open_folder(message.out)
