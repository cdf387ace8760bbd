"""Trainer construction: the run's datasets, its caches and views, and the Hugging Face Trainer around them.

Stage two of `TrainingJob`, once the clips are chosen (data_prep.py) and the model is loaded: feature
datasets for training, test and keep set; the frozen encoder layers' cache (encoder_cache.py), the
augmentation views (views.py) and the decoder's cross-attention cache (cross_kv.py) when they apply;
then the training arguments, metrics and callbacks of the `WhisperTrainer`. Temporary files and patches
are handed to the run's `RunControl` to undo when the run ends; cache builds stop at a cancel.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

from whisper_tui.models.parts import base_of, encoder_of
from whisper_tui.training.data_prep import decoder_prefix, label_positions
from whisper_tui.training.run_control import RunControl


def steps_per_epoch(training, n_train: int) -> int:
    """Optimizer steps in one epoch of `n_train` clips (all torchrun ranks together)."""
    world = max(1, int(os.environ.get("WORLD_SIZE", "1")))
    return max(1, -(-n_train // (training.per_device_train_batch_size * training.gradient_accumulation_steps * world)))


def estimate_steps(training, n_train: int) -> int:
    """The run's total steps when the Trainer has not said (training.max_steps, else epochs x steps per epoch)."""
    if training.max_steps and training.max_steps > 0:
        return training.max_steps
    return int(steps_per_epoch(training, n_train) * training.num_train_epochs)


def frame_budget(training) -> int:
    """Encoder positions one forward pass may hold (training.frame_budget_s; batching.py)."""
    from whisper_tui.training.batching import budget_positions

    return budget_positions(getattr(training, "frame_budget_s", 0), training.per_device_train_batch_size)


def make_compute_metrics(tokenizer, synthetic_refs: frozenset[str] = frozenset()):
    """The Trainer's compute_metrics: WER, CER and clips with a hallucination sign (logged as eval_hallucinations).

    Clips whose normalised reference is in `synthetic_refs` (the keep set's eSpeak sentences) are also
    scored apart: `wer_real` / `cer_real` over the others, `wer_synthetic` over them, so the keep figure
    is recorded speech and eSpeak is its second line (keep_set.py)."""

    def compute_metrics(pred):
        import numpy as np

        from whisper_tui.inference.hallucination import flagged
        from whisper_tui.inference.metrics import error_rates, normalize

        preds = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
        labels = np.where(pred.label_ids == -100, tokenizer.pad_token_id, pred.label_ids)
        preds = np.where(preds == -100, tokenizer.pad_token_id, preds)
        hyps = tokenizer.batch_decode(preds, skip_special_tokens=True)
        refs = tokenizer.batch_decode(labels, skip_special_tokens=True)
        wer, cer = error_rates(refs, hyps)
        out = {"wer": wer, "cer": cer, "hallucinations": flagged(refs, hyps)}
        synthetic = [normalize(r) in synthetic_refs for r in refs] if synthetic_refs else []
        if any(synthetic):
            real = [(r, h) for r, h, s in zip(refs, hyps, synthetic) if not s]
            fake = [(r, h) for r, h, s in zip(refs, hyps, synthetic) if s]
            out["wer_synthetic"] = error_rates(*map(list, zip(*fake)))[0]
            if real:
                out["wer_real"], out["cer_real"] = error_rates(*map(list, zip(*real)))
        return out

    return compute_metrics


def training_arguments(training, output_dir: Path, *, evaluates: bool, lr: float, precision, device: str,
                       generation_length: int):
    """Seq2SeqTrainingArguments from the profile's [training] section. The Trainer saves a checkpoint at every
    evaluation (steps) or epoch, never reports or prints on its own: our events do the talking."""
    from transformers import Seq2SeqTrainingArguments

    tr = training
    eval_strategy = tr.eval_strategy if evaluates else "no"
    save_strategy = "steps" if eval_strategy == "steps" else "epoch"
    return Seq2SeqTrainingArguments(
        output_dir=str(output_dir),
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
        generation_max_length=generation_length,
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


class TrainerSetup:
    """Builds one run's datasets and Trainer, and keeps what the run needs of them afterwards:
    `bad` (clips that failed to decode), `keep_ds` (the keep set as an evaluation set), `budget`
    (the time-budget / early-stopping callback) and `fast_cross` (the cross-attention patch)."""

    def __init__(self, profile, control: RunControl, *, started: float, durations: dict | None = None):
        self.profile = profile
        self.control = control
        self.started = started  # when the run began: the time budget counts from here
        self.durations = durations or {}  # clip path -> seconds (data_prep.DataPrep): the windows a clip fits
        self.window_mix = None  # window_mix.WindowMix when the model trains at several windows (model.windows)
        self.bad = None  # speech_dataset.BadClips: clips that failed to decode during this run
        self.keep_ds = None  # the keep set, evaluated after the test set (TrainingJob.evaluate_keep)
        self.budget = None  # budget.BudgetCallback when training.budget_s or early_stopping_patience is set
        self.fast_cross = None  # cross_kv.FastCrossAttention while the cross-attention cache is in use
        from whisper_tui.training.batching import return_freed_memory

        return_freed_memory()  # freed activations go back to the system (batching.py): the peak is what is live

    def log(self, message: str, level: str = "info") -> None:
        self.control.log(message, level)

    # -- datasets and caches -------------------------------------------------------------------
    def datasets(self, model, processor, train_clips, test_clips, keep_clips, k_frozen, device):
        """(training set, test set or None, first encoder layer the model still runs or None): behind the
        encoder cache when it is valid for this profile, else features computed from the audio. The training
        set carries the profile's timestamp / previous-text labels (label_mix.py); the test set never does."""
        train_ds, eval_ds, cached_top_from = self._datasets(model, processor, train_clips, test_clips, keep_clips,
                                                            k_frozen, device)
        train_ds.dataset = self._mixed_labels(train_ds.dataset, model, processor)
        return train_ds, eval_ds, cached_top_from

    def _mixed_labels(self, train_ds, model, processor):
        """`train_ds` with training.timestamp_share / prompt_share applied (itself when both are 0)."""
        from whisper_tui.models.window import processor_window_s
        from whisper_tui.training.label_mix import MixedLabels, mixed_labels

        base = base_of(model)
        seconds = [self._clip_seconds(c) for c in train_ds.clips]
        mixed = mixed_labels(self.profile, train_ds, base.generation_config, processor.tokenizer,
                             decoder_prefix(self.profile, model, processor), seconds,
                             processor_window_s(processor), label_positions(model))
        if isinstance(mixed, MixedLabels):
            self.log(mixed.describe())
        return mixed

    def _clip_seconds(self, clip) -> float:
        """A training clip's duration (data_prep's, else read from the file)."""
        seconds = self.durations.get(clip.path)
        if seconds is None:
            from whisper_tui.data.audio import audio_info
            from whisper_tui.errors import AudioError

            try:
                seconds = audio_info(clip.path).duration_s
            except (AudioError, OSError, ValueError):
                seconds = 0.0  # unreadable: recorded as a bad clip when served, never trained on
        return float(seconds)

    def _datasets(self, model, processor, train_clips, test_clips, keep_clips, k_frozen, device):
        from whisper_tui.training.estimate import encoder_cache_file_bytes
        from whisper_tui.training.encoder_cache import EncoderCache, cache_is_valid
        from whisper_tui.models.window import supported_windows
        from whisper_tui.training.speech_dataset import BadClips, CachedEncoderDataset, FeatureDataset, SkipBadClips
        from whisper_tui.training.window_mix import EVAL, TRAIN, WindowMix

        profile = self.profile
        prefix = decoder_prefix(profile, model, processor)
        max_len = label_positions(model)
        bad = BadClips(len(train_clips) + len(test_clips), profile.data.max_bad_fraction, self.log)
        self.bad = bad
        train_ds = FeatureDataset(train_clips, processor, prefix, max_len, bad)
        eval_ds = FeatureDataset(test_clips, processor, prefix, max_len, bad) if test_clips else None
        keep_ds = FeatureDataset(keep_clips, processor, prefix, max_len, bad) \
            if eval_ds is not None and keep_clips else None  # the keep set: a second eval set (evaluate_keep)
        self.keep_ds = SkipBadClips(keep_ds, bad) if keep_ds is not None else None
        n_layers = len(encoder_of(model).layers)
        ok, why = cache_is_valid(profile, n_layers)
        windows = supported_windows(processor)
        if len(windows) > 1:
            self.window_mix = WindowMix(windows, profile.training.seed, shortest_only=k_frozen >= n_layers)
            if self.window_mix.shortest_only:
                self.log("whole encoder frozen: each training batch runs at the shortest window that holds it, as "
                         "the saved model runs it (a longer one would only add padding to the frozen encoder's output)")
            if ok and profile.training.augment_views > 0:
                ok, why = False, ("training at several windows (model.windows) perturbs the augmentation views as "
                                  "they are drawn")
        if not ok:
            if profile.finetuning.encoder_cache:
                self.log(f"encoder cache off: {why}")
            train_ds = self._augmented(train_ds)
            if self.window_mix is not None:
                train_ds, eval_ds, keep_ds = (self._windowed(ds, mode) for ds, mode in
                                              ((train_ds, TRAIN), (eval_ds, EVAL), (keep_ds, EVAL)))
                self.keep_ds = SkipBadClips(keep_ds, bad) if keep_ds is not None else None
            return (SkipBadClips(train_ds, bad),
                    SkipBadClips(eval_ds, bad) if eval_ds is not None else None, None)
        if self.window_mix is not None:
            return self._window_caches(model, processor, train_ds, eval_ds, keep_ds, k_frozen, device, bad)
        keep_list = list(keep_clips) if keep_ds is not None else []
        clips_all = FeatureDataset(list(train_clips) + list(test_clips) + keep_list, processor, prefix, max_len,
                                   bad)
        enc_cfg = encoder_of(model).config
        size = encoder_cache_file_bytes(len(clips_all), enc_cfg.max_source_positions, enc_cfg.d_model)
        self.log(f"caching the output of {k_frozen} frozen encoder layer(s) for {len(clips_all)} clips "
                 f"(~{size / 2**20:,.0f} MiB on disk; limit finetuning.encoder_cache_max_gb)")
        cache = EncoderCache.build(model, clips_all, k_frozen, device=device,
                                   batch_size=profile.training.per_device_eval_batch_size,
                                   on_progress=self.control.cancel_point,
                                   max_gb=profile.finetuning.encoder_cache_max_gb,
                                   reserve_clips=len(train_clips) * profile.training.augment_views)
        for old in cache.evicted:
            self.log(f"encoder cache: removed {old.kind} cache {old.name} (least recently used) to make room")
        self.control.add_cleanup(cache.close)  # lets `whisper-tui cache prune` and eviction have it once the run ends
        self.log("encoder cache reused from an earlier run" if cache.reused
                 else f"encoder cache built in {cache.build_seconds:.1f}s ({cache.path})")
        if cache.is_full and profile.finetuning.gradient_checkpointing:
            self._skip_checkpointing(model)
        cached_train = self._views(CachedEncoderDataset(train_ds, cache), model, k_frozen, device)
        if cache.is_full:
            cached_train.cross_kv = self._cross_kv(model, cached_train, cache)
        cached_eval = CachedEncoderDataset(eval_ds, cache) if eval_ds is not None else None
        if keep_ds is not None:
            self.keep_ds = SkipBadClips(CachedEncoderDataset(keep_ds, cache), bad)
        views_cache = getattr(cached_train, "view_cache", None)
        if views_cache is not None and hasattr(views_cache, "close"):
            self.control.add_cleanup(views_cache.close)
        if len(bad):  # the caches hold silence for the bad clips: never reuse them in a later run
            self._forget_caches(cache, views_cache)
        return (SkipBadClips(cached_train, bad), SkipBadClips(cached_eval, bad) if cached_eval is not None else None,
                (None if cache.is_full else k_frozen))

    def _windowed(self, ds, mode: str, caches=None):
        """`ds` with each item's length and mode for the batch's window (window_mix.py); None stays None."""
        from whisper_tui.training.window_mix import WindowedExamples

        if ds is None:
            return None
        return WindowedExamples(ds, [self._seconds(c) for c in ds.clips], mode, caches)

    def _seconds(self, clip) -> float:
        return float(self.durations.get(clip.path, max(self.window_mix.windows)))

    def _window_caches(self, model, processor, train_ds, eval_ds, keep_ds, k_frozen, device, bad):
        """The encoder cache of a model trained at several windows: one cache per window, each over the clips it
        holds (a cached row depends on the window: self-attention sees the padding)."""
        from types import SimpleNamespace

        from whisper_tui.models.window import POSITIONS_PER_SECOND, set_feature_window
        from whisper_tui.training.encoder_cache import EncoderCache
        from whisper_tui.training.estimate import encoder_cache_file_bytes
        from whisper_tui.training.speech_dataset import FeatureDataset, SkipBadClips
        from whisper_tui.training.window_mix import EVAL, TRAIN, WindowCaches

        profile, mix = self.profile, self.window_mix
        clips = [c for ds in (train_ds, eval_ds, keep_ds) if ds is not None for c in ds.clips]
        holding: dict = {}  # clip -> the windows its batches can run at (window_mix.cached_windows), no more
        for ds, mode in ((train_ds, TRAIN), (eval_ds, EVAL), (keep_ds, EVAL)):
            if ds is not None:
                for c, ws in zip(ds.clips, mix.cached_windows([self._seconds(c) for c in ds.clips], mode)):
                    holding[c.path] = sorted(set(holding.get(c.path, ())) | set(ws))
        by_window = {w: [c for c in clips if w in holding[c.path]] for w in mix.windows}
        d_model = encoder_of(model).config.d_model
        size = sum(encoder_cache_file_bytes(len(cs), w * POSITIONS_PER_SECOND, d_model) for w, cs in by_window.items())
        self.log(f"caching the output of {k_frozen} frozen encoder layer(s) at each window "
                 + ", ".join(f"{w} s: {len(cs)} clips" for w, cs in by_window.items())
                 + f" (~{size / 2**20:,.0f} MiB on disk; limit finetuning.encoder_cache_max_gb)")
        prefix, max_len = decoder_prefix(profile, model, processor), label_positions(model)
        caches = {}
        for window, window_clips in by_window.items():
            if not window_clips:
                continue
            fe = copy.deepcopy(processor.feature_extractor)
            at_window = SimpleNamespace(feature_extractor=fe, tokenizer=processor.tokenizer)
            set_feature_window(at_window, window)
            source = FeatureDataset(window_clips, at_window, prefix, max_len, bad)
            cache = EncoderCache.build(model, source, k_frozen, device=device,
                                       batch_size=profile.training.per_device_eval_batch_size,
                                       on_progress=self.control.cancel_point,
                                       max_gb=profile.finetuning.encoder_cache_max_gb)
            self.control.add_cleanup(cache.close)
            for old in cache.evicted:
                self.log(f"encoder cache: removed {old.kind} cache {old.name} (least recently used) to make room")
            # worded as the one-window lines (soak_cancel and the tests read them), plus the window
            self.log(("encoder cache reused from an earlier run" if cache.reused
                      else f"encoder cache built in {cache.build_seconds:.1f}s ({cache.path})") + f" for the {window} s window")
            caches[window] = cache
        caches = WindowCaches(caches)
        if caches.is_full:
            if profile.finetuning.gradient_checkpointing:
                self._skip_checkpointing(model)
            self.log("cross-attention cache off: training at several windows (model.windows)")
        if len(bad):
            self._forget_caches(*caches.caches.values())
        train, test, keep = (self._windowed(ds, mode, caches) for ds, mode in
                             ((train_ds, TRAIN), (eval_ds, EVAL), (keep_ds, EVAL)))
        self.keep_ds = SkipBadClips(keep, bad) if keep is not None else None
        return (SkipBadClips(train, bad), SkipBadClips(test, bad) if test is not None else None,
                None if caches.is_full else k_frozen)

    def _forget_caches(self, *caches) -> None:
        """Remove these encoder caches when the run ends (they stay usable until then)."""
        paths = [Path(c.path) for c in caches if c is not None and getattr(c, "path", None)]

        def remove() -> None:
            for path in paths:
                path.unlink(missing_ok=True)
                path.with_suffix(".json").unlink(missing_ok=True)

        self.control.add_cleanup(remove)

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
                          batch_size=self.profile.training.per_device_eval_batch_size,
                          on_progress=self.control.cancel_point)

    def _skip_checkpointing(self, model) -> None:
        """With the whole encoder cached, only the decoder runs: its activations (tokens x 384 per layer)
        are tiny, so recomputing them in the backward pass would cost time and save nothing."""
        base = base_of(model)
        if getattr(base, "is_activation_checkpointing", False):
            base.activation_checkpointing_disable()
            if hasattr(base, "disable_input_require_grads"):
                base.disable_input_require_grads()
            self.log("gradient checkpointing off: with the encoder cached, the decoder's activations are small")

    def _cross_kv(self, model, train_ds, cache):
        """The decoder's frozen cross-attention keys/values of the training clips, when valid and affordable."""
        import shutil

        from whisper_tui.training.cross_kv import CrossKVCache, FastCrossAttention, cross_kv_is_valid, estimated_bytes
        from whisper_tui.config.locations import CROSS_KV_FOLDER, cache_dir

        ok, why = cross_kv_is_valid(model)
        if not ok:
            self.log(f"cross-attention cache off: {why}")
            return None
        need = estimated_bytes(model, train_ds.n_rows)  # one per clip, or per clip view (views.py)
        root = cache_dir() / CROSS_KV_FOLDER
        root.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(root).free
        if need > free // 2:
            self.log(f"cross-attention cache off: it needs {need / 1e9:.1f} GB and {root} has {free / 1e9:.1f} GB free",
                     "warning")
            return None
        kv = CrossKVCache.build(model, train_ds.hidden_of_row, train_ds.n_rows,
                                batch_size=self.profile.training.per_device_eval_batch_size, root=root,
                                on_progress=self.control.cancel_point)
        self.control.add_cleanup(kv.close)
        self.fast_cross = FastCrossAttention(model)
        self.control.add_cleanup(self.fast_cross.remove)
        views = f" ({train_ds.n_rows} with their views)" if train_ds.n_rows != len(train_ds) else ""
        self.log(f"cross-attention keys/values of {len(train_ds)} clips{views} computed in {kv.build_seconds:.1f}s "
                 f"({need / 1e6:.0f} MB, removed after the run)")
        return kv

    # -- the Trainer ---------------------------------------------------------------------------
    def trainer(self, model, processor, train_ds, eval_ds, lr, precision, device, cached_top_from, run_callback):
        """The WhisperTrainer of this run; `run_callback` (callbacks.JobCallback) reports to the run."""
        from transformers import PrinterCallback

        from whisper_tui.data.keep_set import synthetic_references
        from whisper_tui.training.callbacks import DatasetEpochCallback, ThreadTuningCallback
        from whisper_tui.training.collator import WhisperCollator
        from whisper_tui.system.threads import tuning_enabled
        from whisper_tui.training.trainer import WhisperTrainer

        base = base_of(model)
        args = training_arguments(self.profile.training, self.control.folder.checkpoints,
                                  evaluates=eval_ds is not None, lr=lr, precision=precision, device=device,
                                  generation_length=self._generation_length(base, eval_ds))
        compute_metrics = make_compute_metrics(processor.tokenizer,
                                               synthetic_references() if self.keep_ds is not None else frozenset())
        collator = WhisperCollator(base.config.decoder_start_token_id, dtype=None, windows=self.window_mix,
                                   pad_token_id=base.config.pad_token_id)
        callbacks = [run_callback]
        if hasattr(train_ds, "set_epoch"):  # SpecAugment masks, augmentation views: drawn per epoch
            callbacks.append(DatasetEpochCallback(train_ds))
        self.budget = self._budget_callback(len(train_ds), eval_ds is not None)
        if self.budget is not None:
            callbacks.append(self.budget)
        if device == "cpu":
            import torch

            threads_before = torch.get_num_threads()
            self.control.add_cleanup(lambda: torch.set_num_threads(threads_before))
            if tuning_enabled(device):
                callbacks.append(ThreadTuningCallback(self.log))
            elif os.environ.get("WHISPER_TUI_THREADS", "").isdigit():
                torch.set_num_threads(max(1, int(os.environ["WHISPER_TUI_THREADS"])))
        trainer = WhisperTrainer(
            model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds, data_collator=collator,
            processing_class=processor.feature_extractor, compute_metrics=compute_metrics if eval_ds else None,
            callbacks=callbacks, cached_top_from=cached_top_from, fast_cross=self.fast_cross,
            frame_budget=frame_budget(self.profile.training))
        # Our events replace the Trainer's own printing (raw dicts on stdout would garble a progress bar).
        trainer.remove_callback(PrinterCallback)
        self._distillation(trainer, model)
        return trainer

    def _distillation(self, trainer, model) -> None:
        """training.distill_weight: the KL term to the base model (distill.py), said in the log."""
        tr = self.profile.training
        if tr.distill_weight <= 0:
            return
        from whisper_tui.training.distill import BaseTeacher

        teacher = BaseTeacher(model)
        trainer.set_distillation(teacher, tr.distill_weight, tr.distill_temperature)
        self.log(f"KL term to the base model: weight {tr.distill_weight:g}, temperature {tr.distill_temperature:g} "
                 f"(training.distill_weight); the base model is {teacher.description()}")

    def _generation_length(self, base, eval_ds) -> int:
        """Evaluation generates up to the longest reference (test and keep set) plus a margin, so no reference
        is out of reach; at least training.generation_max_length, at most the decoder's positions."""
        tr = self.profile.training
        limit = int(base.config.max_target_positions)
        longest = max((n for ds in (eval_ds, self.keep_ds) if ds is not None for n in ds.lengths()), default=0)
        need = longest + max(8, longest // 4)
        length = min(limit, max(tr.generation_max_length, need))
        if length > tr.generation_max_length:
            self.log(f"evaluation generates up to {length} tokens: the longest reference is {longest} "
                     f"(training.generation_max_length is {tr.generation_max_length})")
        return length

    def _budget_callback(self, n_train: int, evaluates: bool):
        """training.budget_s / early_stopping_patience as a Trainer callback (None when neither is set)."""
        from whisper_tui.training.budget import BudgetCallback, format_duration

        tr = self.profile.training
        patience = tr.early_stopping_patience if evaluates and tr.eval_strategy != "no" else 0
        if tr.budget_s <= 0 and patience <= 0:
            return None
        per_epoch = steps_per_epoch(tr, n_train)
        max_epochs = tr.num_train_epochs
        if tr.max_steps and tr.max_steps > 0:
            max_epochs = max(1, min(max_epochs, tr.max_steps // per_epoch))
        if tr.budget_s > 0:
            self.log(f"time budget {format_duration(tr.budget_s)} for the whole run, at most {max_epochs} epoch(s) "
                     "(training.num_train_epochs)")
        return BudgetCallback(budget_s=tr.budget_s, started=self.started, steps_per_epoch=per_epoch,
                              max_epochs=max_epochs, warmup=tr.warmup_steps, patience=patience,
                              log=lambda message, level="info": self.log(message, level))
