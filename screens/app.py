"""The whisper-tui terminal app: five views as Textual modes, switched with the number keys.

1 Dataset, 2 Train setup, 3 Dashboard, 4 Transcribe, 5 Runs. Each view is a mode with its own
screen stack, built on first visit (so opening the app costs only the first screen; the heavy
engine parts load in workers later). The app owns what crosses views: starting a run from the
setup, opening a model in Transcribe, the quit-while-training question, and SIGHUP (a closed SSH
session) cancelling a run cleanly so its checkpoint is saved.
"""

from __future__ import annotations

import asyncio
import importlib
import signal
from pathlib import Path

from textual import events
from textual.app import App, ScreenStackError
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, TextArea

from screens.field_editing import HELP_CHARACTER, FieldEditing, is_text_field
from screens.help_screen import HelpScreen
from screens.palette import WhisperCommands
from screens.modes import MAIN_MODES, MODE_CLASSES

STYLES = Path(__file__).resolve().parent.parent / "styles"
CANCEL_WAIT_SECONDS = 120.0  # how long quitting waits for a cancelled run to save its checkpoint


def _mode_binding(mode: str, key: str, label: str) -> Binding:
    return Binding(key, f"switch_mode('{mode}')", label, id=f"mode.{mode}",
                   group=Binding.Group("screens", compact=True), tooltip=f"Go to {label}")


class WhisperTuiApp(App):
    """The app. `start_mode`, `dataset` and `profile` let the CLI open it where the user wants."""

    TITLE = "whisper-tui"
    CSS_PATH = [STYLES / "app.tcss"]
    DEFAULT_MODE = "dataset"
    MODE_CLASSES: dict[str, tuple[str, str]] = dict(MODE_CLASSES)  # screens/modes.py
    COMMANDS = App.COMMANDS | {WhisperCommands}
    BINDINGS = [
        *(_mode_binding(mode, key, label) for mode, key, label in MAIN_MODES),
        # also in a focused text field the user is not editing (on_event; screens/field_editing.py)
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("ctrl+q", "quit", "Quit", priority=True, id="app.quit"),
        Binding("escape", "leave_field", "Leave a text field (then number keys switch screens)", show=False, id="app.leave_field"),
    ]

    status_line: reactive[str] = reactive("")
    """Shown on the right of every screen's mode bar (the dashboard sets it while a run is going)."""

    field_editing: reactive[bool] = reactive(False)
    """A text field is being edited, so `?` types there (the mode bar then offers f1 and escape)."""

    def __init__(self, *, start_mode: str | None = None, dataset: str | Path | None = None,
                 profile: str | None = None) -> None:
        super().__init__()
        self._mode_screens: dict[str, Screen] = {}
        self._start_mode = start_mode
        self._start_dataset = dataset
        self._start_profile = profile
        self._quitting = False
        self._field_editing = FieldEditing()
        for mode in self.MODE_CLASSES:
            self.add_mode(mode, lambda mode=mode: self._build_mode_screen(mode))

    # -- modes ----------------------------------------------------------------------------------
    def _build_mode_screen(self, mode: str) -> Screen:
        module_name, class_name = self.MODE_CLASSES[mode]
        screen_class = getattr(importlib.import_module(module_name), class_name)
        screen = screen_class()
        self._mode_screens[mode] = screen
        return screen

    def mode_screen(self, mode: str) -> Screen | None:
        """The base screen of `mode` if it was visited (screens are built on first visit)."""
        return self._mode_screens.get(mode)

    def mode_of_screen(self, screen: Screen) -> str | None:
        for mode, candidate in self._mode_screens.items():
            if candidate is screen:
                return mode
        return None

    async def show_mode(self, mode: str) -> Screen:
        """Switch to `mode`, wait until its screen is composed, and return that screen."""
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        await self.switch_mode(mode)
        return self._mode_screens[mode]

    async def action_switch_mode(self, mode: str) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()  # number keys close the help and go where asked
        elif isinstance(self.screen, ModalScreen):
            return  # a question is open: answer it first
        self.switch_mode(mode)

    async def on_mount(self) -> None:
        if self._start_mode and self._start_mode != self.current_mode:
            await self.show_mode(self._start_mode)
        if self._start_dataset is not None:
            screen = await self.show_mode("dataset")
            screen.open_folder(Path(self._start_dataset))
        if self._start_profile is not None:
            await self.load_profile_into_setup(self._start_profile)

    # -- text fields: typing in them or not --------------------------------------------------------
    async def on_event(self, event: events.Event) -> None:
        """Before a key reaches a text field: note that the user edits it, or open the help for `?`.

        A text field consumes printable keys before any binding sees them (Textual drops such keys
        from the binding chain), so `?` in a field that is only focused is caught here.
        """
        if isinstance(event, events.Key | events.Paste) and not event.is_forwarded:
            if self._field_editing.saw(event, self.focused):
                self.field_editing = True
            elif isinstance(event, events.Key) and self._help_key_in_idle_field(event):
                self.action_help()
                return
        await super().on_event(event)

    def _help_key_in_idle_field(self, event: events.Key) -> bool:
        return (event.character == HELP_CHARACTER and is_text_field(self.focused) and not self.editing_field()
                and not isinstance(self.screen, ModalScreen))

    def editing_field(self) -> bool:
        """Is the focused widget a text field the user is editing (see screens/field_editing.py)?

        A focus event can arrive while the app has no screen yet (start-up under load, seen in a parallel
        test run): nothing is being edited then, instead of a ScreenStackError out of the event handler.
        """
        try:
            screen = self.screen
        except ScreenStackError:
            return False
        return self._field_editing.editing(self.focused, screen)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.field_editing = self.editing_field()

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self._field_editing.left(event.widget)
        self.field_editing = self.editing_field()

    def action_leave_field(self) -> None:
        """Escape in a text field gives the keys back to the screen (number keys, letters)."""
        if isinstance(self.focused, Input | TextArea):
            self.screen.set_focus(None)

    # -- cross-screen actions (also used by the command palette) ---------------------------------
    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        self.push_screen(HelpScreen(self.current_mode))

    async def start_training(self, profile, output_dir=None, resume_from=None) -> None:
        """Show the dashboard and start a run there (DashboardScreen.start_run reports its own errors)."""
        dashboard = await self.show_mode("dashboard")
        if getattr(dashboard, "training_active", False):
            self.notify("A run is already in progress: cancel it on the dashboard first.", severity="warning")
            return
        dashboard.start_run(profile, output_dir=output_dir, resume_from=resume_from)

    async def open_transcribe(self, model_path: str | Path, audio: str | Path | None = None,
                              compare: bool = False) -> None:
        screen = await self.show_mode("transcribe")
        screen.select_model(model_path, audio=str(audio) if audio else None, compare=compare)

    async def start_training_from_setup(self) -> None:
        screen = await self.show_mode("train")
        screen.action_start()

    async def load_profile_into_setup(self, name: str) -> None:
        screen = await self.show_mode("train")
        screen.request_load(name)

    async def profile_action(self, action: str, *args: str) -> None:
        screen = await self.show_mode("train")
        await screen.run_action(f"profile_{action}({', '.join(repr(a) for a in args)})")

    async def open_sample_dataset(self) -> None:
        screen = await self.show_mode("dataset")
        screen.action_open_sample()

    async def generate_sample_dataset(self) -> None:
        screen = await self.show_mode("dataset")
        screen.action_generate_sample()

    async def use_current_dataset_for_training(self) -> None:
        dataset = self.mode_screen("dataset")
        folder = getattr(dataset, "folder", None)
        if folder is None:
            self.notify("Open a dataset folder on the Dataset screen (1) first.", severity="warning")
            return
        await self.use_dataset_for_training(folder)

    async def use_dataset_for_training(self, folder: Path) -> None:
        screen = await self.show_mode("train")
        screen.set_train_dir(folder)

    # -- quitting -------------------------------------------------------------------------------
    def _running_dashboard(self):
        dashboard = self.mode_screen("dashboard")
        return dashboard if dashboard is not None and getattr(dashboard, "training_active", False) else None

    async def action_quit(self) -> None:
        """Quit; first ask when a run would be cancelled or profile edits would be lost."""
        from screens.modals.confirm import ConfirmModal

        if self._quitting or isinstance(self.screen, ConfirmModal):
            return  # a question is already open

        if self._running_dashboard() is not None:
            def answered(quit_now: bool | None) -> None:
                if quit_now:
                    self.cancel_run_and_exit("Quitting: cancelling the run and saving a checkpoint…")

            self.push_screen(ConfirmModal(
                "Training is running", "Quit anyway? The run is cancelled and a checkpoint is saved first, "
                "so it can be resumed later from the Runs screen.", yes_label="Cancel run and quit",
                no_label="Keep training"), answered)
            return
        setup = self.mode_screen("train")
        if setup is not None and getattr(setup, "modified", False):
            def discard(quit_now: bool | None) -> None:
                if quit_now:
                    self.exit()

            self.push_screen(ConfirmModal(
                "Unsaved profile changes", f'The profile "{setup.profile_name}" has changes that are not saved '
                "(Train setup, ctrl+s saves). Quit and lose them?", yes_label="Quit without saving",
                no_label="Keep editing"), discard)
            return
        self.exit()

    def cancel_run_and_exit(self, note: str) -> None:
        """Cancel the running job, wait (in the background) until it stopped, then exit."""
        dashboard = self._running_dashboard()
        if dashboard is None:
            self.exit()
            return
        self._quitting = True
        self.notify(note, timeout=CANCEL_WAIT_SECONDS)
        dashboard.cancel_run()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CANCEL_WAIT_SECONDS

        def check() -> None:
            if not getattr(dashboard, "training_active", False) or loop.time() > deadline:
                self.exit()
            else:
                self.set_timer(0.2, check)

        self.set_timer(0.2, check)

    def handle_hangup(self) -> None:
        """SIGHUP (terminal/SSH gone): no one can answer a question, so cancel cleanly and exit."""
        self.cancel_run_and_exit("Terminal closed: cancelling the run and saving a checkpoint…")


def _install_hangup_handler(app: WhisperTuiApp):
    """Route SIGHUP/SIGTERM to the app's event loop; returns a function restoring the old handlers."""
    previous = {}

    def on_signal(signum, frame) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # the app is not running (yet / any more)
            raise SystemExit(128 + signum) from None
        loop.call_soon_threadsafe(app.handle_hangup)

    for sig in (signal.SIGHUP, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, on_signal)
        except (ValueError, OSError):  # not the main thread / unsupported platform
            pass

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def run_app(*, start_mode: str | None = None, dataset: str | Path | None = None, profile: str | None = None) -> int:
    """Run the TUI until the user quits; returns the exit code for the CLI."""
    app = WhisperTuiApp(start_mode=start_mode, dataset=dataset, profile=profile)
    restore = _install_hangup_handler(app)
    try:
        app.run()
    finally:
        restore()
    return app.return_code or 0


if __name__ == "__main__":
    raise SystemExit(run_app())
