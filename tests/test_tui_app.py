"""App shell: number keys, mode bar, help, command palette, cross-screen calls, quitting and SIGHUP."""

from __future__ import annotations

import signal

import pytest
from textual.command import CommandPalette
from textual.widgets import Input
from helpers_tui import isolated_dirs, settle  # noqa: F401 (fixture)

from screens.app import WhisperTuiApp, _install_hangup_handler
from screens.dashboard import DashboardScreen
from screens.dataset.screen import DatasetScreen
from screens.help_screen import HelpScreen
from screens.runs_screen import RunsScreen
from screens.train_setup import TrainSetupScreen
from screens.transcribe_screen import TranscribeScreen
from screens.widgets.mode_bar import ModeBar
from whisper_tui.errors import DatasetError

pytestmark = pytest.mark.usefixtures("isolated_dirs")

SCREENS = {"1": ("dataset", DatasetScreen), "2": ("train", TrainSetupScreen), "3": ("dashboard", DashboardScreen),
           "4": ("transcribe", TranscribeScreen), "5": ("runs", RunsScreen)}


def leave_text_field(app) -> None:
    """Some screens focus a text field on arrival (where digits are typed); like escape does."""
    if isinstance(app.focused, Input):
        app.screen.set_focus(None)


async def test_number_keys_switch_screens():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.current_mode == "dataset" and isinstance(app.screen, DatasetScreen)
        for key in ["2", "3", "4", "5", "1", "5", "2"]:
            leave_text_field(app)
            await pilot.press(key)
            await pilot.pause()
            mode, screen_class = SCREENS[key]
            assert app.current_mode == mode
            assert isinstance(app.screen, screen_class)
            assert app.mode_screen(mode) is app.screen and app.mode_of_screen(app.screen) == mode
        # screens are built once and kept (their state survives switching)
        train = app.mode_screen("train")
        await pilot.press("1", "2")
        assert app.screen is train


async def test_mode_bar_marks_the_current_screen():
    app = WhisperTuiApp()
    async with app.run_test(size=(120, 40)) as pilot:
        bar = app.screen.query_one(ModeBar)
        text = bar.render().plain
        for label in ("1 Dataset", "2 Train setup", "3 Dashboard", "4 Transcribe", "5 Runs"):
            assert label in text
        app.status_line = "● training 40%"
        await pilot.pause()
        assert bar.render().plain.rstrip().endswith("● training 40%")
        spans = [span for span in bar.render().spans if "reverse" in str(span.style)]
        assert len(spans) == 1 and bar.render().plain[spans[0].start:spans[0].end].strip() == "1 Dataset"
        app.status_line = ""
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        narrow = bar.render().plain
        assert len(narrow) <= 80 and "5 Runs" in narrow and narrow.rstrip().endswith("^p commands")


async def test_escape_leaves_a_text_field_so_number_keys_work():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f")  # focus the folder field
        assert isinstance(app.focused, Input)
        await pilot.press("2")  # typed, not a screen switch
        assert app.current_mode == "dataset" and app.focused.value == "2"
        await pilot.press("escape", "2")
        assert app.current_mode == "train"


def test_a_focus_event_before_any_screen_is_not_an_error():
    """Under load a DescendantFocus reached the app while its screen stack was empty (ScreenStackError)."""
    app = WhisperTuiApp()
    assert app.editing_field() is False


async def test_help_lists_the_current_screens_keys_first():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        sections = app.screen.sections()
        titles = [title for title, _note, _rows in sections]
        assert titles[0] == "Train setup screen (key 2)" and titles[1] == "Everywhere"
        assert {"Dataset screen (key 1)", "Dashboard screen (key 3)", "Runs screen (key 5)"} <= set(titles)
        train_rows = dict((desc, key) for key, desc in sections[0][2])
        assert train_rows["Start training with this profile"] == "^t" and train_rows["Save"] == "^s"
        everywhere = dict((desc, key) for key, desc in sections[1][2])
        assert everywhere["Help"] == "? / f1" and everywhere["Quit"] == "^q"
        dataset_rows = dict((desc, key) for key, desc in sections[titles.index("Dataset screen (key 1)")][2])
        assert dataset_rows["Show only rows with problems"] == "p" and dataset_rows["Filter"] == "/"
        await pilot.press("escape")
        assert isinstance(app.screen, TrainSetupScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("3")  # number keys close the help and go
        await pilot.pause()
        assert app.current_mode == "dashboard" and isinstance(app.screen, DashboardScreen)


def own_bindings() -> dict[str, list]:
    """Every Binding declared in the app's own classes (screens, modals, widgets), by class."""
    import importlib
    import inspect
    import pkgutil

    from textual.binding import Binding
    from textual.dom import DOMNode

    import screens
    import screens.widgets

    found: dict[str, list] = {}
    for package in (screens, screens.widgets):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for _name, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__ and issubclass(cls, DOMNode) and "BINDINGS" in vars(cls):
                    bindings = [b for b in cls.BINDINGS if isinstance(b, Binding)]
                    found[f"{module.__name__}.{cls.__qualname__}"] = bindings
    return found


def test_every_binding_has_an_id_and_the_helps_number_keys_share_the_apps():
    found = own_bindings()
    assert {"screens.app.WhisperTuiApp", "screens.help_screen.HelpScreen",
            "screens.runs_screen.RunsScreen"} <= set(found)
    missing = [f"{owner}: {b.key} -> {b.action}" for owner, bindings in found.items() for b in bindings if not b.id]
    assert missing == []
    for owner, bindings in found.items():
        ids = [b.id for b in bindings]
        assert len(ids) == len(set(ids)), owner
    app_modes = {b.id: (b.key, b.action) for b in WhisperTuiApp.BINDINGS if b.id.startswith("mode.")}
    help_modes = {b.id: (b.key, b.action.removeprefix("app.")) for b in HelpScreen.BINDINGS
                  if b.id.startswith("mode.")}
    assert help_modes == app_modes and len(app_modes) == 5


async def test_a_keymap_moves_a_screen_key_in_the_help_too():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_keymap({"mode.runs": "9"})
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("9")
        await pilot.pause()
        assert app.current_mode == "runs" and isinstance(app.screen, RunsScreen)


async def test_command_palette_lists_screens_profiles_and_actions():
    app = WhisperTuiApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        from screens.palette import WhisperCommands

        provider = WhisperCommands(app.screen)
        await provider.startup()
        names = [name for name, _callback, _help in provider._commands]
        assert "screen: runs" in names and "train: start" in names and "help: keys" in names
        assert "profile: load cpu-quick" in names and "dataset: generate sample data" in names
        await pilot.press(*"screen: runs")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "runs"


async def test_palette_profile_load_goes_to_train_setup():
    app = WhisperTuiApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await app.load_profile_into_setup("full")
        await settle(pilot)
        assert app.current_mode == "train" and app.screen.profile_name == "full"


async def test_start_training_and_open_transcribe_use_the_screens(monkeypatch):
    calls = []
    monkeypatch.setattr(DashboardScreen, "start_run",
                        lambda self, profile, output_dir=None, resume_from=None: calls.append(("run", profile)))
    monkeypatch.setattr(TranscribeScreen, "select_model",
                        lambda self, path, audio=None, compare=False: calls.append(("model", path)))
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.start_training_from_setup()
        await settle(pilot)
        assert app.current_mode == "dashboard"
        assert calls[0][0] == "run" and calls[0][1].name == "cpu-quick"
        await app.open_transcribe("/runs/x/final")
        assert app.current_mode == "transcribe" and calls[1] == ("model", "/runs/x/final")


def pretend_running(monkeypatch, cancels: list, *, stop_after_cancel: bool = True):
    state = {"running": True}

    def cancel(self):
        cancels.append(True)
        if stop_after_cancel:
            state["running"] = False

    monkeypatch.setattr(DashboardScreen, "training_active", property(lambda self: state["running"]))
    monkeypatch.setattr(DashboardScreen, "cancel_run", cancel)
    return state


async def test_quit_while_training_asks_then_cancels_cleanly(monkeypatch):
    cancels: list = []
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        pretend_running(monkeypatch, cancels)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmModal"
        await pilot.press("n")  # keep training
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen) and cancels == [] and app.is_running
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause(0.6)
        assert cancels == [True]
    assert app.return_code == 0


async def test_quit_waits_for_the_cancelled_run_to_stop(monkeypatch):
    cancels: list = []
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        state = pretend_running(monkeypatch, cancels, stop_after_cancel=False)
        app.cancel_run_and_exit("bye")
        await pilot.pause(0.5)
        assert cancels == [True] and app.is_running  # still saving its checkpoint
        state["running"] = False
        await pilot.pause(0.5)
        assert not app.is_running


async def test_quit_when_idle_exits_at_once():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not app.is_running


async def test_hangup_cancels_the_run_without_asking(monkeypatch):
    cancels: list = []
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        pretend_running(monkeypatch, cancels)
        app.handle_hangup()
        await pilot.pause(0.6)
        assert cancels == [True]
        assert not app.is_running


def test_hangup_handler_is_installed_and_restored():
    before = signal.getsignal(signal.SIGHUP)
    restore = _install_hangup_handler(WhisperTuiApp())
    try:
        assert signal.getsignal(signal.SIGHUP) is not before
        assert signal.getsignal(signal.SIGTERM) is signal.getsignal(signal.SIGHUP)
    finally:
        restore()
    assert signal.getsignal(signal.SIGHUP) is before


async def test_engine_errors_become_notifications():
    from screens.notify import notify_error

    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        notify_error(app.screen, DatasetError("metadata.csv is empty", "add a header line"), "open the dataset")
        await pilot.pause()
        note = list(app._notifications)[-1]
        assert note.severity == "error" and note.title == "Could not open the dataset"
        assert "metadata.csv is empty" in note.message and "add a header line" in note.message


async def test_dataset_from_the_command_line(tmp_path):
    from helpers_tui import make_dataset

    folder = make_dataset(tmp_path / "ds", problems=False)
    app = WhisperTuiApp(dataset=folder, profile="full")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.mode_screen("dataset").folder == folder
        assert app.current_mode == "train" and app.screen.profile_name == "full"


async def test_quit_with_unsaved_profile_changes_asks():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        from screens.widgets.profile_form import ProfileForm

        app.screen.query_one(ProfileForm).editor("training.num_train_epochs").value = "2"
        await pilot.pause()
        assert app.screen.modified
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmModal"
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and app.current_mode == "train"
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert not app.is_running
