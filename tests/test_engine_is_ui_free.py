"""The engine never imports the UI, and the app's first paint never waits for torch.

Each check runs in a fresh interpreter: in this test process Textual is long imported, so
`sys.modules` here proves nothing. (Harlequin checks its engine the same way.)
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import whisper_tui

REPO = Path(__file__).resolve().parent.parent
UI_PACKAGES = ("textual", "rich")
HEAVY_PACKAGES = ("torch", "transformers", "peft", "torchaudio", "bitsandbytes", "ctranslate2")
# What the Dataset and Train setup screens import when the app starts (the rest load in workers).
FIRST_PAINT_ENGINE = ("whisper_tui.errors", "whisper_tui.config.locations", "whisper_tui.config.profile", "whisper_tui.data.dataset",
                      "whisper_tui.data.audio", "whisper_tui.system.sysmon", "whisper_tui.training.estimate", "whisper_tui.data.sample_data")

PROBE = """
import importlib, json, sys
watch = {watch!r}
found = {{}}
for name in {modules!r}:
    before = {{m for m in watch if m in sys.modules}}
    importlib.import_module(name)
    pulled = sorted(m for m in watch if m in sys.modules and m not in before)
    if pulled:
        found[name] = pulled
print(json.dumps(found))
"""


def engine_modules() -> list[str]:
    names = [whisper_tui.__name__]
    for info in pkgutil.walk_packages(whisper_tui.__path__, prefix="whisper_tui."):
        if not info.name.endswith(".__main__"):  # importing it runs the command line
            names.append(info.name)
    return sorted(names)


def probe(modules, watch) -> dict[str, list[str]]:
    """{module: [watched packages it pulled in]} from importing `modules` in order in a new interpreter."""
    code = PROBE.format(modules=list(modules), watch=list(watch))
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_engine_module_is_found():
    names = engine_modules()
    for expected in ("whisper_tui.data.dataset", "whisper_tui.system.sysmon", "whisper_tui.training.job", "whisper_tui.cli"):
        assert expected in names
    assert not any(name.startswith("screens") for name in names)


def test_engine_never_imports_textual_or_rich():
    pulled = probe(engine_modules(), UI_PACKAGES)
    assert pulled == {}, f"engine modules importing UI packages: {pulled}"


def test_first_paint_is_torch_free():
    """The engine modules the first screens use, and those screens, import no heavy package."""
    modules = [*FIRST_PAINT_ENGINE, "screens.app", "screens.dataset.screen", "screens.train_setup"]
    pulled = probe(modules, HEAVY_PACKAGES)
    assert pulled == {}, f"modules pulling heavy packages at import (first one to import each): {pulled}"
