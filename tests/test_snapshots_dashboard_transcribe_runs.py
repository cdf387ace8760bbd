"""Snapshots of the Dashboard, Transcribe and Runs screens at 80x24 and 120x40.

Everything on screen comes from fixture data: a scripted training job with real events, fixed
system stats, canned transcripts, run folders written here under a relative path (the working
directory is the test's tmp_path) so no machine-specific path or clock reaches the picture.
Review the HTML report before `--snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Input
from helpers_tui import dashboard_drawn, until
from helpers_tui_doubles import (
    CannedTranscriber,
    FakeProfile,
    ScriptedJob,
    gpu_machine_stats,
    no_gpu_stats,
    training_script,
    write_clips,
    write_fake_run,
)

from screens.dashboard import DashboardScreen
from screens.runs_screen import RunsScreen
from screens.widgets.gauges import SystemGauges
from screens.transcribe_screen import TranscribeScreen
from whisper_tui.training.events import RunFailed

SIZES = [(80, 24), (120, 40)]
RUN_DIR = Path("runs/20250301-100000-cpu-quick")


class ScreenApp(App):
    """Shows one screen; inputs don't blink so pictures are stable."""

    def __init__(self, screen) -> None:
        super().__init__()
        self._screen = screen

    def on_mount(self) -> None:
        self.push_screen(self._screen)


def no_blink(pilot) -> None:
    """Stable pictures: no blinking cursor, and terminal focus as in a real terminal (a headless
    app has none, and the Footer ignores binding changes without it, so dimmed keys would lag)."""
    pilot.app.app_focus = True
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


def dashboard_app(stats=gpu_machine_stats) -> ScreenApp:
    def job(*args, **kwargs):
        return ScriptedJob(*args, **kwargs, run_dir=RUN_DIR)

    return ScreenApp(DashboardScreen(job_factory=job, stats_source=stats))


async def settle(pilot) -> None:
    no_blink(pilot)
    await pilot.pause()
    await pilot.pause(0.5)
    screen = pilot.app.screen
    if isinstance(screen, DashboardScreen):  # charts redraw on a timer; the first gauge poll lands
        await dashboard_drawn(pilot, screen)
        gauges = screen.query_one(SystemGauges)
        await until(pilot, lambda: gauges.polls >= 1)
    screen.refresh_bindings()
    await pilot.pause()


def play(pilot, events) -> None:
    dash = pilot.app.screen
    job = dash.start_run(FakeProfile())
    job.play(events)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_empty(snap_compare, size):
    assert snap_compare(dashboard_app(), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_training(snap_compare, size):
    async def run_before(pilot):
        await pilot.pause()
        no_blink(pilot)
        play(pilot, training_script(RUN_DIR, total=40, finish=False)[:-12])
        await settle(pilot)

    assert snap_compare(dashboard_app(no_gpu_stats), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_finished(snap_compare, size):
    async def run_before(pilot):
        await pilot.pause()
        no_blink(pilot)
        play(pilot, training_script(RUN_DIR, total=40))
        await settle(pilot)

    assert snap_compare(dashboard_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_failed(snap_compare, size):
    async def run_before(pilot):
        await pilot.pause()
        events = training_script(RUN_DIR, total=40, finish=False)[:20]
        play(pilot, [*events, RunFailed("out of memory during training (CUDA out of memory)",
                                        "lower training.per_device_train_batch_size or use lora", "OutOfMemory")])
        await settle(pilot)

    assert snap_compare(dashboard_app(), terminal_size=size, run_before=run_before)


def keys(*pressed: str):
    async def run_before(pilot):
        await pilot.pause()
        no_blink(pilot)
        await pilot.press(*pressed)
        await settle(pilot)

    return run_before


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def fake_runs() -> Path:
    root = Path("runs")
    write_fake_run(root, "20250301-100000-cpu-quick", started="2025-03-01T10:00:00", best_wer=0.18, base_wer=0.32,
                   duration_s=312, steps=30, strategy="lora", profile="cpu-quick")
    full = write_fake_run(root, "20250302-093000-full", started="2025-03-02T09:30:00", best_wer=0.12,
                          base_wer=0.32, duration_s=1250, steps=60, strategy="full", profile="full", loss_start=2.5)
    (full / "best").mkdir()
    write_fake_run(root, "20250303-120000-lora-8gb", status="cancelled", started="2025-03-03T12:00:00",
                   best_wer=0.25, base_wer=0.32, duration_s=80, steps=12, strategy="lora", profile="lora-8gb")
    broken = root / "20250304-080000-qlora-4gb"
    broken.mkdir()
    (broken / "run.json").write_text('{"status": "runn')
    return root


@pytest.mark.parametrize("size", SIZES)
def test_runs_detail(snap_compare, in_tmp, size):
    root = fake_runs()
    assert snap_compare(ScreenApp(RunsScreen(root=root)), terminal_size=size, run_before=keys("down", "down"))


@pytest.mark.parametrize("size", SIZES)
def test_runs_broken(snap_compare, in_tmp, size):
    root = fake_runs()
    assert snap_compare(ScreenApp(RunsScreen(root=root)), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_runs_compare(snap_compare, in_tmp, size):
    root = fake_runs()
    assert snap_compare(ScreenApp(RunsScreen(root=root)), terminal_size=size,
                        run_before=keys("down", "space", "down", "space", "c"))


REFERENCES = {"alpha.wav": "The quick brown fox jumps over the lazy dog.",
              "bravo.wav": "Please call Stella and ask her to bring these things with her from the store.",
              "charlie.wav": "Six spoons of fresh snow peas, five thick slabs of blue cheese."}
BASE_TEXTS = {"alpha.wav": "The quick brown fox jumped over the lazy dog",
              "bravo.wav": "Please call Stella ask her to bring these thing with her from the stor.",
              "charlie.wav": "Six spoons of fresh snow peas five thick slabs of blue cheese"}
TUNED_TEXTS = {"alpha.wav": "The quick brown fox jumps over the lazy dog.",
               "bravo.wav": "Please call Stella and ask her to bring these things with her from the store.",
               "charlie.wav": "Six spoons of fresh snow peas, five thick slaps of blue cheese."}


def transcribe_app(root: Path) -> ScreenApp:
    def factory(model, backend="torch"):
        return CannedTranscriber(model, BASE_TEXTS if model == "tiny.en" else TUNED_TEXTS, backend)

    return ScreenApp(TranscribeScreen(runs_root=root, transcriber_factory=factory))


def transcribe_before(compare: bool):
    async def run_before(pilot):
        await pilot.pause()
        no_blink(pilot)
        screen = pilot.app.screen
        screen.select_model(str(Path("runs/20250302-093000-full/best")))
        screen.query_one("#tx-compare").value = compare
        screen.query_one("#tx-audio", Input).value = "audio"
        screen.query_one("#tx-audio", Input).focus()
        await pilot.press("enter")
        await pilot.app.workers.wait_for_complete()
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_transcribe_results(snap_compare, in_tmp, size):
    root = fake_runs()
    write_clips(Path("audio"), [("alpha.wav", 2.5), ("bravo.wav", 4.0), ("charlie.wav", 3.2)], REFERENCES)
    assert snap_compare(transcribe_app(root), terminal_size=size, run_before=transcribe_before(False))


@pytest.mark.parametrize("size", SIZES)
def test_transcribe_compare(snap_compare, in_tmp, size):
    root = fake_runs()
    write_clips(Path("audio"), [("alpha.wav", 2.5), ("bravo.wav", 4.0), ("charlie.wav", 3.2)], REFERENCES)
    assert snap_compare(transcribe_app(root), terminal_size=size, run_before=transcribe_before(True))


@pytest.mark.parametrize("size", SIZES)
def test_transcribe_start(snap_compare, in_tmp, size):
    root = fake_runs()
    assert snap_compare(transcribe_app(root), terminal_size=size, run_before=settle)
