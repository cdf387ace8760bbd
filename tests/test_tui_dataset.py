"""Dataset screen: loading a folder, problem rows, filter/sort, waveform, sample data, errors."""

from __future__ import annotations

import numpy as np
import pytest
from textual.widgets import Checkbox, DataTable, Input, Static
from helpers_tui import GOOD_CLIPS, isolated_dirs, make_dataset, settle  # noqa: F401 (fixture)

from screens.app import WhisperTuiApp
from screens.presenters.dataset_rows import filter_rows, histogram_bin_seconds, rows_from_report, sort_rows
from screens.dataset.report import ReportScreen
from screens.dataset.screen import DatasetScreen
from screens.widgets.waveform import BRAILLE_BASE, Waveform, braille_waveform, column_peaks
from whisper_tui.data.dataset import validate_dataset

pytestmark = pytest.mark.usefixtures("isolated_dirs")
TOTAL_ROWS = GOOD_CLIPS + 4


def table_files(screen) -> list[str]:
    table = screen.query_one("#ds-table", DataTable)
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


def row_problems(screen) -> dict[str, str]:
    table = screen.query_one("#ds-table", DataTable)
    return {str(table.get_row_at(i)[1]): str(table.get_row_at(i)[5]) for i in range(table.row_count)}


# -- table model (no Textual) -------------------------------------------------------------------

def test_rows_carry_each_rows_problems(tmp_path):
    report = validate_dataset(make_dataset(tmp_path / "ds"))
    rows = {r.file_name: r for r in rows_from_report(report)}
    assert len(rows) == TOTAL_ROWS
    assert rows["missing.wav"].severity == "error" and rows["missing.wav"].duration_s is None
    assert rows["fast_rate.wav"].severity == "warning" and rows["fast_rate.wav"].sample_rate == 44100
    assert rows["silent_text.wav"].problem_text == "empty_transcript"
    assert rows["clip_00.wav"].problems == () and rows["clip_00.wav"].duration_s == pytest.approx(1.0)


def test_filter_and_sort(tmp_path):
    rows = rows_from_report(validate_dataset(make_dataset(tmp_path / "ds")))
    assert {r.file_name for r in filter_rows(rows, "KUBECTL")} == {"clip_01.wav", "clip_03.wav", "clip_05.wav"}
    assert {r.file_name for r in filter_rows(rows, "sentence dose")} == {"clip_00.wav", "clip_02.wav", "clip_04.wav"}
    assert {r.file_name for r in filter_rows(rows, "missing")} == {"missing.wav"}  # problem kinds match too
    assert {r.file_name for r in filter_rows(rows, problems_only=True)} == {
        "fast_rate.wav", "missing.wav", "silent_text.wav", "broken.wav"}
    by_duration = [r.file_name for r in sort_rows(rows, "duration", reverse=True)]
    assert by_duration[0] == "clip_05.wav" and set(by_duration[-2:]) == {"missing.wav", "broken.wav"}
    worst_first = sort_rows(rows, "problems")
    assert [r.severity for r in worst_first[:4]] == ["error", "error", "error", "warning"]


def test_histogram_bins_are_round():
    assert histogram_bin_seconds(3.5) == 0.25
    assert histogram_bin_seconds(29.0) == 2.0
    assert histogram_bin_seconds(10_000) == 60.0


# -- waveform drawing ---------------------------------------------------------------------------

def test_braille_waveform_follows_the_envelope():
    wave = np.concatenate([np.zeros(1000), 0.9 * np.ones(1000), 0.1 * np.ones(1000), np.zeros(1000)])
    lines = braille_waveform(wave, width=8, height=2)
    assert len(lines) == 2 and all(len(line) == 8 for line in lines)
    assert all(BRAILLE_BASE <= ord(ch) < BRAILLE_BASE + 256 for line in lines for ch in line)
    dots = [sum(bin(ord(lines[r][c]) - BRAILLE_BASE).count("1") for r in range(2)) for c in range(8)]
    assert dots[0] == dots[1] == 0 and dots[-1] == 0  # silence stays blank
    assert dots[2] > dots[4] > 0  # loud part fills more dots than the quiet part
    assert column_peaks(wave, 4).tolist() == pytest.approx([0.0, 0.9, 0.1, 0.0])


def test_braille_waveform_edge_cases():
    assert braille_waveform(np.zeros(0), 5, 2) == ["\u2800" * 5] * 2
    assert braille_waveform(np.ones(3), 0, 2) == []
    tiny = braille_waveform(np.array([0.5, -0.5]), width=4, height=1)  # fewer samples than columns
    assert len(tiny[0]) == 4 and all(ch != "\u2800" for ch in tiny[0])


# -- the screen ---------------------------------------------------------------------------------

async def test_loads_a_folder_and_marks_problem_rows(tmp_path):
    folder = make_dataset(tmp_path / "ds")
    app = WhisperTuiApp(dataset=folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DatasetScreen)
        assert screen.folder == folder
        assert len(table_files(screen)) == TOTAL_ROWS
        problems = row_problems(screen)
        assert problems["missing.wav"] == "missing"
        assert problems["broken.wav"] == "unreadable"
        assert problems["silent_text.wav"] == "empty_transcript"
        assert problems["fast_rate.wav"] == "odd_sample_rate"
        assert problems["clip_00.wav"] == "ok"
        table = screen.query_one("#ds-table", DataTable)
        bad = table.get_row("row-9")  # missing.wav is on line 9 of metadata.csv
        assert "red" in str(bad[1].style)
        summary = str(screen.query_one("#ds-summary", Static).content)
        assert f"{TOTAL_ROWS} clips · {GOOD_CLIPS + 1} usable" in summary
        assert "train 6 · test 1 (0.2 by sentence)" in summary
        counts = str(screen.query_one("#ds-problem-counts", Static).content)
        assert "3 error(s), 1 warning(s)" in counts


async def test_filter_and_problems_only(tmp_path):
    app = WhisperTuiApp(dataset=make_dataset(tmp_path / "ds"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("slash", *"kubectl")
        await pilot.pause()
        assert sorted(table_files(screen)) == ["clip_01.wav", "clip_03.wav", "clip_05.wav"]
        assert screen.query_one("#ds-table", DataTable).border_title == "Clips 3/10"
        await pilot.press("escape")  # leave the filter field: letters are keys again
        screen.query_one("#ds-filter", Input).value = ""
        await pilot.press("p")
        await pilot.pause()
        assert screen.query_one("#ds-problems-only", Checkbox).value
        assert sorted(table_files(screen)) == ["broken.wav", "fast_rate.wav", "missing.wav", "silent_text.wav"]
        await pilot.press("p")
        await pilot.pause()
        assert len(table_files(screen)) == TOTAL_ROWS


async def test_sort_by_key_and_header(tmp_path):
    app = WhisperTuiApp(dataset=make_dataset(tmp_path / "ds"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("o")  # row -> file
        assert screen.sort_column == "file"
        assert table_files(screen)[0] == "broken.wav"
        await pilot.press("o")  # -> duration
        await pilot.pause()
        assert screen.sort_column == "duration"
        files = table_files(screen)
        assert files[0] == "clip_00.wav" and files[-1] in {"missing.wav", "broken.wav"}
        table = screen.query_one("#ds-table", DataTable)
        table.post_message(DataTable.HeaderSelected(table, table.columns["duration"].key, 2, "Dur s"))
        await pilot.pause()
        assert screen.sort_reverse and table_files(screen)[0] == "clip_05.wav"
        assert "▼" in str(table.columns["duration"].label)


async def test_highlighted_clip_shows_waveform_and_details(tmp_path):
    app = WhisperTuiApp(dataset=make_dataset(tmp_path / "ds"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.pause(0.3)  # the waveform waits for the cursor to rest
        await settle(pilot)
        wave = screen.query_one("#ds-wave", Waveform)
        assert wave.has_wave and "clip_00.wav" in str(wave.border_title)
        assert "sentence 0 about the atorvastatin dose" in str(screen.query_one("#ds-clip-info", Static).content)
        table = screen.query_one("#ds-table", DataTable)
        table.move_cursor(row=table.get_row_index("row-9"))  # missing.wav
        await pilot.pause(0.3)
        await settle(pilot)
        assert not wave.has_wave and "missing" in wave.message
        info = str(screen.query_one("#ds-clip-info", Static).content)
        assert "missing: missing.wav not found" in info


async def test_bad_folder_error_appears_on_the_field(tmp_path):
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await pilot.press("f", *str(tmp_path / "nope"), "enter")
        await settle(pilot)
        error = screen.query_one("#ds-folder-error", Static)
        assert error.display and "Dataset folder not found" in str(error.content)
        assert screen.folder is None
        # fixing the path clears the message
        make_dataset(tmp_path / "ds", problems=False)
        screen.query_one("#ds-folder", Input).value = str(tmp_path / "ds")
        await pilot.press("enter")
        await settle(pilot)
        assert not error.display and len(table_files(screen)) == GOOD_CLIPS


async def test_report_and_train_on_it(tmp_path):
    folder = make_dataset(tmp_path / "ds")
    app = WhisperTuiApp(dataset=folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, ReportScreen)
        assert "missing.wav not found" in app.screen.text
        await pilot.press("escape")
        await pilot.press("t")
        await settle(pilot)
        assert app.current_mode == "train"
        assert app.screen.query_one("#f-data-train-dir", Input).value == str(folder)
        assert app.screen.profile.data.train_dir == str(folder)


@pytest.mark.timeout(120)
async def test_generate_sample_data(monkeypatch):
    """Real eSpeak synthesis of a 3-clip sample set into the (tmp) sample-data folder, then opened."""
    monkeypatch.setattr(DatasetScreen, "sample_clips", 3)
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await pilot.press("s")  # no sample data yet: asks first
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        # the progress row shows while eSpeak works (3 clips may already be done by now)
        assert screen.query_one("#ds-progress-row").display or screen.folder is not None
        for _ in range(300):
            await pilot.pause(0.1)
            if screen.folder is not None:
                break
        await settle(pilot)
        assert not screen.query_one("#ds-progress-row").display
        assert len(table_files(screen)) == 3
        assert screen.folder.name == "sample-data"


async def test_folder_picker_opens_the_highlighted_folder(tmp_path):
    from screens.modals.folder_picker import FolderPicker, FolderTree

    make_dataset(tmp_path / "projects" / "speech", problems=False)
    (tmp_path / "projects" / ".hidden").mkdir()
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        screen.query_one("#ds-folder", Input).value = str(tmp_path / "projects")
        await pilot.press("b")
        await pilot.pause(0.5)
        assert isinstance(app.screen, FolderPicker)
        tree = app.screen.query_one(FolderTree)
        labels = [str(node.label) for node in tree.root.children]
        assert labels == ["speech"]  # folders only, no hidden ones
        await pilot.press("down", "o")
        await settle(pilot)
        assert app.screen is screen and screen.folder == tmp_path / "projects" / "speech"
        assert len(table_files(screen)) == GOOD_CLIPS


async def test_split_follows_train_setup_test_split(tmp_path):
    from screens.widgets.profile_form import ProfileForm

    app = WhisperTuiApp(dataset=make_dataset(tmp_path / "ds"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        dataset = app.screen
        assert "train 6 · test 1 (0.2 by sentence)" in str(dataset.query_one("#ds-summary", Static).content)
        await pilot.press("2")
        await settle(pilot)
        app.screen.query_one(ProfileForm).editor("data.test_split").value = "0.5"
        await pilot.pause()
        app.screen.set_focus(None)
        await pilot.press("1")
        await pilot.pause()
        assert "train 3 · test 4 (0.5 by sentence)" in str(dataset.query_one("#ds-summary", Static).content)


async def test_an_engine_bug_in_a_worker_is_a_notification_not_a_crash(tmp_path, monkeypatch):
    def broken(folder, **kwargs):
        raise RuntimeError("validator exploded")

    monkeypatch.setattr("whisper_tui.data.dataset.validate_dataset", broken)
    app = WhisperTuiApp(dataset=make_dataset(tmp_path / "ds"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        notes = [n for n in app._notifications if n.severity == "error"]
        assert notes and "validator exploded" in notes[-1].message
        assert notes[-1].title.startswith("Could not check the dataset")
        assert not app.screen.query_one("#ds-table", DataTable).loading
        assert app.is_running


async def test_summary_says_how_the_split_was_made_and_warns_of_a_leak(tmp_path):
    from helpers_audio import make_dataset as make_clips, write_metadata

    folder = make_clips(tmp_path / "voices", n=6)
    write_metadata(folder, [("a0.wav", "one", "ann", "train"), ("a1.wav", "two", "bob", "train"),
                            ("a2.wav", "three", "ann", "train"), ("a3.wav", "four", "ann", "test"),
                            ("a4.wav", "Two!", "cy", "test"), ("a5.wav", "six", "cy", "test")],
                   header="file_name,transcription,speaker,split")
    app = WhisperTuiApp(dataset=folder)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        summary = str(app.screen.query_one("#ds-summary", Static).content)
        assert "train 3 · test 3 (split column)" in summary
        assert "test: 1 known · 2 new voices" in summary
        assert "1 test sentences also in train" in summary  # a4 says "two" like a1


async def test_a_separate_test_folder_that_repeats_training_sentences_is_flagged(tmp_path):
    from helpers_audio import make_dataset as make_clips

    from screens.widgets.profile_form import ProfileForm

    train = make_clips(tmp_path / "train", n=4)
    test = make_clips(tmp_path / "test", n=2)  # "clip number 0/1": the same sentences as two training clips
    app = WhisperTuiApp(dataset=train)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        dataset = app.screen
        await pilot.press("2")
        await settle(pilot)
        app.screen.query_one(ProfileForm).editor("data.test_dir").value = str(test)
        await pilot.pause()
        app.screen.set_focus(None)
        await pilot.press("1")
        await pilot.pause()
        summary = str(dataset.query_one("#ds-summary", Static).content)
        assert "train 4 · test 2 (test folder)" in summary
        assert "2 test sentences also in train" in summary
