"""The `whisper-tui` script (screens.launch): the app for a bare command on a terminal or `tui`, else the CLI.

The engine's own entry point (`python -m whisper_tui.cli`) never opens the app: with no command it
explains that one is needed, terminal or not.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from screens import launch


@pytest.mark.parametrize(("argv", "stdin_tty", "stdout_tty", "app"), [
    ([], True, True, True),
    (["tui"], False, False, True),
    ([], False, True, False),  # piped input: nothing to draw the app with
    ([], True, False, False),
    (["validate", "x"], True, True, False),
    (["--help"], True, True, False),
])
def test_wants_app(argv, stdin_tty, stdout_tty, app):
    assert launch.wants_app(argv, stdin_tty=stdin_tty, stdout_tty=stdout_tty) is app


def test_subcommands_go_to_the_engine_cli(monkeypatch):
    calls = []
    monkeypatch.setattr("whisper_tui.cli.main", lambda argv: calls.append(argv) or 7)
    monkeypatch.setattr("screens.app.run_app", lambda **kwargs: pytest.fail("the app was opened"))
    assert launch.main(["locate"]) == 7
    assert calls == [["locate"]]


def test_tui_opens_the_app(monkeypatch):
    monkeypatch.setattr("screens.app.run_app", lambda **kwargs: 0)
    monkeypatch.setattr("whisper_tui.cli.main", lambda argv: pytest.fail("the CLI ran"))
    assert launch.main(["tui"]) == 0


def test_the_launcher_without_a_terminal_gives_the_clis_error():
    proc = subprocess.run([sys.executable, "-m", "screens.launch"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 2
    assert "no command given and no terminal" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_engine_cli_never_opens_the_app():
    from whisper_tui.cli import main

    assert main(["tui"]) == 2  # the launcher opens it; the engine explains
