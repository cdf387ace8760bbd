"""A time budget instead of a number of epochs, and early stopping on the held-out WER.

People ask "what is the best model I can get in 5 minutes on this laptop?", not "how many epochs".
With `training.budget_s` (`train --budget 5m`) the run measures its own speed and plans as many
whole epochs as fit in what is left of the budget (counted from the moment the run started, so
loading the model, the encoder cache and the base evaluation are paid from it too), and the
learning-rate schedule is re-fitted so that it ends when the budget does: a linear schedule that
decays over 40 planned epochs but stops after 7 would leave the rate high and the model noisy.
The plan is revised at every epoch end as real epoch times (training + evaluation + saving) come
in; a guard stops mid-epoch if a burst of load makes the run overshoot anyway.

Evaluating after every epoch can eat half of a short budget (36 test clips cost about as much as
an epoch of 84 training clips on a CPU), so under a budget the run evaluates every k-th epoch,
with k chosen so that evaluations take at most EVAL_SHARE of the training time, and always after
the last planned epoch: fewer points on the WER chart, more epochs in the budget.

`training.num_train_epochs` stays the upper bound. Early stopping (`training.early_stopping_patience`)
ends a run whose held-out WER has not improved for that many evaluations; it works with or
without a budget. Either way the run says why it stopped (`BudgetCallback.stop_reason`).
"""

from __future__ import annotations

import functools
import math
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from transformers import TrainerCallback

_UNITS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(h|min|m|sec|s)?", re.IGNORECASE)


def parse_duration(text: str | float | int) -> float:
    """'300', '5m', '1h30m', '90s', '2.5min' -> seconds; ValueError with the accepted forms otherwise."""
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        raw = str(text).strip().lower().replace(" ", "")
        parts = _PART.findall(raw)
        if not raw or "".join(n + u for n, u in parts) != raw:
            raise ValueError(f"not a duration: {text!r} (use e.g. 300, 90s, 5m or 1h30m)")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"a duration must be 0 or more seconds, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """300 -> '5m', 90 -> '1m30s', 45 -> '45s'."""
    seconds = int(round(seconds))
    minutes, secs = divmod(seconds, 60)
    if not minutes:
        return f"{secs}s"
    return f"{minutes}m" + (f"{secs:02d}s" if secs else "")


def warmup_for(total_steps: int, warmup: float) -> int:
    """The Trainer's rule: below 1 a share of all steps, else a number of steps."""
    return int(math.ceil(warmup * total_steps)) if 0 < warmup < 1 else int(warmup)


def refit_schedule(lr_scheduler, total_steps: int, warmup: float) -> bool:
    """Point a transformers warmup/decay schedule at a new end; False when it has no end to move.

    transformers builds its schedules as LambdaLR over a `functools.partial` with keyword arguments
    `num_warmup_steps` / `num_training_steps`; replacing the partial changes the curve from the next
    step on, without touching the optimizer or the step count (so resume still works).
    """
    lambdas = getattr(lr_scheduler, "lr_lambdas", None)
    if not lambdas:
        return False
    changed = False
    for i, fn in enumerate(lambdas):
        if isinstance(fn, functools.partial) and "num_training_steps" in fn.keywords:
            keywords = dict(fn.keywords, num_training_steps=max(1, total_steps))
            if "num_warmup_steps" in keywords:
                keywords["num_warmup_steps"] = warmup_for(total_steps, warmup)
            lambdas[i] = functools.partial(fn.func, *fn.args, **keywords)
            changed = True
    return changed


@dataclass(frozen=True)
class Outlook:
    """What progress lines show under a budget: the epochs that fit, their steps and the time to go."""

    epochs: int
    total_steps: int
    eta_s: float  # never more than what is left of the budget


def plan_epochs(left_s: float, epoch_s: float, done_epochs: int, max_epochs: int) -> int:
    """How many epochs in all (done included) fit when `left_s` remain and one epoch takes `epoch_s`."""
    more = math.floor(left_s / max(epoch_s, 1e-6))
    return max(max(done_epochs, 1), min(max_epochs, done_epochs + more))


class BudgetCallback(TrainerCallback):
    """Plans epochs within `budget_s` (0 = no budget) and stops early on a WER plateau (`patience`, 0 = off)."""

    CALIBRATION_STEPS = 12  # the thread tuner tries its candidates in about the first 8 steps
    EVAL_SHARE = 0.25  # under a budget, evaluations may cost at most this share of the training time

    def __init__(self, *, budget_s: float, started: float, steps_per_epoch: int, max_epochs: int,
                 warmup: float, eval_s: float = 0.0, patience: int = 0,
                 log: Callable[[str, str], None] | None = None, clock: Callable[[], float] = time.time,
                 timer: Callable[[], float] = time.perf_counter):
        self.budget_s = float(budget_s)
        self.started = started
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.max_epochs = max(1, max_epochs)
        self.warmup = warmup
        self.eval_s = eval_s  # one evaluation, measured on the base model (0 = unknown or no evaluation)
        self.patience = patience
        self.clock = clock
        self.timer = timer  # times steps (a monotonic clock; `clock` is the wall clock the budget counts on)
        self.log = log or (lambda message, level="info": None)
        self.planned_epochs: int | None = None
        self.stop_reason: str | None = None
        self._step_times: list[float] = []
        self._t_step: float | None = None
        self._epoch_ends: list[float] = []
        self._train_gaps: list[float] = []  # epoch end to epoch end, less the evaluation in between
        self._eval_in_gap = 0.0
        self.eval_every = 1  # evaluate after every k-th epoch (and the last); set from measured costs
        self._best: float | None = None
        self._since_best = 0
        self._reserve = min(10.0, max(1.0, 0.02 * self.budget_s))  # for the final save
        self.after_evals = 0  # evaluations the run makes after training (merge strengths), paid from the budget

    # -- what is left ------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return self.clock() - self.started

    def left(self) -> float:
        return self.budget_s - self._reserve - self.after_evals * self.eval_s - self.elapsed()

    def train_epoch_seconds(self) -> float:
        """One epoch of training (steps, data, checkpoint): measured between epoch ends, else from step times."""
        if self._train_gaps:
            return statistics.median(self._train_gaps[-3:])
        recent = self._step_times[-8:]
        return (statistics.median(recent) if recent else 0.0) * self.steps_per_epoch

    def epoch_seconds(self) -> float:
        """One epoch with its share of evaluation (one every `eval_every` epochs)."""
        return self.train_epoch_seconds() + self.eval_s / self.eval_every

    def outlook(self, state) -> Outlook | None:
        """The epochs that fit and the time to go, for progress lines from the first step on (None without a
        budget, or before a step was timed): the plan once made, before it the epochs the steps timed so far
        would fit (the same rule, revised every step). The time to go is capped at what is left of the budget:
        the budget stops the run then, whatever the estimate says."""
        if self.budget_s <= 0:
            return None
        self._record_step()  # asked before this callback's on_step_end (JobCallback comes first)
        if not self._step_times and not self._train_gaps:
            return None
        epochs = self.planned_epochs or self._fit(state)
        total = epochs * self.steps_per_epoch
        to_go = max(0, total - state.global_step) / self.steps_per_epoch * self.epoch_seconds()
        return Outlook(epochs, total, min(to_go, max(0.0, self.budget_s - self.elapsed())))

    # -- hooks -------------------------------------------------------------------------------------
    def on_step_begin(self, args, state, control, **kwargs):
        self._t_step = self.timer()

    def _record_step(self) -> None:
        """The time of the step that just ended, once (from on_step_end or an earlier `outlook`)."""
        if self._t_step is not None:
            self._step_times.append(self.timer() - self._t_step)
            self._t_step = None

    def on_step_end(self, args, state, control, lr_scheduler=None, **kwargs):
        self._record_step()
        if self.budget_s <= 0:
            return control
        if self.planned_epochs is None and len(self._step_times) >= min(self.CALIBRATION_STEPS, self.steps_per_epoch):
            self._replan(state, lr_scheduler, first=True)
        if self.planned_epochs is not None and state.global_step >= self.planned_epochs * self.steps_per_epoch:
            control.should_training_stop = True
            self.stop_reason = self.stop_reason or (
                f"time budget: {self.planned_epochs} epoch(s) fit in {format_duration(self.budget_s)}")
        elif self.left() + self._reserve < 0:  # overshooting (a burst of load): stop now, evaluate, save
            control.should_training_stop = True
            self.stop_reason = (f"time budget: {format_duration(self.budget_s)} used up at step {state.global_step} "
                                f"(epoch {float(state.epoch or 0):.2f})")
        return control

    def on_epoch_end(self, args, state, control, lr_scheduler=None, **kwargs):
        now = self.clock()
        if self._epoch_ends:
            self._train_gaps.append(now - self._epoch_ends[-1] - self._eval_in_gap)
        self._epoch_ends.append(now)
        self._eval_in_gap = 0.0
        strategy = getattr(args, "eval_strategy", "no")
        if getattr(strategy, "value", strategy) != "epoch":
            self._maybe_replan(state, control, lr_scheduler)
            return control
        if self.budget_s > 0 and self.planned_epochs is not None:
            self._thin_evaluations(state, control)
            if not control.should_evaluate:  # no evaluation to measure first: plan now
                self._maybe_replan(state, control, lr_scheduler)
        return control

    def _thin_evaluations(self, state, control) -> None:
        train_s = self.train_epoch_seconds()
        every = max(1, math.ceil(self.eval_s / max(self.EVAL_SHARE * train_s, 1e-6))) if train_s > 0 else 1
        if every != self.eval_every:
            self.eval_every = every
            self.log(f"time budget: evaluating after every {every} epoch(s) and the last (an evaluation takes "
                     f"{format_duration(self.eval_s)}, an epoch of training {format_duration(train_s)})"
                     if every > 1 else "time budget: evaluating after every epoch", "info")
        epoch = round(float(state.epoch or 0))
        last = epoch >= (self.planned_epochs or 0) or control.should_training_stop
        control.should_evaluate = last or epoch % self.eval_every == 0

    def on_evaluate(self, args, state, control, metrics=None, lr_scheduler=None, **kwargs):
        if state.global_step == 0 or not metrics or "eval_wer" not in metrics:
            return control  # the base model's evaluation, or the keep set's (nested in the test set's)
        if self._epoch_ends:
            self.eval_s = self.clock() - self._epoch_ends[-1]  # evaluation (and saving the best) of this epoch
            self._eval_in_gap = self.eval_s
        self._maybe_replan(state, control, lr_scheduler)
        if not self.patience:
            return control
        wer = float(metrics["eval_wer"])
        if self._best is None or wer < self._best - 1e-9:
            self._best, self._since_best = wer, 0
            return control
        self._since_best += 1
        if self._since_best >= self.patience:
            control.should_training_stop = True
            self.stop_reason = (f"early stop: no better test WER in {self.patience} evaluation(s) "
                                f"(best {100 * self._best:.1f}%)")
            self.log(self.stop_reason, "info")
        return control

    def on_train_end(self, args, state, control, **kwargs):
        if self.stop_reason is None:
            self.stop_reason = f"completed {float(state.epoch or 0):.0f} epoch(s)"

    # -- planning ----------------------------------------------------------------------------------
    def _maybe_replan(self, state, control, lr_scheduler) -> None:
        if self.budget_s > 0 and self.planned_epochs is not None and not control.should_training_stop:
            self._replan(state, lr_scheduler)
            if state.global_step >= self.planned_epochs * self.steps_per_epoch:  # no further epoch fits
                control.should_training_stop = True
                self.stop_reason = f"time budget: {self.planned_epochs} epoch(s) fit in {format_duration(self.budget_s)}"

    def _fit(self, state) -> int:
        """Epochs in all that fit in what is left, at the epoch time measured so far."""
        done = math.floor(float(state.epoch or 0) + 1e-6)
        in_epoch = state.global_step - done * self.steps_per_epoch
        epoch_s = self.epoch_seconds()
        # the epoch under way still has to finish (its steps and its evaluation)
        finishing = (self.steps_per_epoch - in_epoch) / self.steps_per_epoch * epoch_s if in_epoch else 0.0
        return plan_epochs(self.left() - finishing, epoch_s, done + (1 if in_epoch else 0), self.max_epochs)

    def _replan(self, state, lr_scheduler, first: bool = False) -> None:
        plan = self._fit(state)
        epoch_s = self.epoch_seconds()
        if plan == self.planned_epochs:
            return
        previous, self.planned_epochs = self.planned_epochs, plan
        refit_schedule(lr_scheduler, plan * self.steps_per_epoch, self.warmup)
        # the Trainer's state says the plan too, not the cap (progress lines take theirs from `outlook`)
        state.max_steps = plan * self.steps_per_epoch
        if first:
            self.log(f"time budget {format_duration(self.budget_s)}: {format_duration(self.elapsed())} used so far, "
                     f"about {format_duration(epoch_s)} per epoch with evaluation -> {plan} epoch(s) "
                     f"(at most {self.max_epochs}); the learning-rate schedule ends with the budget", "info")
        else:
            self.log(f"time budget: {plan} epoch(s) now fit (was {previous}; {format_duration(epoch_s)} per epoch, "
                     f"{format_duration(max(0.0, self.left()))} left)", "info")
