"""`whisper-tui import SRC OUT`: print the detected format, progress, then what was written and skipped."""

from __future__ import annotations

from pathlib import Path

from whisper_tui.cli.console import ProgressBar, say
from whisper_tui.data.importers.entries import Options
from whisper_tui.data.importers.run import import_dataset


class _Progress:
    """A bar when the reader knows how many rows there are, else a line every few hundred rows."""

    def __init__(self) -> None:
        self.bar: ProgressBar | None = None
        self.what = ""

    def __call__(self, done: int, total: int | None, what: str) -> None:
        label = "aligning" if what.startswith("aligning") else "import"
        if label != self.what or (self.bar is not None and total and total != self.bar.total):
            self.close()
            self.what = label
        if total:
            if self.bar is None:
                self.bar = ProgressBar(label, total)
            self.bar.update(done, what if label == "aligning" else "")
        elif done % 500 == 0:
            say(f"{label}: {done} rows", err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def cmd_import(args) -> int:
    progress = _Progress()

    def detected(name: str, label: str, src: Path) -> None:
        say(f"Detected: {label} ({name}) in {src}")

    options = Options(max_segment_s=args.max_seconds, max_gap_s=args.max_gap, align_model=args.model,
                      text_column=args.text_column)
    try:
        report = import_dataset(args.src, args.out, format=args.format, link=args.link, force=args.force,
                                options=options, on_progress=progress, on_detected=detected)
    finally:
        progress.close()
    say(report.format_text())
    return 0
