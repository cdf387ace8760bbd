"""Bridges the HF Trainer's callback hooks to whisper-tui events and controls.

Pause blocks the training thread between optimizer steps; cancel asks the Trainer to save a
full checkpoint (model, optimizer, scheduler, RNG) at the current step and stop, so a resumed
run continues exactly where it left off. A cancel during an evaluation stops it between batches
(`on_prediction_step`) and is then handled the same way; the cut-short evaluation is not recorded.

The callbacks reach the run only through `TrainingRun`, its public face (`TrainingJob` is one):
tests/test_callbacks_interface.py checks that nothing here reads another object's private names.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from transformers import TrainerCallback

from whisper_tui.training.events import CheckpointSaved, EvalEvent, StepEvent
from whisper_tui.training.trainer import EvaluationCancelled

if TYPE_CHECKING:
    from whisper_tui.training.budget import Outlook
    from whisper_tui.training.run_control import RunControl
    from whisper_tui.training.run_folder import RunFolder
    from whisper_tui.training.scores import RunScores


class TrainingRun(Protocol):
    """What a Trainer callback may use of the run it reports on."""

    control: RunControl  # events, log, cancel and pause (run_control.py)
    folder: RunFolder  # metrics.jsonl, checkpoint marks, best/
    scores: RunScores  # base, best and latest evaluation figures
    evaluating_base: bool  # True while the model is evaluated before training
    probing: bool  # True while merge strengths are measured after training (not the run's evaluations)
    last_checkpoint: Path | None

    @property
    def has_keep_set(self) -> bool: ...

    def evaluate_keep(self) -> tuple[float, float, float | None] | None: ...

    def evaluate_missed(self, args, state) -> None: ...

    def budget_outlook(self, state) -> Outlook | None: ...

    def save_model(self, target: Path, *, reason: str, step: int) -> None: ...


class JobCallback(TrainerCallback):
    def __init__(self, run: TrainingRun):
        self.run = run
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
        self.run.evaluate_missed(args, state)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs:
            self.last_loss = float(logs["loss"])
            self.last_lr = float(logs.get("learning_rate", self.last_lr))
            if self.is_main:
                self.run.folder.append_metric({
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
        # Under a time budget the budget says how far the run goes, from the first step on (the epochs that
        # fit, not training.num_train_epochs) and the ETA never passes its end.
        outlook = self.run.budget_outlook(state)
        if outlook is not None:
            total, epochs, eta = outlook.total_steps, float(outlook.epochs), outlook.eta_s
        else:
            total, epochs = state.max_steps, float(state.num_train_epochs or 0)
            remaining = max(0, total - state.global_step)
            eta = remaining * self._samples_per_step / sps if sps > 0 else None
        if self.is_main:
            self.run.control.emit(StepEvent(state.global_step, total, float(state.epoch or 0), self.last_loss,
                                            self.last_lr, sps, eta, epochs))
        self.run.control.step = state.global_step
        if not self.run.control.wait_while_paused(state.global_step):  # a cancel: checkpoint this step and stop
            control.should_save = True
            control.should_training_stop = True
        return control

    # -- evaluation and checkpoints ----------------------------------------------------------
    def on_prediction_step(self, args, state, control, **kwargs):
        if self.run.control.cancel_requested:  # between evaluation batches (WhisperTrainer.evaluate)
            raise EvaluationCancelled()

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        metrics = metrics or {}
        if "eval_wer" not in metrics or self.run.probing:
            return
        wer = float(metrics["eval_wer"])
        cer = float(metrics.get("eval_cer", math.nan))
        loss = metrics.get("eval_loss")
        step = state.global_step
        run = self.run
        # The keep set (general speech) right after the test set, on the same weights; its own metrics
        # come back through this hook as keep_* and are ignored above. Every rank evaluates (DDP gathers).
        keep = run.evaluate_keep()
        if keep is None and run.has_keep_set and run.control.cancel_requested:
            return  # the keep set's evaluation was cut short: this evaluation is incomplete (redone on resume)
        keep_wer, keep_cer, keep_synthetic = keep if keep is not None else (None, None, None)
        scores = run.scores
        is_best = False
        within = True
        base = run.evaluating_base
        if base:
            scores.record_base(wer, keep_wer)
        else:
            is_best, within = scores.record(step, wer, keep_wer, loss)
        if not self.is_main:
            return
        record = {"type": "eval", "step": step, "epoch": round(float(state.epoch or 0), 4), "wer": wer, "cer": cer,
                  "eval_loss": loss, "time": time.time(), "base": base}
        if keep_wer is not None:
            record.update(keep_wer=keep_wer, keep_cer=keep_cer, keep_within=within)
        if keep_synthetic is not None:
            record["keep_synthetic_wer"] = keep_synthetic
        run.folder.append_metric(record)
        run.control.emit(EvalEvent(step, float(state.epoch or 0), wer, cer, loss, is_best, keep_wer, keep_cer,
                                   within, keep_synthetic))
        if not within:
            run.control.log(scores.over_limit_note(step, keep_wer, is_best), "warning")
        note = None if base else scores.saturation_note(wer, float(state.epoch or 0))
        if note:
            run.control.log(note, "warning")
            run.control.status(validation_note=note)
        if is_best:
            run.save_model(run.folder.best, reason="best", step=step)

    def on_save(self, args, state, control, **kwargs):
        if not self.is_main:
            return
        ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        cancelled = self.run.control.cancel_requested
        if cancelled:  # stop at this checkpoint, not one step later
            control.should_training_stop = True
        if ckpt.is_dir():
            self.run.folder.mark_checkpoint_complete(ckpt)
            self.run.last_checkpoint = ckpt
            self.run.control.emit(CheckpointSaved(ckpt, state.global_step, "cancel" if cancelled else "periodic"))


class ThreadTuningCallback(TrainerCallback):
    """Runs `threads.ThreadTuner` around each optimizer step and logs when the choice changes."""

    def __init__(self, log, tuner=None):
        from whisper_tui.training.threads import ThreadTuner

        self.log = log  # log(message): the run's log (RunControl.log)
        self.tuner = tuner or ThreadTuner()
        self._reported: int | None = None

    def on_step_begin(self, args, state, control, **kwargs):
        self.tuner.before()

    def on_step_end(self, args, state, control, **kwargs):
        self.tuner.after()
        if self.tuner.history and self.tuner.choice != self._reported:
            self._reported = self.tuner.choice
            threads, seconds = self.tuner.history[-1]
            self.log(f"CPU threads: {threads} (fastest of {self.tuner.candidates} at "
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
