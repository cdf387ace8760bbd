"""The app's top-level modes, listed once: the mode bar, the app's MODES and bindings, help and the palette
read this table (tests/test_one_home.py fails on a second list)."""

from __future__ import annotations

from typing import NamedTuple


class Mode(NamedTuple):
    name: str
    key: str
    label: str
    module: str  # imported when the mode is first shown
    screen_class: str


MODES: tuple[Mode, ...] = (
    Mode("dataset", "1", "Dataset", "screens.dataset.screen", "DatasetScreen"),
    Mode("train", "2", "Train setup", "screens.train_setup", "TrainSetupScreen"),
    Mode("dashboard", "3", "Dashboard", "screens.dashboard", "DashboardScreen"),
    Mode("transcribe", "4", "Transcribe", "screens.transcribe_screen", "TranscribeScreen"),
    Mode("runs", "5", "Runs", "screens.runs_screen", "RunsScreen"),
)
MAIN_MODES: tuple[tuple[str, str, str], ...] = tuple((m.name, m.key, m.label) for m in MODES)  # (mode, key, label)
MODE_CLASSES: dict[str, tuple[str, str]] = {m.name: (m.module, m.screen_class) for m in MODES}
