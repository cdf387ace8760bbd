"""The run's evaluation figures: the base model's WER, the best evaluation under the keep rule, the latest.

One home for what the Trainer callbacks record as evaluations arrive (callbacks.py), what a resumed
run replays from metrics.jsonl, and what run.json and `RunFinished.metrics` report at the end. The
best-checkpoint rule itself is `best_rule.BestTracker`; this holds the tracker and the figures
around it. Plain Python: no torch, no Trainer.
"""

from __future__ import annotations

from collections.abc import Iterable

from whisper_tui.training.best_rule import BestTracker, keep_summary


SATURATED_WER = 0.005


class RunScores:
    def __init__(self, keep_tolerance: float):
        self.keep_tolerance = keep_tolerance
        self.tracker = BestTracker(keep_tolerance)
        self.base_wer: float | None = None
        self.last_eval: tuple[int, float, float | None] | None = None  # (step, WER, keep WER) of the latest eval
        self.saturated_warned = False  # the "validation WER is ~0" warning is said once
        self.evaluated_steps: set = set()  # steps metrics.jsonl has an evaluation of (a resumed run)

    # the best so far and the base keep WER live in the tracker (the rule compares against them)
    @property
    def best_wer(self) -> float | None:
        return self.tracker.best_wer

    @property
    def best_step(self) -> int | None:
        return self.tracker.best_step

    @property
    def best_keep_wer(self) -> float | None:
        return self.tracker.best_keep_wer

    @property
    def base_keep_wer(self) -> float | None:
        return self.tracker.base_keep_wer

    @base_keep_wer.setter
    def base_keep_wer(self, value: float | None) -> None:
        self.tracker.base_keep_wer = value

    def record_base(self, wer: float, keep_wer: float | None) -> None:
        """The evaluation before training (the keep WER is the rule's reference when there is one)."""
        self.base_wer = wer
        if keep_wer is not None:
            self.base_keep_wer = keep_wer

    def record(self, step: int, wer: float, keep_wer: float | None, loss: float | None = None) -> tuple[bool, bool]:
        """One evaluation after training steps: (is the new best, keep WER within the tolerance)."""
        within = self.tracker.is_within(keep_wer)
        is_best = self.tracker.offer(step, wer, keep_wer, loss)
        self.last_eval = (step, wer, keep_wer)
        return is_best, within

    def restore(self, records: Iterable[dict]) -> None:
        """Replay metrics.jsonl's evaluations through the same rule, so 'best' keeps its meaning on resume."""
        for rec in records:
            if rec.get("type") == "keep_base":  # base keep WER measured on resume (TrainingJob._evaluate_base_keep)
                self.base_keep_wer = rec.get("keep_wer")
                continue
            if rec.get("type") != "eval" or not isinstance(rec.get("wer"), (int, float)):
                continue
            self.evaluated_steps.add(rec.get("step"))
            if rec.get("base"):
                self.base_wer = rec.get("wer")
                if rec.get("keep_wer") is not None:
                    self.base_keep_wer = rec.get("keep_wer")
            else:
                self.tracker.offer(rec.get("step", 0), rec["wer"], rec.get("keep_wer"), rec.get("eval_loss"))

    def saturation_note(self, wer: float, epoch: float) -> str | None:
        """The warning, once, when the test split's WER reaches ~0 (under half a point): from then on it cannot
        tell checkpoints apart, so a user should know what best/ and the merge strength rest on."""
        if self.saturated_warned or wer > SATURATED_WER:
            return None
        self.saturated_warned = True
        return (f"validation WER is {100 * wer:.1f}% at epoch {epoch:.1f}: the test split no longer tells "
                "checkpoints apart (its sentences likely share templates or near-duplicates with training). "
                "best/ now follows the validation loss among equal WERs and the keep set (recorded speech) guards "
                "general speech; for a figure that means something give data.test_dir or split by speaker "
                "(data.split_by)")

    def wer_at(self, step: int) -> float | None:
        """The WER of the evaluation at `step` (the final model's when `step` is the last one), else None."""
        return self.last_eval[1] if self.last_eval is not None and self.last_eval[0] == step else None

    def keep_wer_at(self, step: int) -> float | None:
        """The keep WER of the evaluation at `step` (the final model's when `step` is the last one), else None."""
        return self.last_eval[2] if self.last_eval is not None and self.last_eval[0] == step else None

    def over_limit_note(self, step: int, keep_wer: float, is_best: bool) -> str:
        """The log line for an evaluation whose keep WER is over the tolerance."""
        tracker = self.tracker
        limit = 100 * (tracker.base_keep_wer or 0) + tracker.tolerance_points
        note = (f"eval step {step}: general speech WER {100 * keep_wer:.1f}% is over the limit "
                f"({limit:.1f}%: base {100 * tracker.base_keep_wer:.1f}% + {tracker.tolerance_points:g} points"
                f" of training.keep_tolerance)")
        if is_best:
            return note + "; best/ keeps it for now, as no evaluation is within the tolerance yet"
        return note + "; it cannot be the best checkpoint"

    def keep_metrics(self, final_keep_wer: float | None) -> dict:
        """The keep-set figures of RunFinished.metrics (and the summary line the dashboard shows)."""
        summary = keep_summary(self.base_keep_wer,
                               self.best_keep_wer if self.best_keep_wer is not None else final_keep_wer,
                               self.keep_tolerance)
        return {"base_keep_wer": self.base_keep_wer, "best_keep_wer": self.best_keep_wer,
                "final_keep_wer": final_keep_wer, "keep_tolerance": self.keep_tolerance,
                "best_within_tolerance": self.tracker.best_within,
                "keep_summary": summary[0] if summary else None, "keep_over": bool(summary and summary[1])}
