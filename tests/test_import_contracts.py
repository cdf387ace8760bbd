"""The import-linter contracts of pyproject.toml hold: the engine never imports screens, Textual or Rich; only
whisper_tui.cli imports whisper_tui.cli; the engine's stages import only the stages below them (README Layout).

import-linter reads the source, so an import hidden inside a function (which the fresh-interpreter
probe of test_engine_is_ui_free cannot see until that function runs) breaks a contract too. The
second test proves each check can fail: a copy of the code with one such import must be refused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (the test extra)")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` on the packages under `root` with the repo's contracts (found first on the path)."""
    env = dict(os.environ, PYTHONPATH=str(root), COLUMNS="200")  # one line per contract: no wrapped names
    return subprocess.run([str(LINT_IMPORTS), str(REPO / "pyproject.toml"), "--no-cache"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)


def test_the_contracts_are_kept():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


BROKEN = [
    # (the file that gets an import inside a function, what it imports, the contract that breaks, the chain named)
    ("errors.py", "from screens.app import run_app", "The engine never imports the UI (screens, Textual, Rich)",
     "whisper_tui.errors -> screens.app"),
    ("models/export.py", "from whisper_tui.cli.console import say",
     "Only the CLI imports the CLI (the engine returns results, cli/ prints them)",
     "whisper_tui.models.export -> whisper_tui.cli.console"),
    ("system/quiet.py", "from whisper_tui.training.runs import list_runs",
     "The engine's stages, top to bottom (README Layout): a stage imports only the stages below it",
     "whisper_tui.system.quiet -> whisper_tui.training.runs"),
]


@pytest.mark.parametrize("module, imports, contract, chain", BROKEN, ids=["ui", "cli", "stages"])
def test_an_import_inside_a_function_breaks_its_contract(tmp_path, module, imports, contract, chain):
    ignore = shutil.ignore_patterns("__pycache__", "*.flac", "*.wav")
    for package in ("whisper_tui", "screens"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=ignore)
    bad = tmp_path / "whisper_tui" / module
    bad.write_text(bad.read_text() + f"\n\ndef _reach_up():\n    {imports}\n")

    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert f"{contract} BROKEN" in result.stdout
    assert chain in result.stdout


FIRST_PAINT = """
import asyncio, json, sys
from screens.app import WhisperTuiApp

async def main():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        print(json.dumps({"screen": type(app.screen).__name__,
                          "loaded": sorted(m for m in ("numpy", "soundfile", "torch") if m in sys.modules)}))

asyncio.run(main())
"""


def test_the_first_paint_loads_no_numpy(tmp_path):
    """The empty Dataset screen needs no numpy (~0.2 s of a 1 s first paint, benchmarks/RESULTS.md): it loads
    with the first clip (waveforms, audio), and annotations name it only under TYPE_CHECKING."""
    import json

    env = dict(os.environ)
    for name in ("CONFIG", "DATA", "CACHE"):
        (tmp_path / name.lower()).mkdir()
        env[f"WHISPER_TUI_{name}_DIR"] = str(tmp_path / name.lower())
    result = subprocess.run([sys.executable, "-c", FIRST_PAINT], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown == {"screen": "DatasetScreen", "loaded": []}
