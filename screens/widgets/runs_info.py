"""The few lines above a run's curves: what it was, how it ended, what can be done with it now."""

from __future__ import annotations

from rich.text import Text

from .run_format import fmt_delta, fmt_duration, fmt_rate, fmt_when
from .runs_stats import RunStats

STATUS_STYLES = {"finished": "green", "running": "cyan", "failed": "red", "broken": "bold red",
                 "cancelled": "yellow", "interrupted": "yellow"}


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def run_info_text(run, stats: RunStats) -> Text:
    text = Text.assemble((run.name, "bold"), "  ", status_text(run.status))
    if run.status != "broken":
        text.append(f"  · {run.profile or '?'} · {run.strategy or '?'} on {run.model or '?'}"
                    f" · started {fmt_when(run.started)} · {fmt_duration(run.duration_s)}")
    if run.best_wer is not None:
        text.append("\nBest WER ")
        text.append(fmt_rate(run.best_wer), style="bold")
        if run.base_wer is not None:
            text.append(f" (before training {fmt_rate(run.base_wer)}, {fmt_delta(run.base_wer, run.best_wer)})")
    if stats.steps is not None:
        text.append(f"\n{stats.steps} steps" + (f", {stats.epochs:.2f} epochs" if stats.epochs is not None else ""))
    if run.reason:
        text.append("\n")
        text.append(run.reason, style="red" if run.status in ("failed", "broken") else "yellow")
    models = ", ".join(f"{label}/" for label, _ in run.model_dirs)
    text.append(f"\n{run.run_dir}" + (f"  (models: {models})" if models else ""), style="dim")
    return text
