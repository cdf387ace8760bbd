"""Which evaluation is the run's best checkpoint, when general speech must be kept.

The rule (README: "Keep what Whisper knew"):

- An evaluation is *within tolerance* when its keep-set WER is at most the base model's keep-set
  WER plus `training.keep_tolerance` points (WER is a 0..1 fraction here; the tolerance is in
  percentage points, so 2.0 means +0.02). Without a keep set (off, empty, or no base keep WER
  measured) every evaluation is within tolerance and the rule is plain "lowest domain WER".
- Among evaluations within tolerance, the lowest domain (test) WER is best; an exact tie goes to
  the lower validation loss when both have one (a test split whose sentences share templates with
  training reads 0.0% from epoch 2 on: the WER stops telling checkpoints apart, the loss still
  does), else keeps the earlier one.
- An evaluation over the tolerance never replaces a best that is within tolerance.
- While no evaluation has been within tolerance, the best is the lowest domain WER anyway, so
  `best/` always holds a model; it is marked `within=False`, the log says so and the run summary
  warns. The first evaluation within tolerance then replaces it, whatever its domain WER.

`BestTracker` applies the rule as evaluations arrive; replaying metrics.jsonl through it on
resume (`scores.RunScores.restore`) gives the same best as the original run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_TOLERANCE_POINTS = 2.0


def _known(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def keep_limit(base_keep_wer: float | None, tolerance_points: float) -> float | None:
    """Highest keep-set WER (fraction) a best checkpoint may have; None when there is no base to compare."""
    if not _known(base_keep_wer):
        return None
    return float(base_keep_wer) + float(tolerance_points) / 100.0


def within_tolerance(keep_wer: float | None, base_keep_wer: float | None, tolerance_points: float) -> bool:
    """True when `keep_wer` is at most base + tolerance points, or when either is unknown (rule off)."""
    limit = keep_limit(base_keep_wer, tolerance_points)
    if limit is None or not _known(keep_wer):
        return True
    return float(keep_wer) <= limit + 1e-12


@dataclass
class BestTracker:
    """The best evaluation so far under the keep rule."""

    tolerance_points: float = DEFAULT_TOLERANCE_POINTS
    base_keep_wer: float | None = None
    best_wer: float | None = None
    best_step: int | None = None
    best_keep_wer: float | None = None
    best_loss: float | None = None
    best_within: bool = True  # False while the best so far is over the keep tolerance

    def is_within(self, keep_wer: float | None) -> bool:
        return within_tolerance(keep_wer, self.base_keep_wer, self.tolerance_points)

    def offer(self, step: int, wer: float, keep_wer: float | None = None, loss: float | None = None) -> bool:
        """Consider one evaluation after training steps; True when it becomes the new best."""
        if not _known(wer):
            return False
        within = self.is_within(keep_wer)
        if self.best_wer is None:
            better = True
        elif within != self.best_within:
            better = within  # within tolerance beats over it, whatever the domain WER
        elif abs(wer - self.best_wer) <= 1e-12:
            better = _known(loss) and _known(self.best_loss) and float(loss) < float(self.best_loss)
        else:
            better = wer < self.best_wer
        if better:
            self.best_wer, self.best_step = float(wer), int(step)
            self.best_loss = float(loss) if _known(loss) else None
            self.best_keep_wer = float(keep_wer) if _known(keep_wer) else None
            self.best_within = within
        return better


def keep_summary(base_keep_wer: float | None, keep_wer: float | None,
                 tolerance_points: float = DEFAULT_TOLERANCE_POINTS) -> tuple[str, bool] | None:
    """("general speech: 15.8% → 14.9% (kept)", over) for the run summary; None without both numbers.

    `over` is True when the keep WER got worse by more than the tolerance, and the text then says
    by how much: "general speech: 15.8% → 21.0% (worse by 5.2 points, over the 2-point tolerance)".
    """
    if not (_known(base_keep_wer) and _known(keep_wer)):
        return None
    base, after = float(base_keep_wer), float(keep_wer)
    text = f"general speech: {100 * base:.1f}% → {100 * after:.1f}%"
    over = not within_tolerance(after, base, tolerance_points)
    if over:
        text += (f" (worse by {100 * (after - base):.1f} points, over the {float(tolerance_points):g}-point "
                 "tolerance)")
    else:
        text += " (kept)"
    return text, over
