"""Train setup view (key 2): edit a training profile, see what it will cost, start the run.

Every change is validated by the engine (`apply_overrides`, the same checks as the CLI's --set),
and its error appears under the field it names. The side panel manages named profiles (built-in
presets are read-only: saving one asks for a new name), marks unsaved changes, and shows the
trainable-parameter count and a rough memory estimate (`whisper_tui.training.estimate`) next to what this
machine has (`whisper_tui.system.sysmon`, read once in a worker).
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static
from textual.worker import Worker

from whisper_tui.errors import ProfileError, WhisperTuiError

from screens.messages import SystemStatsRead
from screens.notify import error_text, notify_error, notify_worker_failure
from screens.widgets.mode_bar import ModeBar
from screens.widgets.review_bar import only_reviewed_text
from screens.widgets.profile_form import ProfileForm, label_for

FORM_ORIGIN = "form"
MAX_ERROR_PASSES = 64  # one per field at most: each pass removes one invalid field
ESTIMATE_WIDTH = 32  # #ts-side (styles/app.tcss): width 36 less its border and padding


def validate_form(base, values: dict[str, object], last_edited: str | None = None):
    """(profile, errors by key): the profile from every valid field, and one message per invalid field.

    The engine stops at the first problem, so fields are tried together and the one it names is set
    aside until the rest pass. A cross-field error (min >= max) names one key; it is shown there,
    and the field edited last is what gets set aside.
    """
    from whisper_tui.config.profile import apply_overrides

    overrides = dict(values)
    errors: dict[str, str] = {}
    for _ in range(MAX_ERROR_PASSES):
        try:
            return apply_overrides(base, overrides, origin=FORM_ORIGIN), errors
        except ProfileError as exc:
            key = exc.where if exc.where in overrides else (last_edited if last_edited in overrides else None)
            if key is None:
                key = next(iter(overrides), None)
            if key is None:
                raise
            errors.setdefault(exc.where or key, _field_message(exc, exc.where or key))
            overrides.pop(key)
    raise AssertionError("validate_form did not converge")


def _field_message(exc: ProfileError, key: str) -> str:
    """The engine's message without 'form: <key> ' in front: it is shown under that very field."""
    message = exc.message
    if message.startswith(f"{FORM_ORIGIN}: "):
        message = message[len(FORM_ORIGIN) + 2:]
    if message.startswith(f"{key} "):
        message = message[len(key) + 1:]
    return f"{message} — {exc.hint}" if exc.hint else message


class NameScreen(ModalScreen[str | None]):
    """Asks for a profile name; the check is the engine's (`check_profile_name`)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="name.cancel")]

    def __init__(self, title: str, initial: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.initial = initial

    def compose(self) -> ComposeResult:
        with Vertical(id="name-box"):
            yield Label(self.title_text)
            yield Input(self.initial, placeholder="letters, digits, - _ .", id="name-input")
            yield Static("", id="name-error", classes="field-error")
            with Horizontal(id="name-buttons"):
                yield Button("Cancel (esc)", id="name-cancel", compact=True)
                yield Button("Save (enter)", id="name-ok", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#name-input", Input).focus()

    def _accept(self) -> None:
        from whisper_tui.config.profile import check_profile_name

        value = self.query_one("#name-input", Input).value
        try:
            name = check_profile_name(value)
        except ProfileError as exc:
            self.query_one("#name-error", Static).update(error_text(exc))
            return
        self.dismiss(name)

    @on(Input.Submitted, "#name-input")
    def _submitted(self) -> None:
        self._accept()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "name-ok":
            self._accept()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TrainSetupScreen(Screen):
    AUTO_FOCUS = "#ts-profile"  # not a text field: number keys must still switch screens
    HELP = ("Every profile setting, checked as you type. Built-in profiles are read-only: save your changes "
            "under a new name. The estimate is arithmetic from the model's shape, calibrated on measured CPU runs "
            "(benchmarks/RESULTS.md 14).")

    BINDINGS = [
        Binding("ctrl+t", "start", "Start", tooltip="Start training with this profile", id="train.start"),
        Binding("ctrl+s", "profile_save", "Save", id="train.save"),
        Binding("ctrl+n", "profile_save_as", "Save as", id="train.save_as"),
        Binding("ctrl+l", "focus_profiles", "Load", id="train.load"),
        Binding("ctrl+r", "profile_revert", "Revert", id="train.revert"),
        Binding("f8", "profile_delete", "Delete", tooltip="Delete this user profile", id="train.delete"),
    ]

    def __init__(self) -> None:
        super().__init__()
        from whisper_tui.config.profile import settings

        self.specs = settings()
        self.profile = None  # the form's current valid profile
        self.saved = None  # the profile as loaded/saved (for the unsaved-changes marker)
        self.profile_name = ""
        self.builtin = False
        self.errors: dict[str, str] = {}
        self.stats = None
        self._profile_names: list[str] = []

    def compose(self) -> ComposeResult:
        yield ModeBar("train")
        with Horizontal(id="ts-main"):
            form = ProfileForm(self.specs, id="ts-form")
            form.border_title = "Profile settings"
            yield form
            with VerticalScroll(id="ts-side"):
                with Horizontal(id="ts-profile-row"):
                    yield Select([], id="ts-profile", allow_blank=True, prompt="profile…", compact=True)
                yield Static("", id="ts-modified")
                with Vertical(id="ts-buttons"):
                    yield Button("Save ^s", id="ts-save", compact=True)
                    yield Button("Save as ^n", id="ts-save-as", compact=True)
                    yield Button("Revert ^r", id="ts-revert", compact=True)
                    yield Button("Delete f8", id="ts-delete", compact=True)
                yield Button("▶ Start training ^t", id="ts-start", variant="success", compact=True)
                yield Static("", id="ts-estimate")
        yield Static("", id="ts-help")
        yield Footer(compact=True, show_command_palette=False)  # ^p is on the mode bar: room for keys

    def on_mount(self) -> None:
        self.query_one("#ts-side").border_title = "Profile"
        self._refresh_profile_list()
        from whisper_tui.config.profile import DEFAULT_PROFILE

        self.load(DEFAULT_PROFILE)
        self._read_system()

    # -- profiles ------------------------------------------------------------------------------
    def _refresh_profile_list(self) -> None:
        from whisper_tui.config.profile import list_profiles

        try:
            infos = list_profiles()
        except WhisperTuiError as exc:
            notify_error(self, exc, "list the profiles")
            infos = []
        select = self.query_one("#ts-profile", Select)
        options = [(f"{i.name} (built-in)" if i.builtin else i.name, i.name) for i in infos if not i.error]
        self._profile_names = [value for _label, value in options]
        with self.prevent(Select.Changed):
            select.set_options(options)
        if self.profile_name:
            self._select_profile_in_list(self.profile_name)

    def load(self, name: str) -> bool:
        """Put profile `name` into the form. False (and a notification) if it cannot be read."""
        from whisper_tui.config.profile import BUILTIN_SOURCE, load_profile

        try:
            profile = load_profile(name)
        except WhisperTuiError as exc:
            notify_error(self, exc, f"load profile {name}")
            return False
        self.profile = self.saved = profile
        self.profile_name = profile.name
        self.builtin = profile.source == BUILTIN_SOURCE
        self.errors = {}
        form = self.query_one(ProfileForm)
        form.set_values(profile)
        form.show_errors({})
        self._select_profile_in_list(profile.name)
        self._after_change()
        return True

    def _select_profile_in_list(self, name: str) -> None:
        select = self.query_one("#ts-profile", Select)
        with self.prevent(Select.Changed):
            if name in self._profile_names:
                select.value = name
            else:
                select.clear()

    def request_load(self, name: str) -> None:
        """Load `name`, asking first when there are unsaved changes."""
        if name == self.profile_name and not self.modified:
            return
        if not self.modified:
            self.load(name)
            return
        from screens.modals.confirm import ConfirmModal

        def answered(discard: bool | None) -> None:
            if discard:
                self.load(name)
            else:
                self._select_profile_in_list(self.profile_name)

        self.app.push_screen(ConfirmModal(
            "Discard unsaved changes?", f'Loading "{name}" replaces the form; your changes to '
            f'"{self.profile_name}" are lost unless you save them first.', yes_label="Discard and load",
            no_label="Keep editing"), answered)

    @on(Select.Changed, "#ts-profile")
    def _profile_picked(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.request_load(event.value)

    @property
    def modified(self) -> bool:
        return bool(self.errors) or (self.profile is not None and self.profile != self.saved)

    def _save_under(self, name: str) -> None:
        from whisper_tui.config.profile import save_user_profile

        try:
            path = save_user_profile(self.profile, name)
        except WhisperTuiError as exc:
            notify_error(self, exc, f"save profile {name}")
            return
        self.notify(f"Saved profile {name} ({path})")
        self._refresh_profile_list()
        self.load(name)

    def action_profile_save(self) -> None:
        if self.errors:
            self._refuse_invalid("save")
            return
        if self.builtin:
            self.action_profile_save_as()
            return
        self._save_under(self.profile_name)

    def action_profile_save_as(self) -> None:
        if self.errors:
            self._refuse_invalid("save")
            return
        suggestion = f"{self.profile_name}-copy" if self.builtin else self.profile_name
        title = (f'"{self.profile_name}" is built in and read-only: save as' if self.builtin
                 else "Save profile as")

        def named(name: str | None) -> None:
            if name:
                self._save_under(name)

        self.app.push_screen(NameScreen(title, suggestion), named)

    def action_profile_revert(self) -> None:
        if self.profile_name:
            self.load(self.profile_name)

    def action_profile_delete(self, name: str | None = None) -> None:
        name = name or self.profile_name
        from whisper_tui.config.profile import builtin_names

        if name in builtin_names():
            self.notify(f'"{name}" is a built-in profile and cannot be deleted.', severity="warning")
            return
        from screens.modals.confirm import ConfirmModal

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            from whisper_tui.config.profile import DEFAULT_PROFILE, delete_user_profile

            try:
                path = delete_user_profile(name)
            except WhisperTuiError as exc:
                notify_error(self, exc, f"delete profile {name}")
                return
            self.notify(f"Deleted {path}")
            if name == self.profile_name:
                self.load(DEFAULT_PROFILE)
            self._refresh_profile_list()

        self.app.push_screen(ConfirmModal(f'Delete profile "{name}"?', "The file is removed; this cannot be undone.",
                                          yes_label="Delete"), answered)

    def action_focus_profiles(self) -> None:
        self.query_one("#ts-profile", Select).focus()

    # -- editing -------------------------------------------------------------------------------
    def on_profile_form_edited(self, message: ProfileForm.Edited) -> None:
        self._revalidate(message.key)

    def _revalidate(self, last_edited: str | None = None) -> None:
        form = self.query_one(ProfileForm)
        try:
            profile, errors = validate_form(self.saved, form.raw_values(), last_edited)
        except WhisperTuiError as exc:  # not tied to any field: show it, keep the last good profile
            notify_error(self, exc, "check the profile")
            return
        self.profile, self.errors = profile, errors
        form.show_errors(errors)
        form.update_enabled(profile)
        self._after_change()

    def set_train_dir(self, folder: Path) -> None:
        """Called when the Dataset screen's folder is chosen for training.

        The field is shown, not focused: a focused text field with its text selected took the next
        key (`?` for help, a number to switch screens) as the new folder. Start is the next step.
        """
        form = self.query_one(ProfileForm)
        form.set_value("data.train_dir", str(folder))
        form.editor("data.train_dir").scroll_visible(animate=False)
        self.query_one("#ts-start", Button).focus()
        self.notify(f"data.train_dir = {folder} — Enter or ctrl+t starts training")

    def _after_change(self) -> None:
        self._show_modified()
        self._show_estimate()

    def _show_modified(self) -> None:
        label = self.query_one("#ts-modified", Static)
        name = self.profile_name or "(unnamed)"
        text = Text(name, style="bold")
        if self.builtin:
            text.append(" built-in", style="dim")
        if self.errors:
            text.append(f"  ✖ {len(self.errors)} invalid", style="bold red")
        elif self.modified:
            text.append("  ● modified", style="bold yellow")
        else:
            text.append("  ✓ saved", style="green")
        label.update(text)
        self.query_one("#ts-delete", Button).disabled = self.builtin
        self.query_one("#ts-revert", Button).disabled = not self.modified

    def _show_estimate(self) -> None:
        from whisper_tui.training.estimate import estimate_for_profile
        from whisper_tui.system.sysmon import format_bytes

        if self.profile is None:
            return
        cuda = bool(self.stats and self.stats.gpus)
        estimate, note = estimate_for_profile(self.profile, cuda=cuda)
        text = Text()
        text.append("Estimate\n", style="bold underline")
        text.append(f"trainable {estimate.trainable_params:,}\n")
        text.append(f"  of {estimate.total_params / 1e6:.1f} M params ({estimate.trainable_percent:.2f}%)\n", style="dim")
        text.append(estimate.figure, style="bold")  # the words and figure `whisper-tui train` logs
        text.append(f"\n  {estimate.where}\n", style="yellow" if estimate.cuda else "dim")
        for part, value in estimate.parts.items():
            line = f"  {part}: {format_bytes(value)}"
            if len(line) > ESTIMATE_WIDTH:  # the figure on its own line rather than "749 / MiB" across two
                line = f"  {part}:\n    {format_bytes(value)}"
            text.append(line + "\n", style="dim")
        if note:
            text.append(note + "\n", style="yellow")
        text.append_text(self._fit_text(estimate.total_bytes))
        text.append_text(self._cache_text())
        text.append_text(only_reviewed_text(self.profile))  # data.only_reviewed: how many clips it leaves
        self.query_one("#ts-estimate", Static).update(text)

    def _cache_text(self) -> Text:
        """The encoder cache's size on disk and whether the disk and finetuning.encoder_cache_max_gb hold it."""
        from whisper_tui.training.estimate import estimate_encoder_cache

        cache = estimate_encoder_cache(self.profile)
        if cache is None:
            return Text()
        fits, verdict = cache.verdict()
        text = Text(f"\n{cache.summary()}\n", style="dim")
        text.append(verdict, style="green" if fits else "bold red")
        return text

    def _fit_text(self, need: int) -> Text:
        from whisper_tui.system.sysmon import format_bytes

        stats = self.stats
        if stats is None:
            return Text("reading this machine's memory…", style="dim")
        if stats.gpus:
            gpu = max(stats.gpus, key=lambda g: g.memory_total_bytes)
            free = gpu.memory_total_bytes - gpu.memory_used_bytes
            where = f"GPU{gpu.index} has {format_bytes(free)} free"
        else:
            free = stats.ram_total_bytes - stats.ram_used_bytes
            where = f"RAM has {format_bytes(free)} free"
        fits = need <= free
        line = Text(f"{'fits' if fits else 'may not fit'}: {where}", style="green" if fits else "bold red")
        if stats.gpu_note:
            line.append(f"\n{stats.gpu_note}", style="dim")
        return line

    @work(thread=True, exclusive=True, group="sysmon", exit_on_error=False, description="read system memory")
    def _read_system(self) -> None:
        from whisper_tui.system.sysmon import snapshot

        self.post_message(SystemStatsRead(snapshot()))

    def on_system_stats_read(self, message: SystemStatsRead) -> None:
        self.stats = message.stats
        self._show_estimate()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        notify_worker_failure(self, event)

    def on_descendant_focus(self, event) -> None:
        key = self.query_one(ProfileForm).key_of(event.widget)
        help_line = self.query_one("#ts-help", Static)
        if key is None:
            help_line.update("")
            return
        rule = next(spec.rule for spec in self.specs if spec.key == key)
        help_line.update(Text.assemble((key, "bold"), f" — {rule.help}"))

    # -- start ---------------------------------------------------------------------------------
    def _refuse_invalid(self, what: str) -> None:
        first = next(iter(self.errors))
        self.notify(f"Fix {len(self.errors)} invalid field(s) before you {what}: {label_for(first)} "
                    f"({first}) first.", severity="error")
        self.query_one(ProfileForm).editor(first).focus()

    def action_start(self) -> None:
        if self.errors:
            self._refuse_invalid("start training")
            return
        if self.profile is None:
            return
        self.run_worker(self.app.start_training(self.profile), exclusive=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        actions = {"ts-save": self.action_profile_save, "ts-save-as": self.action_profile_save_as,
                   "ts-revert": self.action_profile_revert, "ts-delete": self.action_profile_delete,
                   "ts-start": self.action_start}
        action = actions.get(event.button.id or "")
        if action is not None:
            action()
