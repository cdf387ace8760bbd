"""The installed `whisper-tui` in a real terminal (tmux): it paints, switches screens, shows help, quits.

Pilot tests drive the app in-process; this one catches what only a real TTY shows: the console
script's TTY check, the terminal driver, start-up imports, and ctrl+q actually ending the process.
Runs on its own tmux server (-L) so it never touches a user's sessions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "whisper-tui"
TMUX = shutil.which("tmux")

pytestmark = [
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
    pytest.mark.skipif(not SCRIPT.exists(), reason="the whisper-tui console script is not installed in this venv"),
]


class Terminal:
    def __init__(self, env: dict[str, str], width: int = 80, height: int = 24) -> None:
        self.socket = f"whisper-tui-test-{uuid.uuid4().hex[:8]}"
        self.env = env
        self.width, self.height = width, height

    def tmux(self, *args: str, check: bool = True) -> str:
        result = subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True, env=self.env,
                                timeout=30)
        if check and result.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def start(self, command: str) -> None:
        self.tmux("new-session", "-d", "-s", "app", "-x", str(self.width), "-y", str(self.height), command)
        # keep the pane after the app exits so its last screen (or a traceback) can be read
        self.tmux("set-option", "-t", "app", "remain-on-exit", "on")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the terminal shows:\n{shown}")

    def wait_gone(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text not in self.screen():
                return
            time.sleep(0.2)
        raise AssertionError(f"{text!r} is still shown:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "app", key)
            time.sleep(0.15)

    def exited(self) -> bool:
        return self.tmux("display-message", "-p", "-t", "app", "#{pane_dead}").strip() == "1"

    def close(self) -> None:
        self.tmux("kill-server", check=False)


@pytest.fixture
def terminal(tmp_path):
    env = dict(os.environ)
    for name in ("CONFIG", "DATA", "CACHE"):
        (tmp_path / name.lower()).mkdir()
        env[f"WHISPER_TUI_{name}_DIR"] = str(tmp_path / name.lower())
    env["TERM"] = "xterm-256color"
    env.pop("TMUX", None)
    term = Terminal(env)
    yield term
    term.close()


@pytest.mark.timeout(120)
def test_switch_screens_open_help_and_quit(terminal):
    terminal.start(f"cd {REPO} && {SCRIPT}")
    first = terminal.wait_for("No dataset open")
    assert "1 Dataset" in first and "5 Runs" in first
    assert len(first.splitlines()[0]) <= 80

    terminal.keys("2")
    setup = terminal.wait_for("Profile settings")
    assert "cpu-quick" in setup and "memory estimate: " in setup

    terminal.keys("?")
    help_screen = terminal.wait_for("Train setup screen (key 2)")
    assert "Start training" in help_screen

    # Escape, then 3 once the help has closed: an Escape followed at once by a key reads as alt+key to a
    # terminal app, and on a loaded machine the app may read both in one go
    terminal.keys("Escape")
    terminal.wait_gone("Train setup screen (key 2)")
    terminal.keys("3")
    terminal.wait_for("No training run yet")

    terminal.keys("1")
    terminal.wait_for("No dataset open")

    terminal.keys("C-q")
    deadline = time.monotonic() + 15
    while not terminal.exited() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert terminal.exited(), f"ctrl+q did not end the app:\n{terminal.screen()}"
    assert "Traceback" not in terminal.screen()
