"""Dataset screen: a folder that is not a dataset yet is offered for import, imported in a worker, and opened."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from helpers_audio import write_wav
from textual.widgets import Button, DataTable, Static
from helpers_tui import isolated_dirs, settle  # noqa: F401 (fixture)

from screens.app import WhisperTuiApp
from screens.dataset.screen import DatasetScreen
from screens.modals.confirm import ConfirmModal

pytestmark = pytest.mark.usefixtures("isolated_dirs")


def make_nemo(src: Path) -> Path:
    rows = []
    for i in range(3):
        write_wav(src / "wavs" / f"utt{i}.wav", seconds=0.5 + i / 4)
        rows.append({"audio_filepath": f"wavs/utt{i}.wav", "text": f"utterance number {i}", "duration": 0.5})
    rows.append({"audio_filepath": "wavs/missing.wav", "text": "not there", "duration": 1.0})
    (src / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return src


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


async def test_folder_that_is_not_a_dataset_is_offered_imported_and_opened(tmp_path, isolated_dirs):  # noqa: F811
    src = make_nemo(tmp_path / "corpus")
    before = digest(src)
    app = WhisperTuiApp(dataset=src)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DatasetScreen)
        button = screen.query_one("#ds-import", Button)
        assert button.display and button.has_focus
        offer = str(screen.query_one("#ds-folder-error", Static).content)
        assert "Not a dataset yet" in offer and "NeMo JSONL manifest" in offer
        out = isolated_dirs / "data" / "imports" / "corpus"
        assert str(out) in offer.replace("\n", "")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot, rounds=6)
        assert screen.folder == out
        table = screen.query_one("#ds-table", DataTable)
        assert table.row_count == 3
        assert not button.display and not screen.query_one("#ds-progress-row").display
        assert not screen.query_one("#ds-folder-error", Static).display
    assert (out / "metadata.csv").read_text().startswith("file_name,transcription")
    assert digest(src) == before  # the source is only read


async def test_a_dataset_folder_gets_no_offer(tmp_path):
    folder = tmp_path / "ds"
    write_wav(folder / "a.wav")
    (folder / "metadata.csv").write_text("file_name,transcription\na.wav,hello\n")
    app = WhisperTuiApp(dataset=folder)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.folder == folder
        assert not screen.query_one("#ds-import", Button).display
        await pilot.press("escape")
        screen.action_import()  # nothing to import: says so
        await pilot.pause()
        assert any("not a dataset yet" in str(n.message) for n in app._notifications)
