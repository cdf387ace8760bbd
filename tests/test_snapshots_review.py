"""Screenshots of the Dataset screen reviewing a labelled dataset (status/confidence columns), 80x24 and 120x40.

Same harness as test_snapshots.py: fixed folder path (it is on screen), workers awaited, cursors frozen.
After a deliberate UI change: `pytest tests/test_snapshots_review.py --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from helpers_review import make_labelled_dataset
from helpers_tui import freeze_cursors, isolated_dirs, settle  # noqa: F401 (fixture)

from screens.app import WhisperTuiApp

SIZES = [(80, 24), (120, 40)]
LABELLED = Path(tempfile.gettempdir()) / "whisper-tui-snapshots-review" / "labelled"


@pytest.fixture(scope="module", autouse=True)
def labelled_dataset():
    shutil.rmtree(LABELLED, ignore_errors=True)
    make_labelled_dataset(LABELLED)
    yield LABELLED
    shutil.rmtree(LABELLED.parent, ignore_errors=True)


async def _loaded_worst_first(pilot) -> None:
    await pilot.press("w")
    await settle(pilot)
    await pilot.pause(0.3)  # the waveform is drawn once the cursor rests
    await settle(pilot)


async def _editing(pilot) -> None:
    await _loaded_worst_first(pilot)
    await pilot.press("e", "ctrl+u", *"thank you very much")
    await settle(pilot)


SCENARIOS = {"review_worst_first": _loaded_worst_first, "review_editing": _editing}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_review_snapshot(snap_compare, isolated_dirs, scenario: str, size):  # noqa: F811 (fixture)
    async def run_before(pilot) -> None:
        await settle(pilot)
        await SCENARIOS[scenario](pilot)
        freeze_cursors(pilot.app)
        await pilot.pause()

    assert snap_compare(WhisperTuiApp(dataset=LABELLED), terminal_size=size, run_before=run_before)
