"""The end-of-run panel: how it went, where the model is, and what to do next."""

from __future__ import annotations

from rich.text import Text

from screens.presenters.dashboard_state import RunState
from screens.presenters.run_format import fmt_delta, fmt_duration, fmt_rate


def keep_line(state: RunState) -> tuple[str, bool] | None:
    """("general speech: 15.8% → 14.9% (kept)", over the tolerance?) for a finished run that measured the keep set.

    The job's own line (RunFinished.metrics["keep_summary"]) when it sent one, else worked out from the
    evaluations seen here (base keep WER → keep WER of the best evaluation).
    """
    from whisper_tui.training.best_rule import DEFAULT_TOLERANCE_POINTS, keep_summary

    metrics = state.finished.metrics if state.finished is not None and isinstance(state.finished.metrics, dict) \
        else {}
    if isinstance(metrics.get("keep_summary"), str):
        return metrics["keep_summary"], bool(metrics.get("keep_over"))
    best = state.best_eval
    tolerance = metrics.get("keep_tolerance", DEFAULT_TOLERANCE_POINTS)
    return keep_summary(state.base_keep_wer, best.keep_wer if best is not None else None, tolerance)


def summary_text(state: RunState) -> Text:
    """Outcome line, results, then the keys that lead on from here."""
    if state.finished is not None:
        done = state.finished
        best = done.best_wer if done.best_wer is not None else (state.best_eval.wer if state.best_eval else None)
        lines = Text.assemble(("✔ Training finished", "bold green"), f" in {fmt_duration(done.duration_s)}")
        stopped = done.metrics.get("stopped") if isinstance(done.metrics, dict) else None
        if isinstance(stopped, str) and stopped and not stopped.startswith("completed"):
            lines.append(f" ({stopped})", style="dim")  # time budget or early stop: why it ended where it did
        if best is not None:
            lines.append(" — best WER ")
            lines.append(fmt_rate(best), style="bold")
            if state.base_wer is not None:
                lines.append(f" (base model {fmt_rate(state.base_wer)}, {fmt_delta(state.base_wer, best)})")
        keep = keep_line(state)
        if keep is not None:
            text, over = keep
            lines.append("\n")
            lines.append(("⚠ " if over else "") + text, style="bold yellow" if over else "green")
        forgetting = done.metrics.get("forgetting_control") if isinstance(done.metrics, dict) else None
        if isinstance(forgetting, str) and forgetting:
            lines.append("\n")
            lines.append(forgetting, style="dim")
        if state.eval_failed_text:  # the model is saved all the same; its figures may be missing
            lines.append("\n")
            lines.append(f"⚠ {state.eval_failed_text}: no figures for it, the model was saved; details in "
                         f"{done.run_dir / 'train.log'}", style="bold yellow")
        saved = [f"{folder.name}/" for folder in (done.best_dir, done.final_dir) if folder is not None]
        lines.append(f"\nSaved in {done.run_dir}: {', '.join(dict.fromkeys(saved))}")
        if done.best_dir is not None:
            lines.append(" (best/ = lowest WER" + (" keeping general speech" if state.has_keep else "") + ")",
                         style="dim")
        lines.append("\nPress ")
        lines.append("t", style="bold reverse")
        lines.append(" to transcribe with this model, ")
        lines.append("5", style="bold reverse")
        lines.append(" to see all runs.")
        return lines
    if state.failed is not None:
        failed = state.failed
        lines = Text.assemble(("✘ Training failed: ", "bold red"), failed.reason)
        if failed.error_type:
            lines.append(f" ({failed.error_type})", style="dim")
        if failed.hint:
            lines.append("\nWhat to do: ", style="bold")
            lines.append(failed.hint)
        if state.run_dir is not None:
            lines.append(f"\nLogs: {state.run_dir / 'train.log'}", style="dim")
        lines.append("\nPress ")
        lines.append("2", style="bold reverse")
        lines.append(" to change the setup and try again.")
        return lines
    if state.cancelled is not None:
        cancelled = state.cancelled
        lines = Text.assemble(("■ Training cancelled", "bold yellow"), f" at step {cancelled.step}")
        if cancelled.checkpoint_dir is not None:
            lines.append(f"\nCheckpoint saved to {cancelled.checkpoint_dir} — resume it from there later.")
        else:
            lines.append("\nNo checkpoint was saved.")
        best = state.best_eval
        if best is not None:
            lines.append(f"\nBest WER before cancelling: {fmt_rate(best.wer)} at step {best.step}")
        return lines
    return Text("")
