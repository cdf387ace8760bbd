"""Two runs side by side: one row per figure, the better value of each comparable row in green."""

from __future__ import annotations

from rich.text import Text

from screens.presenters.run_format import MISSING, fmt_delta, fmt_duration, fmt_number, fmt_rate, fmt_when
from screens.presenters.runs_stats import RunStats

BETTER = "bold green"


def _pair(a: float | None, b: float | None, fmt, lower_is_better: bool | None) -> tuple[Text, Text]:
    left, right = Text(fmt(a)), Text(fmt(b))
    if lower_is_better is not None and a is not None and b is not None and a != b:
        a_wins = (a < b) == lower_is_better
        (left if a_wins else right).stylize(BETTER)
    return left, right


def compare_rows(runs, stats: list[RunStats]) -> list[tuple[str, Text, Text]]:
    """(label, first run's value, second run's value)."""
    a, b = runs
    sa, sb = stats

    def gain(run):
        return None if run.best_wer is None or run.base_wer is None else run.best_wer - run.base_wer

    def plain(label: str, x: str, y: str) -> tuple[str, Text, Text]:
        return label, Text(x or MISSING), Text(y or MISSING)

    rows = [
        plain("Run", a.name, b.name),
        plain("Status", a.status, b.status),
        plain("Started", fmt_when(a.started), fmt_when(b.started)),
        plain("Profile", a.profile, b.profile),
        plain("Strategy", a.strategy, b.strategy),
        plain("Base model", a.model, b.model),
        ("Best WER", *_pair(a.best_wer, b.best_wer, fmt_rate, True)),
        ("WER before training", *_pair(a.base_wer, b.base_wer, fmt_rate, None)),
        ("Change", *_pair(gain(a), gain(b), lambda d: MISSING if d is None else fmt_delta(0.0, d), True)),
        ("Final WER", *_pair(a.final_wer, b.final_wer, fmt_rate, True)),
        *_keep_rows(a, b),
        ("Final loss", *_pair(sa.final_loss, sb.final_loss, lambda v: fmt_number(v, 4), True)),
        ("Steps", *_pair(sa.steps, sb.steps, lambda v: MISSING if v is None else str(int(v)), None)),
        ("Epochs", *_pair(sa.epochs, sb.epochs, lambda v: fmt_number(v, 3), None)),
        ("Evaluations", Text(str(sa.evaluations)), Text(str(sb.evaluations))),
        ("Samples/s", *_pair(sa.samples_per_second, sb.samples_per_second, lambda v: fmt_number(v, 3), False)),
        ("Duration", *_pair(a.duration_s, b.duration_s, fmt_duration, True)),
    ]
    return rows


def _keep_rows(a, b) -> list[tuple[str, Text, Text]]:
    """General speech (the keep set), only when either run measured it: before training and at the best step."""
    (base_a, after_a), (base_b, after_b) = (getattr(r, "keep_change", (None, None)) for r in (a, b))
    if all(v is None for v in (base_a, after_a, base_b, after_b)):
        return []
    return [("General speech before", *_pair(base_a, base_b, fmt_rate, None)),
            ("General speech (best)", *_pair(after_a, after_b, fmt_rate, True))]
