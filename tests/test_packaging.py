"""What the wheel ships: every data file of a package is named by package-data, and the licence is there.

Building a wheel takes a while, so this reads pyproject.toml the way setuptools does instead (the
build itself was checked with `uv build --wheel`: jfk.flac and LICENSE are in it).
"""

from __future__ import annotations

import fnmatch
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _tracked(*folders: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", *folders], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_every_data_file_of_a_package_is_shipped():
    package_data = PYPROJECT["tool"]["setuptools"]["package-data"]
    missing = []
    for rel in _tracked("whisper_tui", "screens", "styles", "profiles"):
        path = Path(rel)
        if path.suffix == ".py" or "__snapshots__" in path.parts:
            continue
        package = ".".join(path.parent.parts)
        patterns = package_data.get(package, [])
        if not any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns):
            missing.append(f"{rel} (package {package}: {patterns})")
        assert (ROOT / path.parent / "__init__.py").exists(), f"{path.parent} is no package: setuptools skips {rel}"
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"


def test_package_data_names_packages_that_exist():
    for package in PYPROJECT["tool"]["setuptools"]["package-data"]:
        assert (ROOT / package.replace(".", "/") / "__init__.py").is_file(), package


def test_the_licence_matches_the_metadata():
    assert PYPROJECT["project"]["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "whisper-tui contributors" in text


def test_no_generated_files_are_tracked():
    junk = [rel for rel in _tracked() if any(part in {".venv", "__pycache__", "build", "dist"} or part.endswith(".egg-info")
                                            for part in Path(rel).parts)
            or rel.endswith((".pyc", "snapshot_report.html"))]
    assert not junk, junk
