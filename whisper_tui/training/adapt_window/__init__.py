"""Window adaptation without labels (`whisper-tui adapt-window`).

A model trained only at Whisper's 30 s window (tiny.en itself) loses accuracy when cut to a shorter
window, and short windows are where the speed is (a 10 s window encodes a third of the positions).
Teaching it needs transcripts, but the model's own 30 s output is a good enough teacher for its
own short-window self: the student (the same weights) learns to write at 10 s what it wrote at
30 s, on the user's own unlabelled recordings. What it agrees on with its teacher is measured on
recordings held out of the adaptation.

`run.adapt_window` runs the steps; `split`, `teacher` and `agreement` are the parts, `settings` what
may be asked for. `adapt_window` and `AdaptReport` load on first use (the command line's parser only
needs the settings).
"""

from __future__ import annotations

from whisper_tui.training.adapt_window.settings import DEFAULT_WINDOWS, REPORT_FILE, STRATEGIES, AdaptSettings

__all__ = ["DEFAULT_WINDOWS", "REPORT_FILE", "STRATEGIES", "AdaptReport", "AdaptSettings", "adapt_window"]


def __getattr__(name: str):
    if name in ("adapt_window", "AdaptReport"):
        from whisper_tui.training.adapt_window import run

        return getattr(run, name)
    raise AttributeError(name)
