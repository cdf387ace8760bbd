"""The import-linter contracts of pyproject.toml hold: the engine never imports screens, Textual or Rich.

import-linter reads the source, so an import hidden inside a function (which the fresh-interpreter
probe of test_engine_is_ui_free cannot see until that function runs) breaks the contract too. The
second test proves the check can fail: a copy of the code with one such import must be refused.
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
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([str(LINT_IMPORTS), str(REPO / "pyproject.toml"), "--no-cache"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)


def test_the_contracts_are_kept():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_an_engine_import_of_the_ui_inside_a_function_breaks_the_contract(tmp_path):
    ignore = shutil.ignore_patterns("__pycache__", "*.flac", "*.wav")
    for package in ("whisper_tui", "screens"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=ignore)
    bad = tmp_path / "whisper_tui" / "errors.py"
    bad.write_text(bad.read_text() + "\n\ndef _open_app():\n    from screens.app import run_app\n\n"
                   "    return run_app()\n")

    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "The engine never imports the UI (screens, Textual, Rich) BROKEN" in result.stdout
    assert "whisper_tui.errors -> screens.app" in result.stdout


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
