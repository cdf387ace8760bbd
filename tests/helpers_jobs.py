"""Training profiles for the tiny test model and tone data (tests that run a TrainingJob)."""

from __future__ import annotations

from pathlib import Path

from whisper_tui.config.profile import apply_overrides, load_profile

# two short epochs, logged every step, deterministic adapters
SHORT_RUN = {"training.num_train_epochs": 2, "training.per_device_train_batch_size": 2,
             "training.per_device_eval_batch_size": 4, "training.generation_max_length": 12,
             "training.logging_steps": 1, "finetuning.lora.lora_dropout": 0.0, "training.warmup_steps": 0}


def tiny_job_profile(model: Path, data: Path, **settings):
    """cpu-quick on `model` and `data` with a quarter held out for testing, then `settings` (profile keys).

    The mechanisms under test (whole encoder frozen and cached, cross-attention cache, LoRA on q/v) are
    pinned to what cpu-quick was before issue #10, and its windows (model.windows, tested in
    test_any_window_training.py) and 5-minute budget are turned off, so a test decides those itself and does not follow the shipped preset's tuning. The keep
    set (49 clips evaluated at every evaluation) is off unless a test turns it on: test_keep_set.py does.
    The merge strength is pinned to 1 (the trained model as trained) unless a test sets it:
    test_merge_strength.py does.
    """
    base = {"model.name": str(model), "data.train_dir": str(data), "data.test_split": 0.25,
            "model.window_s": 0, "model.windows": [], "training.budget_s": 0, "data.keep_set": False, "finetuning.freeze_encoder": True,
            "finetuning.frozen_encoder_layers": 0, "finetuning.lora.target_modules": ["q_proj", "v_proj"],
            "finetuning.merge_strength": 1.0}
    return apply_overrides(load_profile("cpu-quick"), {**base, **settings})


def prepared_datasets(profile, run_dir: Path):
    """The training and test datasets a run of `profile` would train on (data_prep + trainer_setup, no Trainer).

    Returns (setup, model, processor, train_ds, eval_ds, cached_top_from, logged): `logged` holds the run's
    log lines; the run folder is never acquired. Call `setup.control.run_cleanups()` to remove the caches'
    temporary files as the run would.
    """
    from whisper_tui.training.data_prep import DataPrep
    from whisper_tui.training.events import LogEvent
    from whisper_tui.training.model_setup import build_trainable_model, choose_precision
    from whisper_tui.training.run_control import RunControl
    from whisper_tui.training.run_folder import RunFolder
    from whisper_tui.training.trainer_setup import TrainerSetup

    logged: list[str] = []
    control = RunControl(RunFolder(run_dir), [lambda e: logged.append(e.message) if isinstance(e, LogEvent) else None])
    train_clips, test_clips = DataPrep(profile, control.log).load()
    model, processor, k = build_trainable_model(profile, "cpu", choose_precision(profile, "cpu"))
    setup = TrainerSetup(profile, control, started=0.0)
    train_ds, eval_ds, cached = setup.datasets(model, processor, train_clips, test_clips, [], k, "cpu")
    return setup, model, processor, train_ds, eval_ds, cached, logged
