"""Which models the Transcribe console offers: the bundled tiny.en, then every saved model of past runs."""

from __future__ import annotations

from pathlib import Path

from screens.presenters.run_format import fmt_rate

BUNDLED = "tiny.en"
BUNDLED_LABEL = "tiny.en (bundled)"


def model_choices(runs) -> list[tuple[str, str]]:
    """(label, value) for a Select: bundled first, then each run's best/ and final/ (newest run first)."""
    choices = [(BUNDLED_LABEL, BUNDLED)]
    for run in runs:
        for label, path in run.model_dirs:
            score = f" · WER {fmt_rate(run.best_wer)}" if label == "best" and run.best_wer is not None else ""
            choices.append((f"{run.name} · {label}{score}", str(path)))
    return choices


def short_model_name(value: str) -> str:
    """A column header: "tiny.en", "20250301-100000-quick/best", "org/model"."""
    if value in ("", BUNDLED):
        return BUNDLED
    path = Path(value)
    if path.name in ("best", "final", "merged") and path.parent.name:
        return f"{path.parent.name}/{path.name}"
    return path.name or value


def is_bundled(value: str | None) -> bool:
    return (value or "").strip().lower() in ("", BUNDLED, "embedded", "bundled")
