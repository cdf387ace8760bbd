"""Bridges the HF Trainer's callback hooks to whisper-tui events and controls.

Pause blocks the training thread between optimizer steps; cancel asks the Trainer to save a
full checkpoint (model, optimizer, scheduler, RNG) at the current step and stop, so a resumed
run continues exactly where it left off. A cancel during an evaluation stops it between batches
(`on_prediction_step`) and is then handled the same way; the cut-short evaluation is not recorded.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from transformers import TrainerCallback

from whisper_tui.training.events import CheckpointSaved, EvalEvent, Paused, Resumed, StepEvent
from whisper_tui.training.trainer import EvaluationCancelled


class JobCallback(TrainerCallback):
    def __init__(self, job):
        self.job = job
        self.last_loss = math.nan
        self.last_lr = 0.0
        self._t_last = None
        self._recent: list[float] = []
        self._samples_per_step = 1
        self.is_main = True

    # -- progress ----------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        self.is_main = state.is_world_process_zero
        self._samples_per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * max(
            1, args.world_size)
        # a run resumed from a checkpoint whose evaluation a cancel cut short: evaluate that step first
        if hasattr(self.job, "missed_evaluation") and self.job.missed_evaluation(args, state):
            self.job._hf_trainer.evaluate()

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs:
            self.last_loss = float(logs["loss"])
            self.last_lr = float(logs.get("learning_rate", self.last_lr))
            if self.is_main:
                self.job.folder.append_metric({
                    "type": "step", "step": state.global_step, "epoch": round(float(state.epoch or 0), 4),
                    "loss": self.last_loss, "learning_rate": self.last_lr,
                    "samples_per_second": self.samples_per_second(), "time": time.time()})

    def samples_per_second(self) -> float:
        if not self._recent:
            return 0.0
        window = self._recent[-20:]
        return self._samples_per_step * len(window) / max(sum(window), 1e-9)

    def on_step_begin(self, args, state, control, **kwargs):
        self._t_last = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        # Step time only (begin -> end): evaluation and checkpoint saves between steps are not
        # training throughput and would make samples/s and the ETA jump after every epoch.
        now = time.perf_counter()
        if self._t_last is not None:
            self._recent.append(now - self._t_last)
        self._t_last = None
        sps = self.samples_per_second()
        remaining = max(0, state.max_steps - state.global_step)
        eta = remaining * self._samples_per_step / sps if sps > 0 else None
        if self.is_main:
            self.job._emit(StepEvent(state.global_step, state.max_steps, float(state.epoch or 0), self.last_loss,
                                     self.last_lr, sps, eta))
        self.job._current_step = state.global_step
        if self.job._cancel.is_set():
            control.should_save = True
            control.should_training_stop = True
            return control
        if self.job._pause.is_set():
            self.job._set_state("paused")
            self.job._emit(Paused(state.global_step))
            while self.job._pause.is_set() and not self.job._cancel.is_set():
                self.job._pause_wakeup.wait(0.2)
            if self.job._cancel.is_set():
                control.should_save = True
                control.should_training_stop = True
                return control
            self.job._set_state("running")
            self.job._emit(Resumed(state.global_step))
        return control

    # -- evaluation and checkpoints ----------------------------------------------------------
    def on_prediction_step(self, args, state, control, **kwargs):
        if self.job._cancel.is_set():  # between evaluation batches (WhisperTrainer.evaluate)
            raise EvaluationCancelled()

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        metrics = metrics or {}
        if "eval_wer" not in metrics:
            return
        wer = float(metrics["eval_wer"])
        cer = float(metrics.get("eval_cer", math.nan))
        loss = metrics.get("eval_loss")
        step = state.global_step
        job = self.job
        # The keep set (general speech) right after the test set, on the same weights; its own metrics
        # come back through this hook as keep_* and are ignored above. Every rank evaluates (DDP gathers).
        keep = job.evaluate_keep() if hasattr(job, "evaluate_keep") else None
        if keep is None and getattr(job, "_keep_ds", None) is not None and job._cancel.is_set():
            return  # the keep set's evaluation was cut short: this evaluation is incomplete (redone on resume)
        keep_wer, keep_cer = keep if keep is not None else (None, None)
        tracker = getattr(job, "best_tracker", None)
        is_best = False
        within = True
        base = job._evaluating_base
        if base:
            job.base_wer = wer
            if keep_wer is not None:
                job.base_keep_wer = keep_wer
                if tracker is not None:
                    tracker.base_keep_wer = keep_wer
        elif tracker is not None:
            within = tracker.is_within(keep_wer)
            is_best = tracker.offer(step, wer, keep_wer)
            job._sync_best()
            job.last_eval = (step, wer, keep_wer)
        else:
            is_best = job.best_wer is None or wer < job.best_wer
            if is_best:
                job.best_wer = wer
                job.best_step = step
        if not self.is_main:
            return
        record = {"type": "eval", "step": step, "epoch": round(float(state.epoch or 0), 4), "wer": wer, "cer": cer,
                  "eval_loss": loss, "time": time.time(), "base": base}
        if keep_wer is not None:
            record.update(keep_wer=keep_wer, keep_cer=keep_cer, keep_within=within)
        job.folder.append_metric(record)
        job._emit(EvalEvent(step, float(state.epoch or 0), wer, cer, loss, is_best, keep_wer, keep_cer, within))
        if not within and tracker is not None:
            limit = 100 * (tracker.base_keep_wer or 0) + tracker.tolerance_points
            note = (f"eval step {step}: general speech WER {100 * keep_wer:.1f}% is over the limit "
                    f"({limit:.1f}%: base {100 * tracker.base_keep_wer:.1f}% + {tracker.tolerance_points:g} points"
                    f" of training.keep_tolerance)")
            if is_best:
                note += "; best/ keeps it for now, as no evaluation is within the tolerance yet"
            else:
                note += "; it cannot be the best checkpoint"
            job.log(note, "warning")
        if is_best:
            job._save_model(job.folder.best, reason="best", step=step)

    def on_save(self, args, state, control, **kwargs):
        if not self.is_main:
            return
        ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if self.job._cancel.is_set():  # stop at this checkpoint, not one step later
            control.should_training_stop = True
        if ckpt.is_dir():
            self.job.folder.mark_checkpoint_complete(ckpt)
            self.job.last_checkpoint = ckpt
            reason = "cancel" if self.job._cancel.is_set() else "periodic"
            self.job._emit(CheckpointSaved(ckpt, state.global_step, reason))


class ThreadTuningCallback(TrainerCallback):
    """Runs `threads.ThreadTuner` around each optimizer step and logs when the choice changes."""

    def __init__(self, job, tuner=None):
        from whisper_tui.training.threads import ThreadTuner

        self.job = job
        self.tuner = tuner or ThreadTuner()
        self._reported: int | None = None

    def on_step_begin(self, args, state, control, **kwargs):
        self.tuner.before()

    def on_step_end(self, args, state, control, **kwargs):
        self.tuner.after()
        if self.tuner.history and self.tuner.choice != self._reported:
            self._reported = self.tuner.choice
            threads, seconds = self.tuner.history[-1]
            self.job.log(f"CPU threads: {threads} (fastest of {self.tuner.candidates} at "
                         f"{seconds:.2f} s per step, checked again as training goes on)")


class DatasetEpochCallback(TrainerCallback):
    """Tells the training dataset which epoch starts, so its per-epoch randomness (SpecAugment masks)
    depends on the epoch, not on how many examples were fetched before.

    The Trainer does not pass the epoch number to callbacks; `state.epoch` holds the progress so far
    (2.0 after two epochs, 2.5 when resumed halfway through the third), so its floor is the epoch
    about to run, in a fresh run and in a resumed one alike.
    """

    def __init__(self, dataset):
        self.dataset = dataset

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.dataset.set_epoch(math.floor(float(state.epoch or 0) + 1e-6))
