"""Line charts for training metrics (loss, learning rate, WER), drawn with textual-plotext.

Each chart owns its own plotext figure and keeps its series itself: callers hand over new data
whenever they like (`set_series` only marks the chart dirty) and a timer calls `redraw()` a few
times a second, so a burst of training steps costs one plot, not one per step. Until a series has
points the chart shows a short message instead of empty axes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

# plotext colour names that stay readable on dark and light themes
SERIES_COLORS = ("cyan", "orange", "green", "magenta", "blue", "red")
MIN_PLOT_WIDTH = 16
MIN_PLOT_HEIGHT = 5


@dataclass(frozen=True)
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str | None = None


class MetricChart(PlotextPlot):
    """A titled line chart of one or more series against training step."""

    DEFAULT_CSS = """
    MetricChart {
        width: 1fr;
        height: 1fr;
        min-height: 5;
    }
    """

    def __init__(self, title: str, *, ylabel: str = "", xlabel: str = "step", empty_text: str = "no data yet",
                 markers: bool = False, legend: bool = True, y_format: Callable[[float], str] | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.chart_title = title
        self.legend = legend  # off when the title already says what the lines are
        self.y_format = y_format  # tick labels, e.g. "2e-05" instead of plotext's "0.000020"
        self.ylabel = ylabel
        self.xlabel = xlabel
        self.empty_text = empty_text
        self.markers = markers  # dots at each point: for sparse series such as one eval per epoch
        self._series: list[Series] = []
        self._dirty = True

    @property
    def series(self) -> list[Series]:
        return list(self._series)

    @property
    def has_points(self) -> bool:
        return any(len(s.xs) for s in self._series)

    def set_series(self, series: Sequence[Series]) -> None:
        """Replace the data; drawn on the next `redraw()`."""
        self._series = [Series(s.label, list(s.xs), list(s.ys), s.color) for s in series]
        self._dirty = True

    def set_title(self, title: str) -> None:
        if title != self.chart_title:
            self.chart_title = title
            self._dirty = True

    def set_empty_text(self, text: str) -> None:
        if text != self.empty_text:
            self.empty_text = text
            self.refresh()

    def redraw(self, force: bool = False) -> bool:
        """Rebuild the plot if data changed since the last call; returns whether it did."""
        if not (self._dirty or force):
            return False
        self._dirty = False
        plt = self.plt
        plt.clear_data()
        plt.title(self.chart_title)
        plt.xlabel(self.xlabel if self.size.height >= 12 else "")
        plt.ylabel(self.ylabel if self.size.width >= 50 else "")
        show_legend = self.legend and len(self._series) > 1 and self.size.height >= 10
        for index, series in enumerate(self._series):
            if not len(series.xs):
                continue
            color = series.color or SERIES_COLORS[index % len(SERIES_COLORS)]
            label = series.label if show_legend else None
            single = len(series.xs) == 1
            if self.markers or single:
                plt.plot(list(series.xs), list(series.ys), label=label, color=color, marker="dot" if single
                         else "braille")
                if not single:
                    plt.scatter(list(series.xs), list(series.ys), color=color, marker="dot")
            else:
                plt.plot(list(series.xs), list(series.ys), label=label, color=color, marker="braille")
        if self.y_format is not None:
            self._format_y_ticks()
        self._integer_x_ticks()
        self.refresh()
        return True

    def _format_y_ticks(self) -> None:
        values = [y for s in self._series for y in s.ys]
        if not values:
            return
        low, high = min(values), max(values)
        count = max(2, min(5, (self.size.height - 4) // 2))
        ticks = [low + (high - low) * k / (count - 1) for k in range(count)] if high > low else [low]
        self.plt.yticks(ticks, [self.y_format(t) for t in ticks])

    def _integer_x_ticks(self) -> None:
        """Steps are whole numbers: label them so (plotext would write 10.8, 20.5…)."""
        xs = [x for s in self._series for x in s.xs]
        if not xs or any(float(x) != int(x) for x in xs):
            return
        low, high = int(min(xs)), int(max(xs))
        count = max(2, min(6, self.size.width // 10))
        step = max(1, -(-(high - low) // (count - 1)))
        ticks = list(range(low, high + 1, step))
        if ticks[-1] != high and high - ticks[-1] > step // 2:
            ticks.append(high)
        self.plt.xticks(ticks, [str(t) for t in ticks])

    def on_resize(self) -> None:
        # labels depend on size
        self._dirty = True
        self.redraw()

    def render(self) -> RenderResult:
        if not self.has_points or self.size.width < MIN_PLOT_WIDTH or self.size.height < MIN_PLOT_HEIGHT:
            title = Text(self.chart_title, style="bold")
            if self.has_points:
                last = next(s for s in reversed(self._series) if len(s.ys))
                return Text.assemble(title, "\n", f"{last.label}: {last.ys[-1]:.4g}")
            return Text.assemble(title, "\n", Text(self.empty_text, style="dim"))
        return super().render()
