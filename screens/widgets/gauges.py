"""CPU, RAM and GPU gauges, polled about once a second without ever stacking polls.

NVML and psutil calls can stall (a busy driver, a loaded machine), so each poll runs in a thread
worker and the next one is scheduled with `set_timer` only after the previous result has been
shown: a slow poll delays the next, it never queues up behind it. While the screen holding the
gauges is not on display the poll is skipped (the timer keeps ticking, cheaply).

The gauges pack themselves into as few lines as the width allows, so the strip takes two lines
on a 80-column terminal and stays readable on a wide one.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.message import Message
from textual.widget import Widget

from whisper_tui.system.sysmon import SystemStats, format_bytes

POLL_SECONDS = 1.0
BAR_WIDTH = 10
GAP = "   "


def gauge_bar(percent: float | None, width: int = BAR_WIDTH) -> Text:
    """█████░░░░░ coloured green/yellow/red by load."""
    if percent is None:
        return Text("·" * width, style="dim")
    percent = max(0.0, min(100.0, percent))
    filled = round(width * percent / 100)
    style = "green" if percent < 70 else "yellow" if percent < 90 else "red"
    return Text.assemble(("█" * filled, style), ("░" * (width - filled), "dim"))


def gauge_items(stats: SystemStats | None, error: str = "") -> list[Text]:
    """One Text per gauge: "CPU █████░░░░░ 37% of 16 cores"."""
    if stats is None:
        return [Text(error or "reading CPU / RAM / GPU…", style="dim")]

    def item(label: str, percent: float | None, detail: str) -> Text:
        return Text.assemble((label, "bold"), " ", gauge_bar(percent), " ", detail)

    items = [
        item("CPU", stats.cpu_percent, f"{stats.cpu_percent:3.0f}% of {stats.cpu_count} cores"),
        item("RAM", stats.ram_percent, f"{format_bytes(stats.ram_used_bytes)} / {format_bytes(stats.ram_total_bytes)}"),
    ]
    for gpu in stats.gpus:
        items.append(item(f"GPU{gpu.index} mem", gpu.memory_percent,
                          f"{format_bytes(gpu.memory_used_bytes)} / {format_bytes(gpu.memory_total_bytes)}"))
        util = gpu.utilization_percent
        items.append(item(f"GPU{gpu.index} use", util, "n/a" if util is None else f"{util:3.0f}%"))
    if stats.gpu_note:
        items.append(Text.assemble(("GPU", "bold"), " ", (stats.gpu_note, "italic")))
    for problem in (*stats.errors, *([error] if error else [])):
        items.append(Text(problem, style="yellow"))
    return items


def pack_lines(items: list[Text], width: int) -> list[Text]:
    """Greedy: as many gauges per line as fit, separated by a gap."""
    lines: list[Text] = []
    current: Text | None = None
    for item in items:
        if current is not None and current.cell_len + len(GAP) + item.cell_len <= width:
            current.append(GAP)
            current.append_text(item)
        else:
            current = item.copy()
            lines.append(current)
    return lines


class SystemGauges(Widget):
    """Shows the latest `SystemStats`; polls `source` (default: `whisper_tui.system.sysmon.snapshot`)."""

    DEFAULT_CSS = """
    SystemGauges {
        height: auto;
    }
    """

    class Polled(Message):
        def __init__(self, stats: SystemStats | None, error: str = "") -> None:
            super().__init__()
            self.stats = stats
            self.error = error

    def __init__(self, source: Callable[[], SystemStats] | None = None, *, poll_seconds: float = POLL_SECONDS,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._source = source
        self.poll_seconds = poll_seconds
        self.stats: SystemStats | None = None
        self.error = ""
        self.polls = 0

    def on_mount(self) -> None:
        self._poll()

    def _poll(self) -> None:
        if self.is_attached and self.screen.is_current:
            self._read_stats()
        else:
            self.set_timer(self.poll_seconds, self._poll)

    @work(thread=True, exclusive=True, group="system-gauges", exit_on_error=False)
    def _read_stats(self) -> None:
        source = self._source
        if source is None:
            from whisper_tui.system.sysmon import snapshot as source
        try:
            self.post_message(self.Polled(source()))
        except Exception as exc:  # a broken driver must not kill the dashboard
            self.post_message(self.Polled(None, f"system stats unavailable: {type(exc).__name__}: {exc}"))

    def on_system_gauges_polled(self, message: Polled) -> None:
        message.stop()
        self.polls += 1
        self.error = message.error
        if message.stats is not None:
            self.stats = message.stats
        self.refresh(layout=True)
        self.set_timer(self.poll_seconds, self._poll)

    def _lines(self, width: int) -> list[Text]:
        return pack_lines(gauge_items(self.stats, self.error), max(width, 20))

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self._lines(width))

    def render(self) -> Text:
        text = Text("\n").join(self._lines(self.content_size.width))
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text
