"""A fine-tuning run as a background job with typed events and pause / resume / cancel.

The job owns one run folder (see docs/ENGINE_API.md). It never talks to a UI: listeners get
events from `events.py` on the training thread and must hand them to their own thread.
User-fixable failures (bad data, out of memory, disk full, busy folder) end the job with a
`RunFailed` carrying a readable reason and a hint; the process and the UI stay up.
"""

from __future__ import annotations

import errno
import json
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from whisper_tui.errors import WhisperTuiError
from whisper_tui.training.events import (CheckpointSaved, LogEvent, RunCancelled, RunFailed, RunFinished, RunStarted,
                     TrainingEvent)
from whisper_tui.system.quiet import quiet_libraries
from whisper_tui.training.best_rule import BestTracker, keep_summary
from whisper_tui.training.run_folder import RunFolder, now_iso, resolve_resume

Listener = Callable[[TrainingEvent], None]

OOM_HINT = ("lower training.per_device_train_batch_size, turn on finetuning.gradient_checkpointing, "
            "or use the lora / qlora strategy")


class _Cancelled(Exception):
    pass


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
        self.listeners: list[Listener] = list(listeners)
        self.evaluate_base = evaluate_base
        self.device = device
        self.resume_checkpoint: Path | None = None
        if resume_from is not None:
            self.folder, self.resume_checkpoint = resolve_resume(Path(resume_from))
        elif output_dir:
            self.folder = RunFolder(Path(output_dir).expanduser())
        else:
            self.folder = RunFolder(new_run_dir(getattr(profile, "name", "run"), runs_root))
        self.state = "idle"
        self.result: TrainingEvent | None = None
        self.base_wer: float | None = None
        self.best_wer: float | None = None
        self.best_step: int | None = None
        self.last_checkpoint: Path | None = None
        # the keep set (general speech, keep_set.py) and the best-checkpoint rule that guards it (best_rule.py)
        self.base_keep_wer: float | None = None
        self.best_keep_wer: float | None = None
        self.keep_tolerance = float(getattr(getattr(profile, "training", None), "keep_tolerance", 2.0))
        self.best_tracker = BestTracker(self.keep_tolerance)
        self.last_eval: tuple[int, float, float | None] | None = None  # (step, WER, keep WER) of the latest eval
        self._keep_clips: list = []
        self._keep_ds = None
        self._hf_trainer = None  # the Seq2SeqTrainer of this run (evaluate_keep)
        self._current_step = 0
        self._evaluating_base = False
        self._pause = threading.Event()
        self._pause_wakeup = threading.Event()
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._model = None
        self._processor = None
        self._durations: dict = {}  # clip path -> seconds, from the dataset reports (_load_data)
        self._started = time.time()  # when run() began: the time budget counts from here
        self._budget = None  # budget.BudgetCallback when training.budget_s or early_stopping_patience is set
        self._fast_cross = None  # cross_kv.FastCrossAttention while the cross-attention cache is in use
        self._cleanups: list[Callable[[], None]] = []  # temporary files and patches, undone when the run ends
        self._bad = None  # speech_dataset.BadClips: clips that failed to decode during this run
        self._evaluated_steps: set = set()  # steps metrics.jsonl has an evaluation of (a resumed run)
        self._resume_checked = False

    # -- public controls ---------------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        return self.folder.path

    def add_listener(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("this job was already started")
        self._thread = threading.Thread(target=self.run, name="whisper-tui-training", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        self._pause.set()

    def resume(self) -> None:
        self._pause.clear()
        self._pause_wakeup.set()
        self._pause_wakeup.clear()

    def cancel(self) -> None:
        self._cancel.set()
        self._pause_wakeup.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def is_active(self) -> bool:
        return self.state in ("starting", "running", "paused", "cancelling")

    # -- internals ---------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        self.state = state

    def _emit(self, event: TrainingEvent) -> None:
        if not self._is_main() and not isinstance(event, (RunFinished, RunFailed, RunCancelled)):
            return  # under torchrun only rank 0 reports progress
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not kill training
                self.folder.log("listener failed:\n" + traceback.format_exc(), "error")

    def log(self, message: str, level: str = "info") -> None:
        if self._is_main():
            try:
                self.folder.log(message, level)
            except OSError:
                pass
        self._emit(LogEvent(message, level))

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise _Cancelled()

    def _cancel_point(self, _done: int = 0, _total: int = 0) -> None:
        """An `on_progress` hook for the cache builds: a cancel stops them within one batch."""
        self._check_cancel()

    def run(self) -> TrainingEvent:
        """Run to the end in the calling thread; returns the terminal event."""
        self._set_state("starting")
        started = time.time()
        acquired = False
        result: TrainingEvent = RunFailed("the run ended without a result", "see the log", "Internal")
        try:
            if self._is_main():  # under torchrun, rank 0 owns the folder; the other ranks only train
                warning = self.folder.acquire(resuming=self.resume_checkpoint is not None)
                acquired = True
            else:
                warning = None
            if warning:
                self.log(warning, "warning")
            result = self._run(started)
        except _Cancelled:
            result = self._cancelled(started, acquired)
        except WhisperTuiError as exc:
            result = self._fail(exc.message, exc.hint, type(exc).__name__, acquired)
        except MemoryError:
            result = self._fail("out of memory during training", OOM_HINT, "OutOfMemory", acquired)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                result = self._fail(f"disk full while writing {getattr(exc, 'filename', '') or self.run_dir}",
                                    "free some space; the previous checkpoint was kept", "DiskFull", acquired)
            else:
                result = self._unexpected(exc, acquired)
        except Exception as exc:
            if type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower():
                result = self._fail(f"out of memory during training ({str(exc).splitlines()[0][:120]})", OOM_HINT,
                                    "OutOfMemory", acquired)
            else:
                result = self._unexpected(exc, acquired)
        finally:
            try:
                self._run_cleanups()
                if acquired:
                    self.folder.release()
            finally:
                # whatever happened above, wait() must return: the app's quit waits on it
                self.result = result
                try:
                    self._emit(result)
                finally:
                    self._done.set()
        return result

    def _cancelled(self, started: float, acquired: bool) -> RunCancelled:
        """A cancel before training started or during an evaluation: run.json says so and names the checkpoint
        a resume would continue from (the one this run resumed from, when it saved none)."""
        self._set_state("cancelled")
        ckpt = self.last_checkpoint or self.resume_checkpoint
        self.log(f"cancelled at step {self._current_step}; checkpoint: {ckpt or 'none (no step was trained)'}")
        if acquired:
            try:
                self._status(status="cancelled", finished=now_iso(), duration_s=round(time.time() - started, 1),
                             best_wer=self.best_wer, last_checkpoint=str(ckpt) if ckpt else None,
                             best_keep_wer=self.best_keep_wer)
            except OSError as exc:  # disk full while cancelling: the cancel still ends the run
                self._emit(LogEvent(f"could not update {self.folder.status_file}: {exc}", "error"))
        return RunCancelled(ckpt, self._current_step)

    def _run_cleanups(self) -> None:
        while self._cleanups:
            try:
                self._cleanups.pop()()
            except Exception:  # cleaning up must never hide the run's own result
                self.folder.log("cleanup failed:\n" + traceback.format_exc(), "warning")

    def _unexpected(self, exc: Exception, acquired: bool) -> RunFailed:
        detail = traceback.format_exc()
        if acquired:
            try:
                self.folder.log(detail, "error")
            except OSError:
                pass
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return self._fail(f"{type(exc).__name__}: {first}"[:300], f"details are in {self.folder.log_file}",
                          type(exc).__name__, acquired)

    def _fail(self, reason: str, hint: str, kind: str, acquired: bool) -> RunFailed:
        self._set_state("failed")
        if acquired:
            try:
                self.folder.log(f"failed: {reason} ({hint})", "error")
                self._status(status="failed", finished=now_iso(), reason=reason)
            except OSError:
                pass
        return RunFailed(reason, hint, kind)

    def _status(self, **fields) -> None:
        if self._is_main():
            self.folder.update_status(**fields)

    @staticmethod
    def _is_main() -> bool:
        import os

        return os.environ.get("RANK", "0") == "0"

    # -- the run -----------------------------------------------------------------------------
    def _run(self, started: float) -> TrainingEvent:
        from whisper_tui.config.profile import save_profile

        profile = self.profile
        folder = self.folder
        resumed = self.resume_checkpoint is not None
        self._started = started
        if self._is_main():
            self._check_model_folders()
            if not resumed:
                save_profile(profile, folder.path / "profile.toml")
            self._status(status="running", started=now_iso(), profile=getattr(profile, "name", ""),
                         strategy=profile.finetuning.strategy, model=profile.model.name, finished=None, reason=None)
        self.log(f"run folder: {folder.path}")
        if resumed:
            self.log(f"resuming from {self.resume_checkpoint}")
            self._restore_progress()
        for bad in folder.incomplete_checkpoints():
            self.log(f"ignoring incomplete checkpoint {bad.name} (the run was interrupted while saving it)", "warning")

        train_clips, test_clips = self._load_data()
        self._keep_clips = self._load_keep_set() if test_clips else []
        self._check_cancel()

        import torch

        quiet_libraries()
        from whisper_tui.training.model_setup import build_trainable_model, choose_device, choose_precision, count_parameters

        device = self.device or choose_device()
        precision = choose_precision(profile, device)
        if precision.note:
            self.log(precision.note)
        lr, lr_note = profile.effective_learning_rate()
        if lr_note:
            self.log(lr_note, "warning")
        if profile.finetuning.strategy == "qlora":
            from whisper_tui.errors import ProfileError
            from whisper_tui.config.profile import check_strategy_available

            problem = check_strategy_available("qlora")
            if problem:
                raise ProfileError(f"finetuning.strategy = qlora cannot run here: {problem}",
                                   "choose lora (same adapters, unquantised base)", where="finetuning.strategy")
        torch.manual_seed(profile.training.seed)
        self.log(f"loading model {profile.model.name} for strategy {profile.finetuning.strategy} on {device}")
        profile = self._resolve_auto_window(profile, train_clips + test_clips)
        model, processor, k_frozen = build_trainable_model(profile, device, precision, log=self.log)
        self._model, self._processor = model, processor
        train_clips, test_clips = self._clips_that_fit(train_clips, test_clips, processor, model)
        self._keep_clips = self._keep_clips_that_fit(self._keep_clips, processor)
        trainable, total = count_parameters(model)
        self.log(f"trainable parameters: {trainable:,} of {total:,} ({100 * trainable / max(total, 1):.2f}%)")
        self._check_cancel()

        train_ds, eval_ds, cached_top_from = self._datasets(model, processor, train_clips, test_clips, k_frozen,
                                                            device)
        self._check_cancel()
        trainer = self._trainer(model, processor, train_ds, eval_ds, lr, precision, device, cached_top_from)
        self._hf_trainer = trainer
        total_steps = trainer.state.max_steps or self._estimate_steps(len(train_ds))
        self._emit(RunStarted(folder.path, total_steps, float(profile.training.num_train_epochs), len(train_clips),
                              len(test_clips), profile.finetuning.strategy, trainable, total, device,
                              precision.name, self.resume_checkpoint))
        self._set_state("running")

        if eval_ds is not None and self.evaluate_base and not resumed:
            self.log(f"evaluating the model before training on {len(test_clips)} test clips")
            self._evaluating_base = True
            eval_started = time.time()
            try:
                trainer.evaluate()
            finally:
                self._evaluating_base = False
            self._check_cancel()  # a cancel stops the evaluation between batches (WhisperTrainer.evaluate)
            if self._budget is not None:  # one evaluation's cost, for planning epochs within the budget
                self._budget.eval_s = time.time() - eval_started
            self._status(base_wer=self.base_wer, base_keep_wer=self.base_keep_wer)
            self.log(f"WER before training: {self.base_wer:.3f}"
                     + (f"; general speech (keep set) {self.base_keep_wer:.3f}" if self.base_keep_wer is not None
                        else ""))
        elif self._keep_ds is not None and self.evaluate_base and resumed and self.base_keep_wer is None:
            self._evaluate_base_keep()

        trainer.train(resume_from_checkpoint=str(self.resume_checkpoint) if resumed else None)
        stopped = self._budget.stop_reason if self._budget is not None else None
        if stopped and not self._cancel.is_set():
            self.log(f"stopped: {stopped}")
            self._status(stopped=stopped)
        if self._cancel.is_set():
            raise _Cancelled()

        final_wer = None
        if eval_ds is not None and profile.training.eval_strategy == "no":
            final_wer = float(trainer.evaluate().get("eval_wer", float("nan")))
            self._check_cancel()
        self._save_model(folder.final, reason="final", step=self._current_step)
        if profile.output.merge_lora and profile.finetuning.strategy in ("lora", "qlora"):
            self._save_merged(folder.path / "merged")
        duration = time.time() - started
        best_dir = folder.best if folder.best.exists() else None
        final_keep_wer = (self.last_eval[2] if self.last_eval is not None and self.last_eval[0] == self._current_step
                          else None)
        keep = self._keep_metrics(final_keep_wer)
        bad_clips = sorted(Path(p).name for p in self._bad.failed) if self._bad is not None else []
        metrics = {"base_wer": self.base_wer, "best_wer": self.best_wer, "best_step": self.best_step,
                   "final_wer": final_wer, "train_clips": len(train_clips), "test_clips": len(test_clips),
                   "steps": self._current_step, "keep_clips": len(self._keep_clips), "stopped": stopped,
                   "bad_clips": bad_clips, **keep}
        self._status(status="finished", finished=now_iso(), duration_s=round(duration, 1), best_wer=self.best_wer,
                     base_wer=self.base_wer, final_wer=final_wer, base_keep_wer=self.base_keep_wer,
                     best_keep_wer=self.best_keep_wer, final_keep_wer=final_keep_wer, bad_clips=bad_clips)
        if bad_clips:
            self.log(self._bad.describe(), "warning")
        self._set_state("finished")
        self.log(f"finished in {duration:.0f}s; final model: {folder.final}"
                 + (f"; best WER {self.best_wer:.3f} at step {self.best_step}" if self.best_wer is not None else ""))
        if keep["keep_summary"]:
            self.log(keep["keep_summary"], "warning" if keep["keep_over"] else "info")
        return RunFinished(folder.path, folder.final, best_dir, self.best_wer, duration, metrics)

    def _check_model_folders(self) -> None:
        """Refuse now, not after hours of training, to replace a final/, best/ or merged/ that whisper-tui
        did not write (an --output folder that already held the user's own files)."""
        from whisper_tui.storage.atomic import check_replaceable

        for folder in (self.folder.final, self.folder.best, self.folder.path / "merged"):
            check_replaceable(folder)

    def _restore_progress(self) -> None:
        """Best-so-far and base WER (domain and keep set) come back from metrics.jsonl so 'best' keeps its
        meaning: the evaluations are replayed through the same best-checkpoint rule (best_rule.py)."""
        from whisper_tui.training.runs import read_metrics_report

        report = read_metrics_report(self.folder.path)  # never raises on content: bad lines are listed
        if report.warning:
            self.log(f"{report.warning}; resuming with the rest", "warning")
        tracker = self.best_tracker
        for rec in report.records:
            if rec.get("type") == "keep_base":  # base keep WER measured on resume (_evaluate_base_keep)
                self.base_keep_wer = tracker.base_keep_wer = rec.get("keep_wer")
                continue
            if rec.get("type") != "eval" or not isinstance(rec.get("wer"), (int, float)):
                continue
            self._evaluated_steps.add(rec.get("step"))
            if rec.get("base"):
                self.base_wer = rec.get("wer")
                if rec.get("keep_wer") is not None:
                    self.base_keep_wer = tracker.base_keep_wer = rec.get("keep_wer")
            elif tracker.offer(rec.get("step", 0), rec["wer"], rec.get("keep_wer")):
                self._sync_best()

    def missed_evaluation(self, args, state) -> bool:
        """True once, at the start of a resumed run, when the checkpoint's step is an evaluation point with no
        evaluation recorded: a cancel cut it short. The Trainer would not evaluate that step again, so
        metrics.jsonl and best/ would miss it. (Under a time budget evaluations are thinned by time,
        so there is no fixed point to restore.)"""
        if self.resume_checkpoint is None or self._resume_checked or self._budget is not None:
            return False
        self._resume_checked = True
        strategy = str(getattr(args.eval_strategy, "value", args.eval_strategy))
        step = state.global_step
        if strategy == "no" or step <= 0 or step in self._evaluated_steps or self._hf_trainer is None \
                or self._hf_trainer.eval_dataset is None:
            return False
        if strategy == "epoch":
            due = abs(float(state.epoch or 0) - round(float(state.epoch or 0))) < 1e-6
        else:
            due = bool(args.eval_steps) and step % int(args.eval_steps) == 0
        if due:
            self.log(f"evaluating step {step} first: the cancel that ended the last session cut its evaluation short")
        return due

    def _sync_best(self) -> None:
        tracker = self.best_tracker
        self.best_wer, self.best_step, self.best_keep_wer = tracker.best_wer, tracker.best_step, tracker.best_keep_wer

    # -- the keep set (general speech) -------------------------------------------------------
    def _load_keep_set(self) -> list:
        """keep_set.keep_clips() for this profile; [] when data.keep_set is off or eSpeak cannot speak."""
        data = self.profile.data
        if not getattr(data, "keep_set", False):
            return []
        from whisper_tui.errors import AudioError
        from whisper_tui.data.keep_set import keep_clips

        keep_dir = getattr(data, "keep_dir", "") or None
        try:
            return keep_clips(keep_dir, log=lambda message: self.log(message, "warning"))
        except AudioError as exc:  # the everyday sentences need eSpeak: go on with keep_dir alone
            self.log(f"keep set: the everyday sentences cannot be synthesised ({exc.message}); "
                     "using jfk.flac" + (" and data.keep_dir" if keep_dir else ""), "warning")
            from whisper_tui.data.keep_set import jfk_clip, user_keep_clips

            return [jfk_clip()] + (user_keep_clips(keep_dir) if keep_dir else [])

    def _keep_clips_that_fit(self, clips: list, processor) -> list:
        """Keep-set clips the encoder window holds (a 10 s window cannot hold jfk.flac's 11 s)."""
        if not clips:
            return []
        from whisper_tui.data.audio import audio_info
        from whisper_tui.errors import AudioError
        from whisper_tui.models.window import processor_window_s

        window = processor_window_s(processor)
        fit, too_long = [], []
        for clip in clips:
            try:
                seconds = audio_info(clip.path).duration_s
            except AudioError:
                continue  # keep_dir clips were validated; bundled ones are readable
            (fit if seconds <= window else too_long).append(clip)
            self._durations.setdefault(clip.path, seconds)
        if too_long:
            self.log(f"keep set: skipped {len(too_long)} clip(s) longer than the {window:g} s encoder window "
                     f"(model.window_s): {', '.join(c.file_name for c in too_long[:5])}"
                     + (" …" if len(too_long) > 5 else ""))
        if fit:
            self.log(f"keep set: {len(fit)} clips of general speech, evaluated before training and at every "
                     f"evaluation (best checkpoint within {self.keep_tolerance:g} WER points of the base model)")
        return fit

    def evaluate_keep(self) -> tuple[float, float] | None:
        """(WER, CER) of the model as it is now on the keep set; None without one. Runs on every rank."""
        if self._keep_ds is None or self._hf_trainer is None:
            return None
        metrics = self._hf_trainer.evaluate(eval_dataset=self._keep_ds, metric_key_prefix="keep")
        wer = metrics.get("keep_wer")
        if wer is None:
            return None
        return float(wer), float(metrics.get("keep_cer", float("nan")))

    def _evaluate_base_keep(self) -> None:
        """On resume of a run whose metrics.jsonl has no base keep WER: the model is still the base model here
        (the checkpoint's weights load when training starts), so measure it now."""
        self.log(f"evaluating the base model on the keep set ({len(self._keep_clips)} clips of general speech)")
        result = self.evaluate_keep()
        if result is None:
            return
        self.base_keep_wer = self.best_tracker.base_keep_wer = result[0]
        if self._is_main():
            self.folder.append_metric({"type": "keep_base", "step": 0, "keep_wer": result[0],
                                       "keep_cer": result[1], "time": time.time()})
        self._status(base_keep_wer=self.base_keep_wer)
        self.log(f"general speech (keep set) before training: {self.base_keep_wer:.3f}")
        self._check_cancel()

    def _keep_metrics(self, final_keep_wer: float | None) -> dict:
        """The keep-set figures of RunFinished.metrics (and the summary line the dashboard shows)."""
        summary = keep_summary(self.base_keep_wer,
                               self.best_keep_wer if self.best_keep_wer is not None else final_keep_wer,
                               self.keep_tolerance)
        return {"base_keep_wer": self.base_keep_wer, "best_keep_wer": self.best_keep_wer,
                "final_keep_wer": final_keep_wer, "keep_tolerance": self.keep_tolerance,
                "best_within_tolerance": self.best_tracker.best_within,
                "keep_summary": summary[0] if summary else None, "keep_over": bool(summary and summary[1])}

    def _load_data(self):
        from whisper_tui.data.dataset import load_dataset_split
        from whisper_tui.config.locations import default_sample_data_dir

        data = self.profile.data
        train_dir = Path(data.train_dir).expanduser() if data.train_dir else None
        if train_dir is None:
            from whisper_tui.data.sample_data import ensure_sample_dataset

            train_dir = ensure_sample_dataset(default_sample_data_dir(), log=lambda m: self.log(f"no data folder set: {m}"))
        test_dir = Path(data.test_dir).expanduser() if data.test_dir else None
        train, test, report = load_dataset_split(train_dir, data.test_split, data.split_seed, test_dir,
                                                 split_by=data.split_by)
        counts = {k: v for k, v in report.counts.items() if v}
        if counts:
            self.log("dataset problems: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                     + f" (run `whisper-tui validate {train_dir}` for the rows)", "warning")
        for checked in (report, report.test_report):
            left = checked.left_out() if checked is not None else {}
            if left:
                self.log(f"left out {sum(left.values())} of {len(checked.clips)} rows of {checked.folder}: "
                         + ", ".join(f"{k} {v}" for k, v in left.items())
                         + f" (run `whisper-tui validate {checked.folder}` for the rows)", "warning")
        if not train:
            from whisper_tui.errors import DatasetError

            raise DatasetError(f"{train_dir}: no usable training clips",
                               f"run `whisper-tui validate {train_dir}` to see what is wrong")
        split = report.split
        self.log(f"data: {len(train)} training clips, {split.describe_test()} from {train_dir} ({split.how})")
        for note in split.notes:
            self.log(note, "warning")
        self._durations = {c.path: info.duration_s for r in (report, report.test_report) if r is not None
                           for c in r.clips if (info := r.clip_infos.get(c.file_name)) is not None}
        return train, test

    def _resolve_auto_window(self, profile, clips):
        """model.window_s = -1: the shortest suggested window that holds every clip (window.py), else the model's own.

        Decided from the data, so a profile can ask for short windows without dropping a user's long clips.
        The run folder's profile.toml keeps -1 (what was asked); the saved model records the window used.
        """
        if profile.model.window_s != -1:
            return profile
        from whisper_tui.config.profile import apply_overrides
        from whisper_tui.models.window import suggested_window_s

        longest = max((self._durations.get(c.path, 0.0) for c in clips), default=0.0)
        window = suggested_window_s(longest) or 0
        chosen = f"{window} s" if window else "the model's own window"
        self.log(f"model.window_s auto: {chosen} (the longest training or test clip lasts {longest:.1f} s)")
        return apply_overrides(profile, {"model.window_s": window})

    def _clips_that_fit(self, train, test, processor, model):
        """Drop clips outside data.min/max_duration_s, longer than the encoder window, or whose transcript is
        longer than the decoder holds: each would be cut, and a cut clip or label teaches the wrong thing."""
        from whisper_tui.errors import DatasetError
        from whisper_tui.models.window import processor_window_s
        from whisper_tui.training.speech_dataset import label_length

        data = self.profile.data
        window = processor_window_s(processor)
        longest = min(data.max_duration_s, window)
        prefix = self._prefix(model, processor)
        positions = self._label_positions(model)

        def keep(clips, split):
            kept = [c for c in clips
                    if data.min_duration_s <= self._durations.get(c.path, data.min_duration_s) <= longest]
            if len(kept) < len(clips):
                why = (f"the {window:g} s encoder window (model.window_s)" if window < data.max_duration_s
                       else "data.max_duration_s")
                self.log(f"{split}: skipped {len(clips) - len(kept)} of {len(clips)} clips shorter than "
                         f"data.min_duration_s ({data.min_duration_s:g} s) or longer than {why}", "warning")
            long_labels = [c for c in kept if label_length(c.transcription, processor.tokenizer, prefix) > positions]
            if long_labels:
                names = ", ".join(c.file_name for c in long_labels[:5]) + (" …" if len(long_labels) > 5 else "")
                self.log(f"{split}: skipped {len(long_labels)} clip(s) whose transcript is longer than the decoder's "
                         f"{positions - len(prefix) - 1} tokens (never cut: it would teach stopping mid-sentence): "
                         f"{names}", "warning")
                kept = [c for c in kept if c not in long_labels]
            return kept

        train, test = keep(train, "training"), keep(test, "test")
        if not train:
            raise DatasetError(f"no training clip lasts between {data.min_duration_s:g} and {longest:g} s",
                               "raise model.window_s / data.max_duration_s or lower data.min_duration_s",
                               where="data.max_duration_s" if longest == data.max_duration_s else "model.window_s")
        return train, test

    def _prefix(self, model, processor) -> list[int]:
        from whisper_tui.training.speech_dataset import decoder_prefix_ids

        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        return decoder_prefix_ids(base.config, base.generation_config, processor.tokenizer,
                                  self.profile.model.language, self.profile.model.task)

    @staticmethod
    def _label_positions(model) -> int:
        """The label limit: the decoder's positions (448), not the generation length used at evaluation."""
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        return int(base.config.max_target_positions)

    def _datasets(self, model, processor, train_clips, test_clips, k_frozen, device):
        from whisper_tui.training.estimate import encoder_cache_file_bytes
        from whisper_tui.training.encoder_cache import EncoderCache, cache_is_valid
        from whisper_tui.training.model_setup import encoder_of
        from whisper_tui.training.speech_dataset import BadClips, CachedEncoderDataset, FeatureDataset, SkipBadClips

        prefix = self._prefix(model, processor)
        max_len = self._label_positions(model)
        bad = BadClips(len(train_clips) + len(test_clips), self.profile.data.max_bad_fraction, self.log)
        self._bad = bad
        train_ds = FeatureDataset(train_clips, processor, prefix, max_len, bad)
        eval_ds = FeatureDataset(test_clips, processor, prefix, max_len, bad) if test_clips else None
        keep_ds = FeatureDataset(self._keep_clips, processor, prefix, max_len, bad) \
            if eval_ds is not None and self._keep_clips else None  # the keep set: a second eval set (evaluate_keep)
        self._keep_ds = SkipBadClips(keep_ds, bad) if keep_ds is not None else None
        n_layers = len(encoder_of(model).layers)
        ok, why = cache_is_valid(self.profile, n_layers)
        if not ok:
            if self.profile.finetuning.encoder_cache:
                self.log(f"encoder cache off: {why}")
            return (SkipBadClips(self._augmented(train_ds), bad),
                    SkipBadClips(eval_ds, bad) if eval_ds is not None else None, None)
        keep_list = list(self._keep_clips) if keep_ds is not None else []
        clips_all = FeatureDataset(list(train_clips) + list(test_clips) + keep_list, processor, prefix, max_len,
                                   bad)
        enc_cfg = encoder_of(model).config
        size = encoder_cache_file_bytes(len(clips_all), enc_cfg.max_source_positions, enc_cfg.d_model)
        self.log(f"caching the output of {k_frozen} frozen encoder layer(s) for {len(clips_all)} clips "
                 f"(~{size / 2**20:,.0f} MiB on disk; limit finetuning.encoder_cache_max_gb)")
        cache = EncoderCache.build(model, clips_all, k_frozen, device=device,
                                   batch_size=self.profile.training.per_device_eval_batch_size,
                                   on_progress=self._cancel_point,
                                   max_gb=self.profile.finetuning.encoder_cache_max_gb,
                                   reserve_clips=len(train_clips) * self.profile.training.augment_views)
        for old in cache.evicted:
            self.log(f"encoder cache: removed {old.kind} cache {old.name} (least recently used) to make room")
        self._cleanups.append(cache.close)  # lets `whisper-tui cache prune` and eviction have it once the run ends
        self.log("encoder cache reused from an earlier run" if cache.reused
                 else f"encoder cache built in {cache.build_seconds:.1f}s ({cache.path})")
        if cache.is_full and self.profile.finetuning.gradient_checkpointing:
            self._skip_checkpointing(model)
        cached_train = self._views(CachedEncoderDataset(train_ds, cache), model, k_frozen, device)
        if cache.is_full:
            cached_train.cross_kv = self._cross_kv(model, cached_train, cache)
        cached_eval = CachedEncoderDataset(eval_ds, cache) if eval_ds is not None else None
        if keep_ds is not None:
            self._keep_ds = SkipBadClips(CachedEncoderDataset(keep_ds, cache), bad)
        views_cache = getattr(cached_train, "view_cache", None)
        if views_cache is not None and hasattr(views_cache, "close"):
            self._cleanups.append(views_cache.close)
        if len(bad):  # the caches hold silence for the bad clips: never reuse them in a later run
            self._forget_caches(cache, views_cache)
        return (SkipBadClips(cached_train, bad), SkipBadClips(cached_eval, bad) if cached_eval is not None else None,
                (None if cache.is_full else k_frozen))

    def _forget_caches(self, *caches) -> None:
        """Remove these encoder caches when the run ends (they stay usable until then)."""
        paths = [Path(c.path) for c in caches if c is not None and getattr(c, "path", None)]

        def remove() -> None:
            for path in paths:
                path.unlink(missing_ok=True)
                path.with_suffix(".json").unlink(missing_ok=True)

        self._cleanups.append(remove)

    def _augmented(self, train_ds):
        """The training split with SpecAugment when the profile asks for it (never the eval split)."""
        from whisper_tui.training.augment import SpecAugmentDataset, augmented_training_set

        train_ds = augmented_training_set(self.profile, self._views(train_ds))
        if isinstance(train_ds, SpecAugmentDataset):
            self.log(f"SpecAugment on the training clips: {train_ds.augment.settings.describe()} "
                     f"(seed {self.profile.training.seed}; test clips are not masked)")
        return train_ds

    def _views(self, train_ds, model=None, k: int = 0, device: str = "cpu"):
        """The training split with the profile's perturbed views (`views.py`; cached when `train_ds` is)."""
        from whisper_tui.training.views import with_views

        return with_views(self.profile, train_ds, model=model, k=k, device=device, log=self.log,
                          batch_size=self.profile.training.per_device_eval_batch_size, on_progress=self._cancel_point)

    def _skip_checkpointing(self, model) -> None:
        """With the whole encoder cached, only the decoder runs: its activations (tokens x 384 per layer)
        are tiny, so recomputing them in the backward pass would cost time and save nothing."""
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        if getattr(base, "is_activation_checkpointing", False):
            base.activation_checkpointing_disable()
            if hasattr(base, "disable_input_require_grads"):
                base.disable_input_require_grads()
            self.log("gradient checkpointing off: with the encoder cached, the decoder's activations are small")

    def _cross_kv(self, model, train_ds, cache):
        """The decoder's frozen cross-attention keys/values of the training clips, when valid and affordable."""
        import shutil

        from whisper_tui.training.cross_kv import CrossKVCache, FastCrossAttention, cross_kv_is_valid, estimated_bytes
        from whisper_tui.config.locations import cache_dir

        ok, why = cross_kv_is_valid(model)
        if not ok:
            self.log(f"cross-attention cache off: {why}")
            return None
        need = estimated_bytes(model, train_ds.n_rows)  # one per clip, or per clip view (views.py)
        root = cache_dir() / "cross-kv"
        root.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(root).free
        if need > free // 2:
            self.log(f"cross-attention cache off: it needs {need / 1e9:.1f} GB and {root} has {free / 1e9:.1f} GB free",
                     "warning")
            return None
        kv = CrossKVCache.build(model, train_ds.hidden_of_row, train_ds.n_rows,
                                batch_size=self.profile.training.per_device_eval_batch_size, root=root,
                                on_progress=self._cancel_point)
        self._cleanups.append(kv.close)
        self._fast_cross = FastCrossAttention(model)
        self._cleanups.append(self._fast_cross.remove)
        views = f" ({train_ds.n_rows} with their views)" if train_ds.n_rows != len(train_ds) else ""
        self.log(f"cross-attention keys/values of {len(train_ds)} clips{views} computed in {kv.build_seconds:.1f}s "
                 f"({need / 1e6:.0f} MB, removed after the run)")
        return kv

    def _estimate_steps(self, n_train: int) -> int:
        tr = self.profile.training
        if tr.max_steps and tr.max_steps > 0:
            return tr.max_steps
        import os

        world = max(1, int(os.environ.get("WORLD_SIZE", "1")))
        per_epoch = max(1, -(-n_train // (tr.per_device_train_batch_size * tr.gradient_accumulation_steps * world)))
        return int(per_epoch * tr.num_train_epochs)

    def _trainer(self, model, processor, train_ds, eval_ds, lr, precision, device, cached_top_from):
        import os

        from transformers import PrinterCallback, Seq2SeqTrainingArguments

        from whisper_tui.inference.metrics import error_rates
        from whisper_tui.training.callbacks import DatasetEpochCallback, JobCallback, ThreadTuningCallback
        from whisper_tui.training.collator import WhisperCollator
        from whisper_tui.training.threads import tuning_enabled
        from whisper_tui.training.trainer import WhisperTrainer

        tr = self.profile.training
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        eval_strategy = tr.eval_strategy if eval_ds is not None else "no"
        save_strategy = "steps" if eval_strategy == "steps" else "epoch"
        args = Seq2SeqTrainingArguments(
            output_dir=str(self.folder.checkpoints),
            num_train_epochs=tr.num_train_epochs,
            max_steps=tr.max_steps if tr.max_steps and tr.max_steps > 0 else -1,
            learning_rate=lr,
            per_device_train_batch_size=tr.per_device_train_batch_size,
            per_device_eval_batch_size=tr.per_device_eval_batch_size,
            gradient_accumulation_steps=tr.gradient_accumulation_steps,
            warmup_steps=tr.warmup_steps,
            weight_decay=tr.weight_decay,
            lr_scheduler_type=tr.lr_scheduler_type,
            eval_strategy=eval_strategy,
            eval_steps=tr.eval_steps if eval_strategy == "steps" else None,
            save_strategy=save_strategy,
            save_steps=tr.eval_steps if save_strategy == "steps" else None,
            save_total_limit=tr.save_total_limit,
            logging_steps=tr.logging_steps,
            seed=tr.seed,
            fp16=precision.trainer_fp16,
            bf16=precision.trainer_bf16,
            use_cpu=device == "cpu",
            predict_with_generate=True,
            generation_max_length=self._generation_length(base, eval_ds),
            generation_num_beams=1,
            remove_unused_columns=False,
            label_names=["labels"],
            report_to=[],
            dataloader_num_workers=0,
            disable_tqdm=True,
            save_only_model=False,
            log_level="error",  # the Trainer resets transformers' verbosity from these; our events do the talking
            log_level_replica="error",
            ddp_find_unused_parameters=False,
        )
        tokenizer = processor.tokenizer

        def compute_metrics(pred):
            import numpy as np

            preds = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
            labels = np.where(pred.label_ids == -100, tokenizer.pad_token_id, pred.label_ids)
            preds = np.where(preds == -100, tokenizer.pad_token_id, preds)
            hyps = tokenizer.batch_decode(preds, skip_special_tokens=True)
            refs = tokenizer.batch_decode(labels, skip_special_tokens=True)
            wer, cer = error_rates(refs, hyps)
            from whisper_tui.inference.hallucination import flagged

            # clips with a hallucination sign (loop, empty, far too long); the Trainer logs it as eval_hallucinations
            return {"wer": wer, "cer": cer, "hallucinations": flagged(refs, hyps)}

        collator = WhisperCollator(base.config.decoder_start_token_id, dtype=None)
        callback = JobCallback(self)
        callbacks = [callback]
        if hasattr(train_ds, "set_epoch"):  # SpecAugment masks, augmentation views: drawn per epoch
            callbacks.append(DatasetEpochCallback(train_ds))
        self._budget = self._budget_callback(len(train_ds), eval_ds is not None)
        if self._budget is not None:
            callbacks.append(self._budget)
        if device == "cpu":
            import torch

            threads_before = torch.get_num_threads()
            self._cleanups.append(lambda: torch.set_num_threads(threads_before))
            if tuning_enabled(device):
                callbacks.append(ThreadTuningCallback(self))
            elif os.environ.get("WHISPER_TUI_THREADS", "").isdigit():
                torch.set_num_threads(max(1, int(os.environ["WHISPER_TUI_THREADS"])))
        trainer = WhisperTrainer(
            model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds, data_collator=collator,
            processing_class=processor.feature_extractor, compute_metrics=compute_metrics if eval_ds else None,
            callbacks=callbacks, cached_top_from=cached_top_from, fast_cross=self._fast_cross)
        # Our events replace the Trainer's own printing (raw dicts on stdout would garble a progress bar).
        trainer.remove_callback(PrinterCallback)
        return trainer

    def _generation_length(self, base, eval_ds) -> int:
        """Evaluation generates up to the longest reference (test and keep set) plus a margin, so no reference
        is out of reach; at least training.generation_max_length, at most the decoder's positions."""
        tr = self.profile.training
        limit = int(base.config.max_target_positions)
        longest = max((n for ds in (eval_ds, self._keep_ds) if ds is not None for n in ds.lengths()), default=0)
        need = longest + max(8, longest // 4)
        length = min(limit, max(tr.generation_max_length, need))
        if length > tr.generation_max_length:
            self.log(f"evaluation generates up to {length} tokens: the longest reference is {longest} "
                     f"(training.generation_max_length is {tr.generation_max_length})")
        return length

    def _budget_callback(self, n_train: int, evaluates: bool):
        """training.budget_s / early_stopping_patience as a Trainer callback (None when neither is set)."""
        import os

        from whisper_tui.training.budget import BudgetCallback, format_duration

        tr = self.profile.training
        patience = tr.early_stopping_patience if evaluates and tr.eval_strategy != "no" else 0
        if tr.budget_s <= 0 and patience <= 0:
            return None
        world = max(1, int(os.environ.get("WORLD_SIZE", "1")))
        per_epoch = max(1, -(-n_train // (tr.per_device_train_batch_size * tr.gradient_accumulation_steps * world)))
        max_epochs = tr.num_train_epochs
        if tr.max_steps and tr.max_steps > 0:
            max_epochs = max(1, min(max_epochs, tr.max_steps // per_epoch))
        if tr.budget_s > 0:
            self.log(f"time budget {format_duration(tr.budget_s)} for the whole run, at most {max_epochs} epoch(s) "
                     "(training.num_train_epochs)")
        return BudgetCallback(budget_s=tr.budget_s, started=self._started, steps_per_epoch=per_epoch,
                              max_epochs=max_epochs, warmup=tr.warmup_steps, patience=patience,
                              log=lambda message, level="info": self.log(message, level))

    # -- saving ------------------------------------------------------------------------------
    def _save_model(self, target: Path, *, reason: str, step: int) -> None:
        if not self._is_main() or self._model is None:
            return
        from whisper_tui.storage.atomic import atomic_directory, atomic_write_text

        model = self._model
        with atomic_directory(target) as tmp:
            model.save_pretrained(tmp)
            self._processor.save_pretrained(tmp)
            base = model.get_base_model() if hasattr(model, "get_base_model") else model
            base.generation_config.save_pretrained(tmp)
            atomic_write_text(tmp / "whisper_tui.json", json.dumps({
                "base_model": self.profile.model.name, "strategy": self.profile.finetuning.strategy,
                "step": step, "best_wer": self.best_wer, "base_wer": self.base_wer,
                "run_dir": str(self.folder.path)}, indent=2))
        self._emit(CheckpointSaved(target, step, reason))

    def _save_merged(self, target: Path) -> None:
        from whisper_tui.storage.atomic import atomic_directory, atomic_write_text
        from whisper_tui.models.loading import load_model

        merged, processor = load_model(str(self.folder.final), device="cpu", merge=True)
        with atomic_directory(target) as tmp:
            merged.save_pretrained(tmp)
            processor.save_pretrained(tmp)
            merged.generation_config.save_pretrained(tmp)
            atomic_write_text(tmp / "whisper_tui.json", json.dumps({
                "base_model": self.profile.model.name, "strategy": self.profile.finetuning.strategy,
                "merged_from": str(self.folder.final), "step": self._current_step, "best_wer": self.best_wer,
                "base_wer": self.base_wer, "run_dir": str(self.folder.path)}, indent=2))
        self.log(f"merged LoRA into a full model: {target}")
