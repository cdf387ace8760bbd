"""Dataset screen reviewing a labelled dataset (issue 12): edit in place, accept, undo, sort, filter, errors."""

from __future__ import annotations

import pytest
from helpers_review import TEXTS, WORST_FIRST, make_labelled_dataset, metadata_lines
from textual.widgets import DataTable, Input, Select, Static
from helpers_tui import isolated_dirs, settle  # noqa: F401 (fixture)

from screens.app import WhisperTuiApp
from screens.dataset.screen import DatasetScreen
from screens.widgets.transcript_editor import TranscriptEditor

pytestmark = pytest.mark.usefixtures("isolated_dirs")


def shown_files(screen) -> list[str]:
    return [row.file_name for row in screen.shown]


def current_file(screen) -> str:
    return screen._current_row().file_name


async def open_app(pilot) -> DatasetScreen:
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, DatasetScreen) and screen.sheet is not None
    return screen


async def move_to(pilot, screen, file_name: str) -> None:
    table = screen.query_one("#ds-table", DataTable)
    table.move_cursor(row=shown_files(screen).index(file_name))
    await pilot.pause()


async def test_status_and_confidence_columns_sort_and_filter(tmp_path):
    folder = make_labelled_dataset(tmp_path / "ds")
    app = WhisperTuiApp(dataset=folder)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_app(pilot)
        table = screen.query_one("#ds-table", DataTable)
        assert [str(c.label).split(" ")[0] for c in table.columns.values()][:4] == ["#", "File", "Status", "Conf"]
        b = table.get_row("row-3")
        assert "repetition" not in str(b[2]) and "⚑" in str(b[2]) and str(b[3]) == "0.42"
        assert "reviewed" in str(table.get_row("row-4")[2])
        bar = str(screen.query_one("#rb-label", Static).content)
        assert "reviewed 1/5" in bar and "0.0 of 0.1 min audio" in bar

        await pilot.press("w")
        await pilot.pause()
        assert shown_files(screen) == WORST_FIRST

        await pilot.press("a")  # all -> not reviewed
        await pilot.pause()
        assert screen.query_one("#ds-status", Select).value == "auto"
        assert sorted(shown_files(screen)) == ["a.wav", "b.wav", "d.wav", "e.wav"]
        await pilot.press("a")  # -> reviewed
        await pilot.pause()
        assert shown_files(screen) == ["c.wav"]
        await pilot.press("a")  # -> flagged
        await pilot.pause()
        assert shown_files(screen) == ["b.wav", "e.wav"]
        await pilot.press("a")  # -> all again
        await pilot.pause()
        assert len(shown_files(screen)) == 5


async def test_edit_save_marks_reviewed_and_undo_restores_the_file(tmp_path):
    folder = make_labelled_dataset(tmp_path / "ds")
    original = (folder / "metadata.csv").read_bytes()
    before = metadata_lines(folder)
    app = WhisperTuiApp(dataset=folder)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_app(pilot)
        await move_to(pilot, screen, "d.wav")
        await pilot.press("e")
        await pilot.pause()
        editor = screen.query_one("#ds-editor", TranscriptEditor)
        assert editor.display and not screen.query_one("#ds-detail").display
        field = screen.query_one("#te-input", Input)
        assert field.has_focus and field.value == TEXTS["d.wav"]
        await pilot.press("ctrl+u", *"quiet words are hard to hear")  # ctrl+u clears to the start
        await pilot.pause()
        diff = screen.query_one("#te-diff", Static).content
        assert "are" in str(diff) and "word(s) changed" in str(diff)
        await pilot.press("enter")
        await pilot.pause()
        assert not editor.display and screen.query_one("#ds-table", DataTable).has_focus

        after = metadata_lines(folder)
        assert after[4] == b"d.wav,quiet words are hard to hear,short.wav 0.00-1.00,0.350,0.450,,reviewed\n"
        assert [line for i, line in enumerate(after) if i != 4] == [line for i, line in enumerate(before) if i != 4]
        row = next(r for r in screen.rows if r.file_name == "d.wav")
        assert row.reviewed and row.transcription == "quiet words are hard to hear"
        assert "reviewed 2/5" in str(screen.query_one("#rb-label", Static).content)

        await pilot.press("u")
        await pilot.pause()
        assert (folder / "metadata.csv").read_bytes() == original
        row = next(r for r in screen.rows if r.file_name == "d.wav")
        assert not row.reviewed and row.transcription == TEXTS["d.wav"]


async def test_enter_opens_the_editor_and_escape_cancels(tmp_path):
    folder = make_labelled_dataset(tmp_path / "ds")
    original = (folder / "metadata.csv").read_bytes()
    app = WhisperTuiApp(dataset=folder)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_app(pilot)
        screen.query_one("#ds-table", DataTable).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert screen.query_one("#ds-editor", TranscriptEditor).display
        await pilot.press("x", "y", "escape")
        await pilot.pause()
        assert not screen.query_one("#ds-editor", TranscriptEditor).display
        assert (folder / "metadata.csv").read_bytes() == original


async def test_r_marks_reviewed_and_moves_to_the_next_unreviewed(tmp_path):
    folder = make_labelled_dataset(tmp_path / "ds")
    before = metadata_lines(folder)
    app = WhisperTuiApp(dataset=folder)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_app(pilot)
        await move_to(pilot, screen, "b.wav")
        await pilot.press("r")
        await pilot.pause()
        assert current_file(screen) == "d.wav"  # c.wav (next in file order) is already reviewed
        after = metadata_lines(folder)
        assert after[2].endswith(b",repetition,reviewed\n")
        assert [line for i, line in enumerate(after) if i != 2] == [line for i, line in enumerate(before) if i != 2]
        await pilot.press("w")  # worst first is now e, d, a, then the reviewed b, c; the cursor starts at the top
        await pilot.pause()
        assert shown_files(screen) == ["e.wav", "d.wav", "a.wav", "b.wav", "c.wav"] and current_file(screen) == "e.wav"
        await move_to(pilot, screen, "d.wav")
        await pilot.press("r")
        await pilot.pause()
        assert [r.file_name for r in screen.rows if r.reviewed] == ["b.wav", "c.wav", "d.wav"]
        assert current_file(screen) == "a.wav"  # the next one not reviewed in the order shown
        assert shown_files(screen) == ["e.wav", "a.wav", "b.wav", "d.wav", "c.wav"]  # d sank among the reviewed
        await pilot.press("u", "u")
        await pilot.pause()
        assert metadata_lines(folder) == before


async def test_a_file_changed_on_disk_is_not_overwritten(tmp_path):
    folder = make_labelled_dataset(tmp_path / "ds")
    app = WhisperTuiApp(dataset=folder)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_app(pilot)
        await move_to(pilot, screen, "a.wav")
        await pilot.press("e", "ctrl+u", *"typed by hand")
        with (folder / "metadata.csv").open("ab") as fh:  # another program appends a row meanwhile
            fh.write(b"f.wav,added elsewhere,,,,,auto\n")
        changed = (folder / "metadata.csv").read_bytes()
        await pilot.press("enter")
        await pilot.pause()
        assert (folder / "metadata.csv").read_bytes() == changed
        editor = screen.query_one("#ds-editor", TranscriptEditor)
        assert editor.display and editor.text == "typed by hand"  # nothing lost: still there to copy or retry
        messages = [n.message for n in app._notifications]
        assert any("changed on disk" in m and "metadata.csv" in m for m in messages)


async def test_a_read_only_dataset_says_so(tmp_path):
    folder = make_labelled_dataset(tmp_path / "ds")
    app = WhisperTuiApp(dataset=folder)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_app(pilot)
        original = (folder / "metadata.csv").read_bytes()

        def read_only(path, data):  # what a read-only folder does (also under root, which ignores modes)
            raise PermissionError(13, "Permission denied", str(path))

        with pytest.MonkeyPatch.context() as patch:  # not the fixture: its undo() would undo isolated_dirs too
            patch.setattr("whisper_tui.storage.atomic.atomic_write_bytes", read_only)
            await pilot.press("r")
            await pilot.pause()
        assert (folder / "metadata.csv").read_bytes() == original
        assert not screen.rows[0].reviewed and not screen.sheet.can_undo
        assert any("permission denied" in n.message and "metadata.csv" in n.message for n in app._notifications)
        await pilot.press("r")  # writable again: the same key works
        await pilot.pause()
        assert screen.rows[0].reviewed and metadata_lines(folder)[1].endswith(b",reviewed\n")


async def test_a_plain_dataset_gains_a_status_column_when_reviewed(tmp_path):
    folder = tmp_path / "plain"
    make_labelled_dataset(folder)
    (folder / "metadata.csv").write_bytes(b"file_name,transcription\na.wav,one\nb.wav,two\n")
    app = WhisperTuiApp(dataset=folder)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_app(pilot)
        table = screen.query_one("#ds-table", DataTable)
        assert "status" not in {key.value for key in table.columns}
        assert not screen.query_one("#ds-review").display
        await pilot.press("r")
        await pilot.pause()
        assert (folder / "metadata.csv").read_bytes() == b"file_name,transcription,status\na.wav,one,reviewed\nb.wav,two\n"
        assert "status" in {key.value for key in table.columns}
        assert screen.query_one("#ds-review").display
        await pilot.press("u")
        await pilot.pause()
        assert (folder / "metadata.csv").read_bytes() == b"file_name,transcription\na.wav,one\nb.wav,two\n"


async def test_review_keys_are_in_the_footer_and_help(tmp_path):
    app = WhisperTuiApp(dataset=make_labelled_dataset(tmp_path / "ds"))
    async with app.run_test(size=(160, 40)) as pilot:
        await open_app(pilot)
        active = {binding.id for _key, binding, enabled, _tip in app.screen.active_bindings.values()
                  if enabled and binding.show}
        assert {"dataset.edit", "dataset.reviewed", "dataset.undo", "dataset.worst", "dataset.status",
                "dataset.label"} <= active
        assert "dataset.label_cancel" not in active  # only while labelling
        await pilot.press("question_mark")
        await pilot.pause()
        help_text = " ".join(description for _title, _note, rows in app.screen.sections() for _k, description in rows)
        for wording in ("Edit the transcript", "Mark the row reviewed", "Undo the last edit", "Label a folder"):
            assert wording in help_text


async def test_summaries_say_how_many_clips_only_reviewed_leaves(tmp_path):
    folder = make_labelled_dataset(tmp_path / "ds")
    app = WhisperTuiApp(dataset=folder)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_app(pilot)
        summary = str(screen.query_one("#ds-summary", Static).content)
        assert "only reviewed: 1 of 4 clips" in summary  # of the usable ones (e.wav is not)
        assert "train 1 · test 0" in summary  # the split training would make: one clip cannot be split
        await move_to(pilot, screen, "b.wav")
        await pilot.press("r")  # a review updates the count at once (the folder is not read again)
        await pilot.pause()
        assert "only reviewed: 2 of 4 clips" in str(screen.query_one("#ds-summary", Static).content)
        await pilot.press("u")
        await pilot.pause()
        assert "only reviewed: 1 of 4 clips" in str(screen.query_one("#ds-summary", Static).content)
        await pilot.press("t")
        await settle(pilot)
        assert app.current_mode == "train"
        estimate = str(app.screen.query_one("#ts-estimate", Static).content)
        assert "only reviewed: 1 of 5 clips" in estimate
        app.screen.query_one("#f-data-only-reviewed", Select).value = "false"
        await settle(pilot)
        assert "only reviewed" not in str(app.screen.query_one("#ts-estimate", Static).content)


# -- Label a folder (label_folder replaced by a fake: no model in these tests) -------------------

class FakeReport:
    def __init__(self, out_dir, written):
        self.out_dir, self.written = out_dir, written

    def summary(self) -> str:
        return f"{self.written} clips written"


def fake_label_folder(calls, wait_for_stop=False):
    from whisper_tui.labelling import LabelProgress

    def label_folder(audio_dir, out_dir, *, on_progress=None, should_stop=None, **_):
        calls.append((audio_dir, out_dir))
        on_progress(LabelProgress(0.0, 6.2, 0, 2, "long.wav"))
        if wait_for_stop:
            import threading

            stopped = threading.Event()
            for _ in range(2000):  # the engine checks should_stop between segments; give up after ~20 s
                if should_stop():
                    break
                stopped.wait(0.01)
            return FakeReport(out_dir, 0)
        make_labelled_dataset(out_dir)
        on_progress(LabelProgress(6.2, 6.2, 2, 2, "short.wav"))
        return FakeReport(out_dir, 5)

    return label_folder


async def test_label_a_folder_runs_in_a_worker_and_opens_the_result(tmp_path, monkeypatch):
    audio = tmp_path / "recordings"
    audio.mkdir()
    calls = []
    monkeypatch.setattr("whisper_tui.labelling.label_folder", fake_label_folder(calls))
    app = WhisperTuiApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await pilot.pause()
        modal = app.screen
        modal.query_one("#lf-audio", Input).value = str(audio)
        await pilot.pause()
        assert modal.query_one("#lf-out", Input).value == str(tmp_path / "recordings-labelled")
        await pilot.click("#lf-ok")
        await settle(pilot, rounds=5)
        screen = app.screen
        assert isinstance(screen, DatasetScreen)
        assert calls == [(audio, tmp_path / "recordings-labelled")]
        assert screen.folder == tmp_path / "recordings-labelled" and screen.sheet is not None
        assert shown_files(screen) == WORST_FIRST and current_file(screen) == "b.wav"
        assert not screen.query_one("#ds-progress-row").display
        assert any("5 clips written" in n.message for n in app._notifications)


async def test_label_a_folder_can_be_cancelled(tmp_path, monkeypatch):
    audio = tmp_path / "recordings"
    audio.mkdir()
    calls = []
    monkeypatch.setattr("whisper_tui.labelling.label_folder", fake_label_folder(calls, wait_for_stop=True))
    app = WhisperTuiApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.start_labelling(audio, tmp_path / "out")
        await pilot.pause()
        assert screen.query_one("#ds-progress-row").display and screen.labelling
        await pilot.press("x")
        await settle(pilot)
        assert not screen.labelling and not screen.query_one("#ds-progress-row").display
        assert any("cancelled" in n.message for n in app._notifications)
        assert screen.folder is None  # nothing was written, nothing to open


async def test_typing_the_audio_folder_key_by_key_suggests_an_output(tmp_path):
    """'/' alone has no name to put '-labelled' after: it crashed the app (found in tmux)."""
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await pilot.pause()
        await pilot.press(*"/tmp/rec")
        await pilot.pause()
        modal = app.screen
        assert modal.query_one("#lf-audio", Input).value == "/tmp/rec"
        assert modal.query_one("#lf-out", Input).value == "/tmp/rec-labelled"
