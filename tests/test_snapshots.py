"""Screenshots of every screen at 80x24 and 120x40, compared with the accepted SVGs in __snapshots__/.

After a deliberate UI change: run `pytest tests/test_snapshots.py --snapshot-update`, then look at
the new SVGs (or the HTML report pytest-textual-snapshot writes on failure) before committing.

To add a screen: append a `Scenario` to the list of its section below. `setup` gets the pilot and
does whatever leads to the state to capture (key presses, waiting for workers); the harness then
freezes text cursors so a blink can't change the picture. Everything a scenario shows must be fixed
data: folders under SNAPSHOT_ROOT (a fixed path, since paths are on screen), the fixed system stats
from `helpers_tui.small_machine_stats`, no clocks.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.app import App
from helpers_tui import freeze_cursors, isolated_dirs, make_dataset, settle  # noqa: F401 (fixture)

from screens.app import WhisperTuiApp
from screens.widgets.profile_form import ProfileForm

SIZES = [(80, 24), (120, 40)]
SNAPSHOT_ROOT = Path(tempfile.gettempdir()) / "whisper-tui-snapshots"
DATASET = SNAPSHOT_ROOT / "dataset"


@dataclass(frozen=True)
class Scenario:
    id: str
    make_app: Callable[[], App]
    setup: Callable[..., Awaitable[None]] | None = None


async def press(pilot, *keys: str) -> None:
    await pilot.press(*keys)
    await settle(pilot)


# -- app shell, Dataset, Train setup ------------------------------------------------------------

async def _dataset_loaded(pilot) -> None:
    await settle(pilot)
    await pilot.pause(0.3)  # the waveform is drawn once the cursor rests
    await settle(pilot)


async def _dataset_problems_only(pilot) -> None:
    await _dataset_loaded(pilot)
    await press(pilot, "p", "down")
    await pilot.pause(0.3)
    await settle(pilot)


async def _help(pilot) -> None:
    await press(pilot, "question_mark")


async def _train_setup(pilot) -> None:
    await press(pilot, "2")


async def _train_setup_invalid(pilot) -> None:
    await press(pilot, "2")
    field = pilot.app.screen.query_one(ProfileForm).editor("finetuning.lora.r")
    field.focus()
    field.value = ""
    await press(pilot, "0")


async def _train_setup_save_as(pilot) -> None:
    await press(pilot, "2", "ctrl+s")


async def _train_setup_full(pilot) -> None:
    await press(pilot, "2")
    pilot.app.screen.query_one(ProfileForm).editor("finetuning.strategy").value = "full"
    await settle(pilot)


SHELL_DATASET_TRAIN = [
    Scenario("dataset_empty", WhisperTuiApp),
    Scenario("dataset_loaded", lambda: WhisperTuiApp(dataset=DATASET), _dataset_loaded),
    Scenario("dataset_problems_only", lambda: WhisperTuiApp(dataset=DATASET), _dataset_problems_only),
    Scenario("help_dataset", WhisperTuiApp, _help),
    Scenario("train_setup", WhisperTuiApp, _train_setup),
    Scenario("train_setup_invalid_r", WhisperTuiApp, _train_setup_invalid),
    Scenario("train_setup_full_strategy", WhisperTuiApp, _train_setup_full),
    Scenario("train_setup_save_as", WhisperTuiApp, _train_setup_save_as),
]

# -- Dashboard, Transcribe, Runs ----------------------------------------------------------------
# (their scenarios go here)
DASHBOARD_TRANSCRIBE_RUNS: list[Scenario] = []

SCENARIOS = SHELL_DATASET_TRAIN + DASHBOARD_TRANSCRIBE_RUNS


@pytest.fixture(scope="module", autouse=True)
def snapshot_dataset():
    shutil.rmtree(DATASET, ignore_errors=True)
    make_dataset(DATASET)
    yield DATASET
    shutil.rmtree(SNAPSHOT_ROOT, ignore_errors=True)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_snapshot(snap_compare, isolated_dirs, scenario: Scenario, size):  # noqa: F811 (fixture)
    async def run_before(pilot) -> None:
        await settle(pilot)
        if scenario.setup is not None:
            await scenario.setup(pilot)
        freeze_cursors(pilot.app)
        await pilot.pause()

    assert snap_compare(scenario.make_app(), terminal_size=size, run_before=run_before)
