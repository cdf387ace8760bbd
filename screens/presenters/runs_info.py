"""The few lines above a run's curves: what it was, how it ended, what can be done with it now."""

from __future__ import annotations

import math

from rich.text import Text

from screens.presenters.run_format import fmt_delta, fmt_duration, fmt_rate, fmt_when
from screens.presenters.runs_stats import RunStats

RESUMABLE = ("cancelled", "interrupted", "failed")  # runs that `u` (train --resume) can continue from a checkpoint
STATUS_STYLES = {"finished": "green", "running": "cyan", "failed": "red", "broken": "bold red",
                 "cancelled": "yellow", "interrupted": "yellow"}


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def keep_text(run) -> Text | None:
    """"General speech 15.8% → 14.9% (kept)" (base model → best checkpoint), in yellow when over the tolerance."""
    from whisper_tui.training.best_rule import DEFAULT_TOLERANCE_POINTS, keep_summary

    base, after = getattr(run, "keep_change", (None, None))
    if base is None and after is None:
        return None
    if base is None or after is None:
        return Text(f"General speech {fmt_rate(base)} → {fmt_rate(after)}")
    tolerance = _keep_tolerance(run)
    text, over = keep_summary(base, after, DEFAULT_TOLERANCE_POINTS if tolerance is None else tolerance)
    return Text(text[0].upper() + text[1:].replace(": ", " ", 1), style="yellow" if over else "")


def _keep_tolerance(run) -> float | None:
    """training.keep_tolerance of the run's profile.toml (None when unreadable)."""
    import tomllib

    try:
        data = tomllib.loads((run.run_dir / "profile.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    training = data.get("training", {})
    value = training.get("keep_tolerance") if isinstance(training, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def resume_text(run) -> str:
    """Why an unfinished run without a complete checkpoint cannot be resumed, and what to do instead ("" for
    any other run); the words of `train --resume` (run_folder.stopped_before_checkpoint)."""
    from whisper_tui.training.run_folder import stopped_before_checkpoint

    if run.status not in RESUMABLE or run.latest_checkpoint is not None:
        return ""
    pick = f", load profile {run.profile}" if run.profile else ""
    return (f"Cannot resume: {stopped_before_checkpoint(run.status)}. Start a new run instead: press 2 (Train "
            f"setup){pick}, then ctrl+t.")


def run_info_text(run, stats: RunStats, warning: str = "") -> Text:
    """`warning`: what reading the run's files skipped (bad metrics.jsonl lines), shown in yellow under the rest."""
    text = Text.assemble((run.name, "bold"), "  ", status_text(run.status))
    if run.status != "broken":
        text.append(f"  · {run.profile or '?'} · {run.strategy or '?'} on {run.model or '?'}"
                    f" · started {fmt_when(run.started)} · {fmt_duration(run.duration_s)}")
    if run.best_wer is not None:
        text.append("\nBest WER ")
        text.append(fmt_rate(run.best_wer), style="bold")
        if run.base_wer is not None:
            text.append(f" (before training {fmt_rate(run.base_wer)}, {fmt_delta(run.base_wer, run.best_wer)})")
    keep = keep_text(run)
    if keep is not None:
        text.append("\n")
        text.append_text(keep)
    if stats.steps is not None:
        text.append(f"\n{stats.steps} steps" + (f", {stats.epochs:.2f} epochs" if stats.epochs is not None else ""))
    if warning:
        text.append("\n")
        text.append(f"⚠ {warning}", style="yellow")
    if run.reason:
        text.append("\n")
        text.append(run.reason, style="red" if run.status in ("failed", "broken") else "yellow")
    resume = resume_text(run)
    if resume:
        text.append("\n")
        text.append(resume, style="yellow")
    models = ", ".join(f"{label}/" for label, _ in run.model_dirs)
    text.append(f"\n{run.run_dir}" + (f"  (models: {models})" if models else ""), style="dim")
    return text
