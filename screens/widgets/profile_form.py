"""A form with one field per profile setting, built from `whisper_tui.config.profile.settings()`.

The schema's rules pick the widget (switch for booleans, a select for choices, a checklist for
LoRA target layers, text fields otherwise), so a setting added to the engine shows up here
without UI work. The form only holds raw values: validation is the engine's
(`apply_overrides`), and the screen reports its errors back with `show_errors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, SelectionList, Static

from whisper_tui.config.profile_schema import all_keys

from screens.widgets.path_suggester import PathSuggester

MODEL_SUGGESTIONS = ("tiny.en", "openai/whisper-tiny.en", "openai/whisper-tiny")
PATH_KEYS = {"data.train_dir", "data.test_dir", "data.keep_dir", "output.dir"}
SECTION_TITLES = {
    "": "Profile", "model": "Model", "data": "Data", "finetuning": "Fine-tuning",
    "finetuning.lora": "LoRA adapters", "training": "Training", "output": "Output",
}
PLACEHOLDERS = {
    "data.train_dir": "empty = bundled sample data",
    "data.test_dir": "empty = split the train folder",
    "data.keep_dir": "empty = bundled jfk + everyday sentences",
    "output.dir": "empty = the app's runs folder",
    "model.windows": "e.g. 10, 20, 30 (empty = one window)",
    "model.prompt": "empty = none; e.g. words and names to expect",
    "description": "one line for profile lists",
}


def field_id(key: str) -> str:
    return "f-" + key.replace(".", "-").replace("_", "-")


def label_for(key: str) -> str:
    """The setting's label (`Rule.label` in the profile schema); a name that is no setting, as it is."""
    spec = all_keys().get(key)
    return spec.label if spec is not None else key


def format_value(value: Any) -> str:
    """How a number is typed: 3, 0.2, 1e-5 (not 1e-05 or 3.0)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):  # model.windows: typed back as "10, 20, 30"
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e6:
            return str(int(value)) if abs(value) >= 1 else f"{value:g}"
        if 1e-3 <= abs(value) < 1e6:
            return f"{value:g}"
        mantissa, exponent = f"{value:.6e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return str(value)


def disabled_keys(profile) -> set[str]:
    """Settings that have no effect with the rest of the profile (greyed out, kept as they are)."""
    out: set[str] = set()
    ft, tr = profile.finetuning, profile.training
    if profile.model.window_s != 0:
        out.add("model.windows")  # one window asked for: the list is not used
    if ft.strategy == "full":
        out |= {"finetuning.lora.r", "finetuning.lora.lora_alpha", "finetuning.lora.lora_dropout",
                "finetuning.lora.target_modules", "output.merge_lora"}
    if ft.freeze_encoder:
        out.add("finetuning.frozen_encoder_layers")
    if tr.eval_strategy != "steps":
        out.add("training.eval_steps")
    if tr.precision != "auto":
        out.add("training.fp16")
    if not tr.spec_augment:
        out |= {"training.spec_augment_freq_masks", "training.spec_augment_freq_width",
                "training.spec_augment_time_masks", "training.spec_augment_time_width"}
    if not tr.augment_views:
        out |= {"training.augment_speed", "training.augment_snr_low_db", "training.augment_snr_high_db",
                "training.augment_reverb"}
    return out


class FieldRow(Widget):
    """Label + input widget on one grid row; the error (when invalid) spans a row under both.

    The error line is mounted only when needed: a form of ~40 settings is built on every app
    start, and fewer widgets is a faster first paint.
    """

    DEFAULT_CSS = """
    FieldRow {
        height: auto;
        layout: grid;
        grid-size: 2;
        grid-columns: 20 1fr;
        grid-rows: auto;
    }
    FieldRow > .ts-error {
        column-span: 2;
    }
    """

    def __init__(self, key: str, editor: Widget) -> None:
        super().__init__(id=f"row-{field_id(key)}", classes="ts-row")
        self.key = key
        self.editor = editor
        self._error = ""

    def compose(self) -> ComposeResult:
        yield Label(label_for(self.key), classes="ts-label")
        yield self.editor

    def set_error(self, text: str) -> None:
        if text == self._error:
            return
        self._error = text
        self.set_class(bool(text), "-invalid")
        existing = self.query(".ts-error")
        if text and existing:
            existing.first(Static).update(text)
        elif text:
            self.mount(Static(text, classes="ts-error"))
        else:
            existing.remove()

    @property
    def error(self) -> str:
        return self._error


class ProfileForm(VerticalScroll):
    """Every profile setting; posts `ProfileForm.Edited` when the user changes one."""

    @dataclass
    class Edited(Message):
        form: ProfileForm
        key: str

    def __init__(self, specs, *, id: str | None = None) -> None:
        super().__init__(id=id, can_focus=False)
        self.specs = {spec.key: spec for spec in specs}
        self._by_editor_id = {field_id(key): key for key in self.specs}

    def compose(self) -> ComposeResult:
        section = None
        for key, spec in self.specs.items():
            table = key.rpartition(".")[0]
            if table != section:
                section = table
                yield Static(SECTION_TITLES.get(table, table), classes="ts-section")
            yield FieldRow(key, self._editor(key, spec))

    def _editor(self, key: str, spec) -> Widget:
        rule, fid = spec.rule, field_id(key)
        if rule.kind == "bool":
            return Checkbox("no", id=fid, compact=True)
        if rule.choices:
            return Select([(c, c) for c in rule.choices], id=fid, allow_blank=False, compact=True)
        if rule.kind == "str_list":
            return SelectionList(*[(name, name) for name in rule.allowed], id=fid, compact=True)
        placeholder = PLACEHOLDERS.get(key, "")
        if key == "model.name":
            return Input(id=fid, compact=True, placeholder="tiny.en, a folder or a hub id",
                         suggester=PathSuggester(extra=MODEL_SUGGESTIONS))
        if key in PATH_KEYS:
            return Input(id=fid, compact=True, placeholder=placeholder, suggester=PathSuggester())
        if rule.kind == "int":
            return Input(id=fid, compact=True, type="integer", validate_on=[])
        if rule.kind in ("float", "number"):
            return Input(id=fid, compact=True, type="number", validate_on=[])
        return Input(id=fid, compact=True, placeholder=placeholder)

    # -- values --------------------------------------------------------------------------------
    def editor(self, key: str) -> Widget:
        return self.query_one(f"#{field_id(key)}")

    def row(self, key: str) -> FieldRow:
        return self.query_one(f"#row-{field_id(key)}", FieldRow)

    def set_values(self, profile) -> None:
        """Show `profile` without posting change messages (nothing was edited)."""
        with self.prevent(Input.Changed, Select.Changed, Checkbox.Changed, SelectionList.SelectedChanged):
            for key in self.specs:
                self._set(key, profile.get(key))
        self.update_enabled(profile)

    def set_value(self, key: str, value: Any) -> None:
        """Set one field as if the user typed it (posts Edited)."""
        self._set(key, value)
        self.post_message(self.Edited(self, key))

    def _set(self, key: str, value: Any) -> None:
        widget = self.editor(key)
        if isinstance(widget, Checkbox):
            widget.value = bool(value)
            widget.label = "yes" if value else "no"
        elif isinstance(widget, Select):
            widget.value = value
        elif isinstance(widget, SelectionList):
            widget.deselect_all()
            for item in value:
                widget.select(item)
        elif isinstance(widget, Input):
            widget.value = format_value(value)
            widget.cursor_position = len(widget.value)

    def raw_values(self) -> dict[str, Any]:
        """Field contents as `apply_overrides` takes them (numbers stay text: the engine parses them)."""
        values: dict[str, Any] = {}
        for key in self.specs:
            widget = self.editor(key)
            if isinstance(widget, Checkbox):
                values[key] = widget.value
            elif isinstance(widget, Select):
                values[key] = widget.value
            elif isinstance(widget, SelectionList):
                values[key] = list(widget.selected)
            elif isinstance(widget, Input):
                values[key] = widget.value.strip() if self.specs[key].rule.kind != "str" else widget.value
        return values

    def show_errors(self, errors: dict[str, str]) -> None:
        for key in self.specs:
            self.row(key).set_error(errors.get(key, ""))

    def update_enabled(self, profile) -> None:
        off = disabled_keys(profile)
        for key in self.specs:
            disabled = key in off
            self.editor(key).disabled = disabled
            self.row(key).set_class(disabled, "-disabled")

    def key_of(self, widget: Widget | None) -> str | None:
        """The setting a (possibly nested) widget edits."""
        while widget is not None and widget is not self:
            if widget.id in self._by_editor_id:
                return self._by_editor_id[widget.id]
            widget = widget.parent  # type: ignore[assignment]
        return None

    # -- change events -------------------------------------------------------------------------
    def _edited(self, event: Message, widget: Widget) -> None:
        key = self._by_editor_id.get(widget.id or "")
        if key is not None:
            event.stop()
            self.post_message(self.Edited(self, key))

    def on_input_changed(self, event: Input.Changed) -> None:
        self._edited(event, event.input)

    def on_select_changed(self, event: Select.Changed) -> None:
        self._edited(event, event.select)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        # the mark looks the same on and off in a monochrome terminal: say it in words too
        event.checkbox.label = "yes" if event.value else "no"
        self._edited(event, event.checkbox)

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        self._edited(event, event.selection_list)
