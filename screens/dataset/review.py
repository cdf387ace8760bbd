"""Reviewing a labelled dataset in the Dataset screen: edit a transcript, accept a row, undo.

The file work is `whisper_tui.data.review.ReviewSheet` (only changed lines rewritten, atomic saves,
refusal when metadata.csv changed on disk, byte-exact undo); this mixin wires it to keys:
enter/e edit the highlighted row in place (TranscriptEditor, live word diff), r accepts it as it is and
moves on to the next row not reviewed yet, u undoes the last change. Saves are small (one CSV) and
run on the main thread so changes stay in order; a failed save is a notification and the editor keeps
the typed text. Kept out of screen.py, like the import offer, so that screen stays about browsing.
"""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import DataTable

from whisper_tui.errors import WhisperTuiError

from screens.presenters.dataset_rows import ClipRow
from screens.messages import ReviewSheetRead
from screens.notify import notify_error
from screens.widgets.review_bar import ReviewBar
from screens.widgets.transcript_editor import TranscriptEditor


class ReviewMixin:
    """Needs the screen's `rows`, `shown`, `report`, `#ds-table`, `#ds-detail`, `#ds-editor`, `#ds-review`."""

    sheet = None  # whisper_tui.data.review.ReviewSheet of the open folder; None when it cannot be edited
    _sheet_error: WhisperTuiError | None = None

    def on_review_sheet_read(self, message: ReviewSheetRead) -> None:
        if message.folder != self._pending_folder:
            return
        self.sheet, self._sheet_error = message.sheet, message.error

    # -- helpers -------------------------------------------------------------------------------
    def _current_row(self) -> ClipRow | None:
        table = self.query_one("#ds-table", DataTable)
        if not table.row_count:
            return None
        return self._row_for_key(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _review_ready(self) -> ClipRow | None:
        """The highlighted row when it can be changed, else None after saying why."""
        if self.report is None:
            self.notify("Open a dataset folder first.", severity="warning")
            return None
        if self.sheet is None:
            if self._sheet_error is not None:
                notify_error(self, self._sheet_error, "edit this dataset")
            return None
        row = self._current_row()
        if row is None:
            self.notify("No row selected.", severity="warning")
            return None
        if self.sheet.row_at_line(row.row) is None:
            self.notify(f"Row {row.row} is not in metadata.csv any more: open the folder again.", severity="error")
            return None
        return row

    def _apply(self, review_row) -> ClipRow:
        """Copy a changed ReviewRow into the screen's rows; returns the new ClipRow."""
        line = review_row.line
        for i, row in enumerate(self.rows):
            if row.row == line:
                self.rows[i] = replace(row, transcription=review_row.transcription, status=review_row.status,
                                       confidence=review_row.confidence, flags=review_row.flags)
                return self.rows[i]
        raise LookupError(line)

    def _after_review_change(self, focus_key: str | None) -> None:
        self._refresh_table()
        if focus_key is not None:
            keys = [row.key for row in self.shown]
            if focus_key in keys:
                self.query_one("#ds-table", DataTable).move_cursor(row=keys.index(focus_key))
        self._refresh_review_bar()
        self._refresh_summary()  # "only reviewed: N of M clips" follows the reviews
        row = self._current_row()
        if row is not None:
            self._show_clip_info(row)

    def _refresh_review_bar(self) -> None:
        bar = self.query_one("#ds-review", ReviewBar)
        if self.sheet is None or not self.sheet.has_status:
            bar.display = False
            return
        durations = {name: info.duration_s for name, info in self.report.clip_infos.items()}
        bar.show(self.sheet.counts(durations))
        bar.display = True

    # -- edit ----------------------------------------------------------------------------------
    def action_edit(self) -> None:
        row = self._review_ready()
        if row is None:
            return
        self.query_one("#ds-detail").display = False
        editor = self.query_one("#ds-editor", TranscriptEditor)
        editor.display = True
        editor.start(row.key, f"Edit row {row.row} · {row.file_name}", row.transcription)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "ds-table":
            self.action_edit()

    def _close_editor(self) -> None:
        self.query_one("#ds-editor", TranscriptEditor).display = False
        self.query_one("#ds-detail").display = True
        self.query_one("#ds-table", DataTable).focus()

    def on_transcript_editor_cancel(self, message: TranscriptEditor.Cancel) -> None:
        self._close_editor()

    def on_transcript_editor_save(self, message: TranscriptEditor.Save) -> None:
        row = self._row_by_key(message.row_key)
        review_row = self.sheet.row_at_line(row.row) if (row is not None and self.sheet is not None) else None
        if review_row is None:
            self.notify("That row is gone: open the folder again.", severity="error")
            return
        had_status = self.sheet.has_status
        try:
            changed = self.sheet.edit(review_row.index, message.text)
        except WhisperTuiError as exc:
            notify_error(self, exc, "save the transcript")  # the editor stays open with the text
            return
        new = self._apply(changed)
        self._close_editor()
        if not had_status:
            self._rebuild_columns()
        self._after_review_change(new.key)
        self.notify(f"Saved: row {new.row} reviewed", timeout=2)

    # -- accept as is --------------------------------------------------------------------------
    def action_mark_reviewed(self) -> None:
        row = self._review_ready()
        if row is None:
            return
        review_row = self.sheet.row_at_line(row.row)
        order = [self.sheet.row_at_line(r.row).index for r in self.shown if self.sheet.row_at_line(r.row)]
        following = self.sheet.next_unreviewed(review_row.index, order)
        had_status = self.sheet.has_status
        try:
            changed = self.sheet.mark_reviewed(review_row.index)
        except WhisperTuiError as exc:
            notify_error(self, exc, "mark the row reviewed")
            return
        self._apply(changed)
        if not had_status:
            self._rebuild_columns()
        target = None
        if following is not None and following != review_row.index:
            target = f"row-{self.sheet.rows[following].line}"
        self._after_review_change(target)
        if target is None:
            self.notify("Every row shown is reviewed.", timeout=3)

    # -- undo ----------------------------------------------------------------------------------
    def action_undo(self) -> None:
        if self.sheet is None or not self.sheet.can_undo:
            self.notify("Nothing to undo.", timeout=2)
            return
        try:
            restored = self.sheet.undo()
        except WhisperTuiError as exc:
            notify_error(self, exc, "undo")
            return
        row = self._apply(restored)
        if not self.sheet.has_status:
            self._rebuild_columns()
        self._after_review_change(row.key)
        self.notify(f"Undone: row {row.row} is back as it was", timeout=2)

    def _row_by_key(self, key: str) -> ClipRow | None:
        return next((r for r in self.rows if r.key == key), None)
