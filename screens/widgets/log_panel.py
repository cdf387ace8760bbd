"""The Dashboard's log panel: a RichLog that keeps the reader's place and whose `end` key acts at once.

Two things of Textual's RichLog made the log slow to read during a run (benchmarks/bench_keypress.py):
- every new line scrolled to the end, so a reader who scrolled up (`home`, `up`) was pulled back down
  at the next training step; here the log follows new lines only while it is at its end (as
  Textual's plain `Log` does), and `end` starts following again;
- `end` waited until the screen had been refreshed and gone idle (`call_after_refresh`), and a
  dashboard fed by a training run is rarely idle: up to 3.6 s. The log's size is known when the key
  arrives, so the scroll starts then.
"""

from __future__ import annotations

from textual.actions import SkipAction
from textual.widgets import RichLog


class LogPanel(RichLog):
    def write(self, content, width=None, expand=False, shrink=True, scroll_end=None, animate=False):
        if scroll_end is None:
            scroll_end = self.auto_scroll and self.is_vertical_scroll_end
        return super().write(content, width=width, expand=expand, shrink=shrink, scroll_end=scroll_end,
                             animate=animate)

    def action_scroll_end(self) -> None:
        if not self.allow_vertical_scroll:
            raise SkipAction()
        self.scroll_end(immediate=True, x_axis=False)
