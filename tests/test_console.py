"""The CLI's progress output (cli/console.py): tqdm on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import io

from whisper_tui.cli import console
from whisper_tui.cli.console import ProgressBar, TrainingPrinter
from whisper_tui.training.events import LogEvent, StepEvent


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_bar_is_tqdm_and_ends_with_a_newline():
    out = Terminal()
    bar = ProgressBar("transcribe [tiny.en]", 4, stream=out)
    for done in range(1, 5):
        bar.update(done, "extra words")
    text = out.getvalue()
    assert "\r" in text and "%|" in text and "4/4" in text and "extra words" in text
    assert text.endswith("\n")  # finished: what is printed next starts on a line of its own
    bar.close()  # closing twice is harmless
    assert out.getvalue() == text


def test_without_a_terminal_lines_come_every_few_seconds_and_at_the_end(monkeypatch):
    clock = iter([100.0, 101.0, 102.0, 110.0, 111.0])
    monkeypatch.setattr(console.time, "perf_counter", lambda: next(clock))
    out = io.StringIO()
    bar = ProgressBar("evaluate", 5, stream=out)
    for done in range(1, 6):
        bar.update(done)
    assert out.getvalue() == "evaluate 1/5\nevaluate 4/5\nevaluate 5/5\n"  # no bar, no \r in logs


def test_the_bar_is_an_on_progress_callback_that_learns_the_total():
    out = io.StringIO()
    bar = ProgressBar("sample data", 120, stream=out)
    bar(3, 3)
    assert bar.total == 3 and out.getvalue().endswith("sample data 3/3\n")


def test_a_closed_terminal_never_raises():
    for stream in (Terminal(), io.StringIO()):
        bar = ProgressBar("train", 3, stream=stream)
        stream.close()
        bar.update(1, "x")
        bar.update(3)
        bar.close()


def test_training_lines_break_the_bar(capsys, monkeypatch):
    err = Terminal()
    monkeypatch.setattr("sys.stderr", err)
    printer = TrainingPrinter()
    printer(StepEvent(step=1, total_steps=10, epoch=0.1, loss=1.5, learning_rate=1e-3, samples_per_second=2.0,
                      eta_seconds=30.0))
    printer(LogEvent(message="evaluating", level="info"))
    text = err.getvalue()
    assert "1/10" in text and "loss 1.500" in text and "ETA 00:30" in text
    assert "\nevaluating\n" in text  # the bar was closed before the line
