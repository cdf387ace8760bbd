"""Helpers for the app-shell, Dataset and Train setup TUI tests (and their snapshots).

Datasets are built from numpy tones written with soundfile: no TTS, deterministic, and fast.
`isolated_dirs` points every whisper-tui folder at tmp so no test reads or writes the user's
profiles, sample data or runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from textual.widgets import Input

from whisper_tui.system.sysmon import SystemStats

GIB = 1024**3
GOOD_CLIPS = 6


def tone(seconds: float, rate: int = 16000, freq: float = 220.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    envelope = np.sin(np.pi * t / max(t[-1], 1e-6)) if t.size > 1 else np.ones_like(t)
    return (amplitude * np.sin(2 * np.pi * freq * t) * envelope).astype(np.float32)


def make_dataset(folder: Path, *, problems: bool = True) -> Path:
    """GOOD_CLIPS clean clips (1.0, 1.5, ... s); with `problems` also a missing file, an empty
    transcript, a 44.1 kHz clip (warning) and an unreadable file."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(GOOD_CLIPS):
        name = f"clip_{i:02d}.wav"
        sf.write(folder / name, tone(1.0 + 0.5 * i, freq=200 + 40 * i), 16000, subtype="PCM_16")
        topic = "kubectl rollout" if i % 2 else "atorvastatin dose"
        rows.append((name, f"sentence {i} about the {topic}"))
    if problems:
        sf.write(folder / "fast_rate.wav", tone(2.0, rate=44100), 44100, subtype="PCM_16")
        rows.append(("fast_rate.wav", "recorded at a different sample rate"))
        rows.append(("missing.wav", "this file was never copied"))
        sf.write(folder / "silent_text.wav", tone(1.2, freq=330), 16000, subtype="PCM_16")
        rows.append(("silent_text.wav", ""))
        (folder / "broken.wav").write_bytes(b"RIFF this is not really a wave file at all" * 4)
        rows.append(("broken.wav", "corrupt header"))
    lines = ["file_name,transcription"] + [f"{name},{text}" for name, text in rows]
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def small_machine_stats() -> SystemStats:
    """A machine with 16 GiB RAM (8 used) and no GPU: stable numbers for estimates and snapshots."""
    return SystemStats(cpu_percent=12.0, cpu_count=2, ram_used_bytes=8 * GIB, ram_total_bytes=16 * GIB,
                       process_rss_bytes=GIB // 2, gpus=(), gpu_note="No NVIDIA GPU detected")


@pytest.fixture
def isolated_dirs(tmp_path, monkeypatch):
    """Config (profiles), data (sample data, runs) and cache under tmp; fixed system stats."""
    for name in ("CONFIG", "DATA", "CACHE"):
        path = tmp_path / name.lower()
        path.mkdir()
        monkeypatch.setenv(f"WHISPER_TUI_{name}_DIR", str(path))
    monkeypatch.setattr("whisper_tui.system.sysmon.snapshot", small_machine_stats)
    return tmp_path


def _busy(app) -> bool:
    """A worker still to finish, a message pump with a message queued, or a callback waiting for the next
    idle (Textual's queue keeps no count of messages being handled, so a settle needs two quiet rounds)."""
    if any(not worker.is_finished for worker in app.workers):
        return True
    pumps = [app, *(node for screen in app.screen_stack for node in screen.walk_children(with_self=True))]
    return any(pump._message_queue.qsize() or pump._next_callbacks for pump in pumps)


async def settle(pilot, rounds: int = 3) -> None:
    """Until the app has nothing left to do: workers finished and every message they, a key press or a
    changed field posted handled, twice in a row (`rounds` at least).

    A press or a worker's message takes a few hops, pump to pump (a key bubbles up from the focused
    widget, a Select's Changed up to its form and the form's Edited to the screen). pilot.pause() alone
    takes the process's CPU time going quiet as the sign they are done, and on a loaded machine that
    sign comes while messages are still queued: a fixed number of pauses asserted too early there.
    """
    quiet = 0
    for done in range(1000):  # a timer firing all the time would keep it busy: then stop as before
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        quiet = 0 if _busy(pilot.app) else quiet + 1
        if quiet >= 2 and done + 1 >= rounds:
            return


async def until(pilot, ready, timeout: float = 15.0) -> None:
    """Pause until `ready()` holds, for what a timer draws (the dashboard redraws a few times a second, the
    gauges poll on their own clock): a fixed pause is too short on a loaded machine. On timeout it returns,
    and the caller's assert says what was missing."""
    clock = asyncio.get_running_loop().time
    deadline = clock() + timeout
    while not ready() and clock() < deadline:
        await pilot.pause(0.05)


async def dashboard_drawn(pilot, dash) -> None:
    """Every event handled and the dashboard's redraw timer has drawn the state they left."""
    await settle(pilot)
    await until(pilot, lambda: dash._drawn_version == dash.state.version)


def freeze_cursors(app) -> None:
    """Solid text cursors: a blinking one makes screenshots depend on timing."""
    for field in app.screen.query(Input):
        field.cursor_blink = False
