"""Defects found driving the app in tmux (issue 15), each pinned by a Pilot test.

1. `t` on the Dataset screen opened Train setup with focus in the train-folder field and its text
   selected; the mode bar said `? help`, so `?` replaced the folder with "?". Now Train setup opens
   off the text fields, and `?` opens the help in any field the user is not editing.
2. `t` on the Dashboard opened the Transcribe console with the run's model and data filled in, and
   nothing ran, not even ctrl+r (Again): tests/test_tui_transcribe.py
   (test_opened_from_a_run_with_its_data_the_comparison_starts, test_ctrl_r_transcribes_whatever_audio_is_filled_in).
3. Found by benchmarks/bench_keypress.py: the Dashboard's log pulled a reader who scrolled up back to
   the end at every new line, and `end` waited for an idle screen (up to 3.6 s during a run).
"""

from __future__ import annotations

import pytest
from textual.widgets import Input
from helpers_tui import isolated_dirs, make_dataset, settle  # noqa: F401 (fixture)

from screens.app import WhisperTuiApp
from screens.help_screen import HelpScreen
from screens.train_setup import TrainSetupScreen
from screens.widgets.mode_bar import ModeBar
from screens.widgets.profile_form import ProfileForm

pytestmark = pytest.mark.usefixtures("isolated_dirs")


def mode_bar_text(screen) -> str:
    return str(screen.query_one(ModeBar).render())


async def test_question_mark_after_t_from_the_dataset_opens_help_and_keeps_the_folder(tmp_path):
    folder = make_dataset(tmp_path / "ds", problems=False)
    app = WhisperTuiApp(dataset=folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        setup = app.screen
        assert isinstance(setup, TrainSetupScreen)
        train_dir = setup.query_one(ProfileForm).editor("data.train_dir")
        assert train_dir.value == str(folder)
        assert "? help" in mode_bar_text(setup)

        await pilot.press("question_mark")
        await pilot.pause()
        assert train_dir.value == str(folder)  # before the fix: "?" (the field had focus, its text selected)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.focused, Input)  # the next key acts, it is not typed
        await pilot.press("3")  # number keys switch screens too
        await pilot.pause()
        assert app.current_mode == "dashboard"


async def test_question_mark_in_a_focused_field_opens_help_until_the_user_types_there():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        setup = app.screen
        field = setup.query_one(ProfileForm).editor("data.train_dir")
        field.focus()  # e.g. reached with Tab, or put there by a screen: its text is selected
        await pilot.pause()
        assert "? help" in mode_bar_text(setup)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and field.value == ""
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is field

        await pilot.press(*"/tmp/what", "question_mark")  # typing: the field is being edited
        await pilot.pause()
        assert app.screen is setup and field.value == "/tmp/what?"
        bar = mode_bar_text(setup)
        assert "f1 help  esc done" in bar and "? help" not in bar  # 80 columns: the short wording
        await pilot.press("f1")  # help is still one key away
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()

        await pilot.press("escape")  # leaving the field ends the editing
        await pilot.pause()
        assert "? help" in mode_bar_text(setup)
        field.focus()
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and field.value == "/tmp/what?"


async def test_question_mark_is_typed_in_a_dialogs_text_field():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("ctrl+n")  # save as: asks for a name
        await pilot.pause()
        prompt = app.screen
        name = prompt.query_one("#name-input", Input)
        assert app.focused is name
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen is prompt and name.value.endswith("?")


# -- the Dashboard's log while a run writes to it (bench_keypress) ---------------------------------------

async def test_log_panel_keeps_the_readers_place_and_end_follows_again():
    from textual.app import App

    from screens.widgets.log_panel import LogPanel

    class LogApp(App):
        def compose(self):
            yield LogPanel(id="log")

    app = LogApp()
    app.animation_level = "none"  # scrolls jump: the test checks where they end, not how they move
    async with app.run_test(size=(40, 8)) as pilot:
        log = app.query_one(LogPanel)
        for n in range(30):
            log.write(f"line {n}")
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y > 0  # following the end
        log.focus()
        await pilot.press("home")
        await pilot.pause()
        assert log.scroll_y == 0
        log.write("a new line")  # a training step: the reader stays where they are (RichLog jumped to the end)
        await pilot.pause()
        assert log.scroll_y == 0
        await pilot.press("end")
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y
        log.write("another line")  # at the end again: new lines are followed
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y
