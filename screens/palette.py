"""Command palette entries (ctrl+p): "screen: dataset", "profile: load cpu-quick", "train: start", ...

Commands are phrased "noun: verb" so typing the noun lists everything about it. Profile names are
read when the palette opens (cheap: a few small TOML files), so a profile saved a moment ago is
already there. Each command calls a public method of the app; the palette holds no logic.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from screens.widgets.mode_bar import MAIN_MODES


class WhisperCommands(Provider):
    """Screens, profiles and the main actions of whisper-tui."""

    async def startup(self) -> None:
        self._commands = self._build()

    def _build(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.app
        commands: list[tuple[str, Callable[[], object], str]] = []
        for mode, key, label in MAIN_MODES:
            commands.append((f"screen: {label.lower()}", partial(app.switch_mode, mode), f"go to {label} (key {key})"))
        commands += [
            ("help: keys", app.action_help, "every key of every screen"),
            ("train: start", app.start_training_from_setup, "start training with the profile on Train setup"),
            ("dataset: open sample data", app.open_sample_dataset, "browse the bundled sample dataset"),
            ("dataset: generate sample data", app.generate_sample_dataset,
             "synthesise the offline sample dataset (eSpeak)"),
            ("dataset: use for training", app.use_current_dataset_for_training,
             "put the Dataset screen's folder into data.train_dir"),
            ("profile: save", partial(app.profile_action, "save"), "save the Train setup form"),
            ("profile: save as", partial(app.profile_action, "save_as"), "save the form under a new name"),
            ("profile: revert", partial(app.profile_action, "revert"), "drop unsaved changes"),
        ]
        try:
            from whisper_tui.config.profile import list_profiles

            profiles = list_profiles()
        except Exception:  # noqa: BLE001 - a broken profile folder must not break the palette
            profiles = []
        for info in profiles:
            kind = "built-in" if info.builtin else "yours"
            help_text = info.error or f"{kind}: {info.summary or info.description}"
            commands.append((f"profile: load {info.name}", partial(app.load_profile_into_setup, info.name), help_text))
            if not info.builtin:
                commands.append((f"profile: delete {info.name}", partial(app.profile_action, "delete", info.name),
                                 "delete this profile file (asks first)"))
        return commands

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands:
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name, help=help_text)
