"""A fine-tuning run as a background job with typed events and pause / resume / cancel.

The job owns one run folder (see docs/ENGINE_API.md). It never talks to a UI: listeners get
events from `events.py` on the training thread and must hand them to their own thread.
User-fixable failures (bad data, out of memory, disk full, busy folder) end the job with a
`RunFailed` carrying a readable reason and a hint; the process and the UI stay up.

`TrainingJob` composes the run's stages, one module each, in the order they run:
- `run_control.py`: the thread, pause / resume / cancel, state, events, run.json, the terminal event
- `data_prep.py`: the clips (load, split, keep set, auto window, only clips the model holds whole)
- `trainer_setup.py`: datasets, encoder / view / cross-attention caches, training arguments, the Trainer
- `scores.py`: base, best and latest evaluation figures (replayed from metrics.jsonl on resume)
- `saving.py`: final/, best/ and merged/
The Trainer's hooks (`callbacks.py`) see the job only through `callbacks.TrainingRun`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from whisper_tui.system.quiet import quiet_libraries
from whisper_tui.training.events import (CheckpointSaved, EvalFailed, LogEvent, RunCancelled, RunFinished, RunStarted,
                                         TrainingEvent)
from whisper_tui.training.merge_strength import SavedStrength
from whisper_tui.training.run_control import Listener, RunControl, is_main_process
from whisper_tui.training.run_folder import RunFolder, now_iso, resolve_resume
from whisper_tui.training.scores import RunScores


def new_run_dir(profile_name: str, root: Path | None = None) -> Path:
    from whisper_tui.config.locations import default_runs_dir

    root = Path(root or default_runs_dir())
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in (profile_name or "run"))
    path = root / f"{stamp}-{safe}"
    n = 2
    while path.exists():
        path = root / f"{stamp}-{safe}-{n}"
        n += 1
    return path


class TrainingJob:
    def __init__(self, profile, output_dir: str | Path | None = None, *, resume_from: str | Path | None = None,
                 listeners: Iterable[Listener] = (), evaluate_base: bool = True, device: str | None = None,
                 runs_root: Path | None = None):
        self.profile = profile
        self.evaluate_base = evaluate_base
        self.device = device
        self.resume_checkpoint: Path | None = None
        if resume_from is not None:
            self.folder, self.resume_checkpoint = resolve_resume(Path(resume_from))
        elif output_dir:
            self.folder = RunFolder(Path(output_dir).expanduser())
        else:
            self.folder = RunFolder(new_run_dir(profile.name, runs_root))
        self.control = RunControl(self.folder, listeners)
        if self.resume_checkpoint is not None:  # trained up to there: a cancel before the next step names it
            self.control.step = int(self.resume_checkpoint.name.rsplit("-", 1)[-1])
        # the keep set (general speech, keep_set.py) and the best-checkpoint rule that guards it (best_rule.py)
        self.scores = RunScores(float(profile.training.keep_tolerance))
        self.last_checkpoint: Path | None = None
        self.evaluating_base = False  # True while the model is evaluated before training
        self.final_evaluation = False  # True while final/ is evaluated after training
        self.evaluation_failures = 0  # evaluations that raised (evaluation_failed); the run went on each time
        self.probing = False  # True while merge strengths are measured: those evaluations are not the run's
        self.merge_choice = None  # merge_strength.StrengthChoice once chosen
        self.replay_clips = 0  # everyday clips data.replay_share mixed into training (data_prep.DataPrep.replay)
        self.keep_clips: list = []
        self.setup = None  # trainer_setup.TrainerSetup of this run, once the model is loaded
        self.trainer = None  # the Seq2SeqTrainer of this run (evaluate_keep)
        self._model = None
        self._processor = None
        self.saved_strength = SavedStrength(None, 1.0)  # the fixed merge strength, once the model is loaded
        self._started = time.time()  # when run() began: the time budget counts from here
        self._resume_checked = False

    # -- public controls ---------------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        return self.folder.path

    @property
    def state(self) -> str:
        return self.control.state

    @property
    def result(self) -> TrainingEvent | None:
        return self.control.result

    @property
    def is_active(self) -> bool:
        return self.control.is_active

    def add_listener(self, listener: Listener) -> None:
        self.control.listeners.append(listener)

    def start(self) -> None:
        self.control.start(self.run)

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def cancel(self) -> None:
        self.control.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        return self.control.wait(timeout)

    def run(self) -> TrainingEvent:
        """Run to the end in the calling thread; returns the terminal event."""
        self._started = time.time()
        return self.control.run(self._run, resuming=self.resume_checkpoint is not None, on_cancel=self._cancelled)

    def _cancelled(self, acquired: bool) -> RunCancelled:
        """A cancel before training started or during an evaluation: run.json says so and names the checkpoint
        a resume would continue from (the one this run resumed from, when it saved none)."""
        control = self.control
        control.set_state("cancelled")
        ckpt = self.last_checkpoint or self.resume_checkpoint
        control.log(f"cancelled at step {control.step}; checkpoint: {ckpt or 'none (no step was trained)'}")
        if acquired:
            try:
                control.status(status="cancelled", finished=now_iso(), duration_s=round(time.time() - self._started, 1),
                               best_wer=self.scores.best_wer, last_checkpoint=str(ckpt) if ckpt else None,
                               best_keep_wer=self.scores.best_keep_wer)
            except OSError as exc:  # disk full while cancelling: the cancel still ends the run
                control.emit(LogEvent(f"could not update {self.folder.status_file}: {exc}", "error"))
        return RunCancelled(ckpt, control.step)

    # -- the run -----------------------------------------------------------------------------
    def _run(self) -> TrainingEvent:
        from whisper_tui.config.profile import save_profile
        from whisper_tui.training.data_prep import DataPrep

        profile = self.profile
        folder = self.folder
        control = self.control
        log = control.log
        resumed = self.resume_checkpoint is not None
        if is_main_process():
            self._check_model_folders()
            if not resumed:
                save_profile(profile, folder.path / "profile.toml")
            control.status(status="running", started=now_iso(), profile=profile.name,
                           strategy=profile.finetuning.strategy, model=profile.model.name, finished=None, reason=None,
                           evaluation_failed=None)
        log(f"run folder: {folder.path}")
        if resumed:
            log(f"resuming from {self.resume_checkpoint}")
            self._restore_progress()
        for bad in folder.incomplete_checkpoints():
            log(f"ignoring incomplete checkpoint {bad.name} (the run was interrupted while saving it)", "warning")

        data = DataPrep(profile, log)
        train_clips, test_clips = data.load()
        replay = data.replay(train_clips)
        self.replay_clips = len(replay)
        train_clips = train_clips + replay
        self.keep_clips = data.keep_set() if test_clips else []
        control.check_cancel()

        import torch

        quiet_libraries()
        from whisper_tui.training.model_setup import build_trainable_model, choose_device, choose_precision, count_parameters

        device = self.device or choose_device()
        from whisper_tui.training.estimate import memory_estimate_line

        log(memory_estimate_line(profile, device))  # the figure and words of the Train setup screen
        precision = choose_precision(profile, device)
        if precision.note:
            log(precision.note)
        lr, lr_note = profile.effective_learning_rate()
        if lr_note:
            log(lr_note, "warning")
        if profile.finetuning.strategy == "qlora":
            from whisper_tui.errors import ProfileError
            from whisper_tui.config.profile import check_strategy_available

            problem = check_strategy_available("qlora")
            if problem:
                raise ProfileError(f"finetuning.strategy = qlora cannot run here: {problem}",
                                   "choose lora (same adapters, unquantised base)", where="finetuning.strategy")
        torch.manual_seed(profile.training.seed)
        log(f"loading model {profile.model.name} for strategy {profile.finetuning.strategy} on {device}")
        profile = data.auto_window(profile, train_clips + test_clips)
        model, processor, k_frozen = build_trainable_model(profile, device, precision, log=log)
        self._model, self._processor = model, processor
        train_clips, test_clips = data.clips_that_fit(train_clips, test_clips, processor, model)
        self.keep_clips = data.keep_clips_that_fit(self.keep_clips, processor, self.scores.keep_tolerance)
        trainable, total = count_parameters(model)
        log(f"trainable parameters: {trainable:,} of {total:,} ({100 * trainable / max(total, 1):.2f}%)")
        control.check_cancel()

        trainer = self._build_trainer(model, processor, train_clips, test_clips, k_frozen, lr, precision, device,
                                      data.durations)
        eval_ds = trainer.eval_dataset
        if self.setup.budget is not None and eval_ds is not None and self._probes_merge_strength():
            from whisper_tui.training.merge_strength import STRENGTHS

            self.setup.budget.after_evals = len(STRENGTHS)  # measured after training, within the budget
        control.emit(RunStarted(folder.path, self._total_steps(trainer), float(profile.training.num_train_epochs),
                                len(train_clips), len(test_clips), profile.finetuning.strategy, trainable, total,
                                device, precision.name, self.resume_checkpoint,
                                float(profile.training.budget_s)))
        control.set_state("running")

        if eval_ds is not None and self.evaluate_base and not resumed:
            self._evaluate_base(trainer, len(test_clips))
        elif self.has_keep_set and self.evaluate_base and resumed and self.scores.base_keep_wer is None:
            self._evaluate_base_keep()

        control.check_cancel()  # a cancel during the resume-time evaluations: stop before any step
        trainer.train(resume_from_checkpoint=str(self.resume_checkpoint) if resumed else None)
        budget = self.setup.budget
        stopped = budget.stop_reason if budget is not None else None
        if stopped and not control.cancel_requested:
            log(f"stopped: {stopped}")
            control.status(stopped=stopped)
        control.check_cancel()  # training cut short by a cancel: the run ends cancelled on its checkpoint
        # Training is done: from here on nothing (an evaluation that fails, a cancel) costs the trained model.
        self._choose_merge_strength()
        self.save_model(folder.final, reason="final", step=control.step)
        final_wer = self._final_evaluation() if eval_ds is not None and profile.training.eval_strategy == "no" \
            else None
        if profile.output.merge_lora and profile.finetuning.strategy in ("lora", "qlora"):
            self._save_merged(folder.path / "merged")
        return self._finished(len(train_clips), len(test_clips), final_wer, stopped)

    def _final_evaluation(self) -> float | None:
        """The test WER of the saved final/ (runs that did not evaluate during training); None when it failed
        (`evaluation_failed` said why) or a cancel skipped it: final/ is already on disk either way."""
        self.final_evaluation = True
        try:
            wer = self.trainer.evaluate().get("eval_wer")
        finally:
            self.final_evaluation = False
        if wer is None and self.control.cancel_requested:
            self.control.log("cancel after training: the final evaluation was skipped; the trained model is in "
                             f"{self.folder.final}", "warning")
        return float(wer) if wer is not None else None

    def _build_trainer(self, model, processor, train_clips, test_clips, k_frozen, lr, precision, device,
                       durations=None):
        from whisper_tui.training.callbacks import JobCallback
        from whisper_tui.training.trainer_setup import TrainerSetup

        setup = self.setup = TrainerSetup(self.profile, self.control, started=self._started, durations=durations)
        train_ds, eval_ds, cached_top_from = setup.datasets(model, processor, train_clips, test_clips,
                                                            self.keep_clips, k_frozen, device)
        self.control.check_cancel()
        self.trainer = setup.trainer(model, processor, train_ds, eval_ds, lr, precision, device, cached_top_from,
                                     JobCallback(self))
        self.saved_strength = SavedStrength(model, self._fixed_strength() or 1.0)
        self.trainer.eval_scope = self.saved_strength.applied  # evaluations measure the model as it is saved
        self.trainer.on_evaluation_failed = self.evaluation_failed
        return self.trainer

    def evaluation_failed(self, exc: Exception, prefix: str = "eval") -> None:
        """An evaluation raised (WhisperTrainer.evaluate caught it): say so in the log, run.json and an event,
        and go on. It has no figures, so best/ and the budget skip it; the run's training is never lost to it."""
        import traceback

        control = self.control
        self.evaluation_failures += 1
        step = control.step
        what = "general speech (keep set) of " if prefix == "keep" else ""
        if self.evaluating_base:
            during, after = f"{what}the model before training", "training goes on without a base WER"
        elif self.probing:
            during, after = f"{what}a merge-strength probe", "the trained model is kept at full strength"
        elif self.final_evaluation:
            during, after = f"{what}the final evaluation", f"the trained model is saved in {self.folder.final}"
        else:
            during, after = f"{what}the evaluation at step {step}", "training goes on"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        reason = f"{type(exc).__name__}: {first}"[:300] if first else type(exc).__name__
        if is_main_process():
            try:
                self.folder.log("".join(traceback.format_exception(exc)), "error")
                control.status(evaluation_failed={"reason": reason, "during": during, "step": step,
                                                  "count": self.evaluation_failures})
            except OSError:
                pass  # a full disk: the log line and the event below still say it
        control.log(f"evaluation failed: {reason} ({during}); {after}; details in {self.folder.log_file}", "error")
        control.emit(EvalFailed(step, reason, during, self.evaluation_failures))

    def _total_steps(self, trainer) -> int:
        from whisper_tui.training.trainer_setup import estimate_steps

        return trainer.state.max_steps or estimate_steps(self.profile.training, len(trainer.train_dataset))

    def _evaluate_base(self, trainer, n_test: int) -> None:
        """The model before training, on the test set (and the keep set): the reference every evaluation is
        compared with."""
        control = self.control
        control.log(f"evaluating the model before training on {n_test} test clips")
        self.evaluating_base = True
        eval_started = time.time()
        try:
            trainer.evaluate()
        finally:
            self.evaluating_base = False
        control.check_cancel()  # a cancel stops the evaluation between batches (WhisperTrainer.evaluate)
        scores = self.scores
        if scores.base_wer is None:  # it failed (evaluation_failed said why)
            return
        if self.setup.budget is not None:  # one evaluation's cost, for planning epochs within the budget
            self.setup.budget.eval_s = time.time() - eval_started
        control.status(base_wer=scores.base_wer, base_keep_wer=scores.base_keep_wer)
        control.log(f"WER before training: {scores.base_wer:.3f}"
                    + (f"; general speech (keep set) {scores.base_keep_wer:.3f}" if scores.base_keep_wer is not None
                       else ""))

    def _finished(self, n_train: int, n_test: int, final_wer: float | None, stopped: str | None) -> RunFinished:
        """The run's summary: run.json, the log and the RunFinished event."""
        folder, control, scores = self.folder, self.control, self.scores
        duration = time.time() - self._started
        best_dir = folder.best if folder.best.exists() else None
        if final_wer is None:  # evaluated during training: the last step's evaluation is the final model's
            final_wer = scores.wer_at(control.step)
        final_keep_wer = scores.keep_wer_at(control.step)
        keep = scores.keep_metrics(final_keep_wer)
        bad = self.setup.bad
        bad_clips = sorted(Path(p).name for p in bad.failed) if bad is not None else []
        metrics = {"base_wer": scores.base_wer, "best_wer": scores.best_wer, "best_step": scores.best_step,
                   "final_wer": final_wer, "train_clips": n_train, "test_clips": n_test,
                   "steps": control.step, "keep_clips": len(self.keep_clips), "stopped": stopped,
                   "bad_clips": bad_clips, "evaluation_failures": self.evaluation_failures, **keep}
        if self.merge_choice is not None:
            metrics.update(merge_strength=self.merge_choice.strength, merge_strength_why=self.merge_choice.why)
        control.status(status="finished", finished=now_iso(), duration_s=round(duration, 1), best_wer=scores.best_wer,
                       base_wer=scores.base_wer, final_wer=final_wer, base_keep_wer=scores.base_keep_wer,
                       best_keep_wer=scores.best_keep_wer, final_keep_wer=final_keep_wer, bad_clips=bad_clips)
        if bad_clips:
            control.log(bad.describe(), "warning")
        control.set_state("finished")
        control.log(f"finished in {duration:.0f}s; final model: {folder.final}"
                    + (f"; best WER {scores.best_wer:.3f} at step {scores.best_step}" if scores.best_wer is not None
                       else ""))
        if keep["keep_summary"]:
            control.log(keep["keep_summary"], "warning" if keep["keep_over"] else "info")
        metrics["forgetting_control"] = self._forgetting_line(final_wer, final_keep_wer)
        control.log(metrics["forgetting_control"])
        return RunFinished(folder.path, folder.final, best_dir, scores.best_wer, duration, metrics)

    def _forgetting_line(self, final_wer: float | None, final_keep_wer: float | None) -> str:
        from whisper_tui.training.forgetting import forgetting_control_line

        scores, choice = self.scores, self.merge_choice
        return forgetting_control_line(
            replay_clips=self.replay_clips, replay_share=float(self.profile.data.replay_share),
            strength=choice.strength if choice is not None else None, chosen=bool(choice and choice.scores),
            wer=final_wer, keep_wer=final_keep_wer, base_keep_wer=scores.base_keep_wer)

    def _check_model_folders(self) -> None:
        """Refuse now, not after hours of training, to replace a final/, best/ or merged/ that whisper-tui
        did not write (an --output folder that already held the user's own files)."""
        from whisper_tui.storage.atomic import check_replaceable

        for folder in (self.folder.final, self.folder.best, self.folder.path / "merged"):
            check_replaceable(folder)

    def _restore_progress(self) -> None:
        """Best-so-far and base WER (domain and keep set) come back from metrics.jsonl so 'best' keeps its
        meaning: the evaluations are replayed through the same best-checkpoint rule (scores.py)."""
        from whisper_tui.training.runs import read_metrics_report

        report = read_metrics_report(self.folder.path)  # never raises on content: bad lines are listed
        if report.warning:
            self.control.log(f"{report.warning}; resuming with the rest", "warning")
        self.scores.restore(report.records)

    # -- evaluation (callbacks.TrainingRun) ----------------------------------------------------
    @property
    def has_keep_set(self) -> bool:
        return self.setup is not None and self.setup.keep_ds is not None

    def evaluate_missed(self, args, state) -> None:
        """At the start of a resumed run, evaluate the checkpoint's step when it is an evaluation point with no
        evaluation recorded: a cancel cut it short. The Trainer would not evaluate that step again, so
        metrics.jsonl and best/ would miss it. (Under a time budget evaluations are thinned by time,
        so there is no fixed point to restore.) Checked once."""
        if self.resume_checkpoint is None or self._resume_checked or self.setup is None \
                or self.setup.budget is not None:
            return
        self._resume_checked = True
        strategy = args.eval_strategy.value  # TrainingArguments makes it an IntervalStrategy
        step = state.global_step
        if strategy == "no" or step <= 0 or step in self.scores.evaluated_steps or self.trainer is None \
                or self.trainer.eval_dataset is None:
            return
        if strategy == "epoch":
            due = abs(float(state.epoch or 0) - round(float(state.epoch or 0))) < 1e-6
        else:
            due = bool(args.eval_steps) and step % int(args.eval_steps) == 0
        if due:
            self.control.log(f"evaluating step {step} first: the cancel that ended the last session cut its "
                             "evaluation short")
            self.trainer.evaluate()
            # Cut short again: stop before any step. The Trainer would train one and checkpoint that, and the
            # evaluation of `step` would be lost for good; raised out of trainer.train, the run ends cancelled
            # on the checkpoint it resumed from, which a resume evaluates first again.
            self.control.check_cancel()

    def budget_outlook(self, state):
        """Under a time budget: the epochs that fit and the time to go (budget.Outlook) for progress; else None."""
        budget = self.setup.budget if self.setup is not None else None
        return budget.outlook(state) if budget is not None else None

    def evaluate_keep(self) -> tuple[float, float, float | None] | None:
        """(WER, CER, eSpeak WER) of the model as it is now on the keep set; None without one. WER and CER are
        the recorded speech's (keep_set.py); the eSpeak sentences' WER is the second line (None without them).
        Runs on every rank."""
        if not self.has_keep_set or self.trainer is None:
            return None
        metrics = self.trainer.evaluate(eval_dataset=self.setup.keep_ds, metric_key_prefix="keep")
        wer = metrics.get("keep_wer_real", metrics.get("keep_wer"))
        if wer is None:
            return None
        cer = metrics.get("keep_cer_real", metrics.get("keep_cer", float("nan")))
        synthetic = metrics.get("keep_wer_synthetic")
        return float(wer), float(cer), (float(synthetic) if synthetic is not None else None)

    def _probes_merge_strength(self) -> bool:
        from whisper_tui.training.merge_strength import supports

        return self.profile.finetuning.choose_merge_strength and supports(self.profile.finetuning.strategy)

    def _choose_merge_strength(self) -> None:
        """After training (merge_strength.py): finetuning.merge_strength scales the LoRA change to it;
        finetuning.choose_merge_strength measures STRENGTHS on the test split and the keep set and keeps the one
        `choose` picks. The chosen model is offered to the best-checkpoint rule as one more evaluation, so best/
        never keeps a model that forgets more than the saved final/ without being better on validation."""
        from whisper_tui.training import merge_strength as ms

        if self._model is None or not (delta := ms.LoraDelta(self._model)):
            return
        control, scores = self.control, self.scores
        fixed = self._fixed_strength()
        if fixed is not None:
            self.saved_strength.make_permanent()
            self.merge_choice = ms.StrengthChoice(fixed, (), f"merge strength {fixed:g} (finetuning.merge_strength; "
                                                  "every evaluation, best/ and the figures reported are of the model at it)")
            control.log(self.merge_choice.why)
            control.status(merge_strength=fixed)
            return
        if not self._probes_merge_strength() or self.trainer is None or self.trainer.eval_dataset is None:
            return
        measured = []
        last = scores.last_eval
        for strength in (1.0, *ms.STRENGTHS):
            if strength == 1.0 and last is not None and last[0] == control.step:
                measured.append(ms.StrengthScore(1.0, last[1], last[2]))
                continue
            score = self._probe_strength(delta, strength)
            if score is None:  # a cancel, or the evaluation failed (said already): keep the trained model as it is
                delta.set(1.0)
                if control.cancel_requested:
                    control.log("merge strength: stopped by the cancel; the trained model is kept at full strength",
                                "warning")
                return
            measured.append(score)
        choice = self.merge_choice = ms.choose(measured, scores.base_keep_wer, scores.keep_tolerance)
        delta.set(choice.strength)
        control.log(choice.why)
        chosen = next(s for s in measured if s.strength == choice.strength)
        if is_main_process():
            self.folder.append_metric({"type": "merge_strength", "step": control.step, "strength": choice.strength,
                                       "why": choice.why, "time": time.time(),
                                       "scores": [vars(s) for s in measured]})
        control.status(merge_strength=choice.strength, merge_strength_why=choice.why)
        scores.last_eval = (control.step, chosen.wer, chosen.keep_wer)  # the final model's figures from here on
        if choice.strength < 1.0 and scores.tracker.offer(control.step, chosen.wer, chosen.keep_wer):
            self.save_model(self.folder.best, reason="best", step=control.step)
            control.log(f"best model: the final model at merge strength {choice.strength:g} -> best/")

    def _probe_strength(self, delta, strength: float):
        """Validation and keep WER at one merge strength, off the run's record; None when a cancel cut it."""
        from whisper_tui.training.merge_strength import StrengthScore

        delta.set(strength)
        self.probing = True
        try:
            metrics = self.trainer.evaluate()
            keep = self.evaluate_keep() if "eval_wer" in metrics and not self.control.cancel_requested else None
        finally:
            self.probing = False
        if self.control.cancel_requested or "eval_wer" not in metrics:
            return None
        self.control.log(f"merge strength {strength:g}: validation WER {metrics['eval_wer']:.3f}"
                         + (f", general speech {keep[0]:.3f}" if keep else ""))
        return StrengthScore(strength, float(metrics["eval_wer"]), keep[0] if keep else None,
                             metrics.get("eval_loss"))

    def _evaluate_base_keep(self) -> None:
        """On resume of a run whose metrics.jsonl has no base keep WER: the model is still the base model here
        (the checkpoint's weights load when training starts), so measure it now."""
        control = self.control
        control.log(f"evaluating the base model on the keep set ({len(self.keep_clips)} clips of general speech)")
        result = self.evaluate_keep()
        if result is None:
            return
        self.scores.base_keep_wer = result[0]
        if is_main_process():
            self.folder.append_metric({"type": "keep_base", "step": 0, "keep_wer": result[0],
                                       "keep_cer": result[1], "time": time.time()})
        control.status(base_keep_wer=self.scores.base_keep_wer)
        control.log(f"general speech (keep set) before training: {self.scores.base_keep_wer:.3f}")
        control.check_cancel()

    # -- saving ------------------------------------------------------------------------------
    def save_model(self, target: Path, *, reason: str, step: int) -> None:
        """The model as it is now into `target` (final/, best/), then CheckpointSaved; rank 0 only."""
        if not is_main_process() or self._model is None:
            return
        from whisper_tui.training.saving import write_model_folder

        with self.saved_strength.applied():  # best/ during training: at the strength final/ will have
            write_model_folder(target, self._model, self._processor, self._model_info(step))
        self.control.emit(CheckpointSaved(target, step, reason))

    def _fixed_strength(self) -> float | None:
        """finetuning.merge_strength when it scales what is saved (below 1, a LoRA strategy, not chosen), else None."""
        from whisper_tui.training.merge_strength import supports

        finetuning = self.profile.finetuning
        strength = float(finetuning.merge_strength)
        if finetuning.choose_merge_strength or strength == 1.0 or not supports(finetuning.strategy):
            return None
        return strength

    def _save_merged(self, target: Path) -> None:
        from whisper_tui.training.saving import write_merged_folder

        final = self.folder.final
        write_merged_folder(final, target, self._model_info(self.control.step, merged_from=str(final)))
        self.control.log(f"merged LoRA into a full model: {target}")

    def _model_info(self, step: int, **extra) -> dict:
        """whisper_tui.json of a saved model: what it was trained from, how, and how far."""
        return {"base_model": self.profile.model.name, "strategy": self.profile.finetuning.strategy, **extra,
                "step": step, "best_wer": self.scores.best_wer, "base_wer": self.scores.base_wer,
                "run_dir": str(self.folder.path)}
