"""Handlers of the headless subcommands (argument parsing lives in cli/main.py)."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

from whisper_tui.cli.console import ProgressBar, TrainingPrinter, say, stop_on_ctrl_c
from whisper_tui.errors import DatasetError, WhisperTuiError
from whisper_tui.exit_codes import EXIT_CANCELLED, EXIT_OK, EXIT_TRAINING, EXIT_USER
from whisper_tui.system.quiet import quiet_libraries


# -- profiles --------------------------------------------------------------------------------
def profile_from_args(args):
    from whisper_tui.cli.profile_flags import flag_overrides, set_overrides
    from whisper_tui.config.profile import DEFAULT_PROFILE, apply_overrides, import_seed_config, load_profile

    if getattr(args, "config", None):
        profile = import_seed_config(Path(args.config))
    else:
        profile = load_profile(args.profile or DEFAULT_PROFILE)
    overrides = {**flag_overrides(args), **set_overrides(getattr(args, "set", None))}
    return apply_overrides(profile, overrides) if overrides else profile


# -- train -----------------------------------------------------------------------------------
def run_training(profile, output=None, resume=None, evaluate_base=True, quiet=False):
    """Run a job in a worker thread so the main thread can turn Ctrl+C into a clean cancel."""
    from whisper_tui.training.runs import runs_root_for
    from whisper_tui.training.events import RunCancelled, RunFailed
    from whisper_tui.training.job import TrainingJob

    printer = [TrainingPrinter(quiet=quiet)] if os.environ.get("RANK", "0") == "0" else []  # torchrun: rank 0 talks
    runs_root = runs_root_for(profile) if not output and not resume else None  # the profile's output.dir
    job = TrainingJob(profile, output, resume_from=resume, listeners=printer, evaluate_base=evaluate_base,
                      runs_root=runs_root)
    interrupts = {"n": 0}

    def on_sigint(signum, frame):
        interrupts["n"] += 1
        if interrupts["n"] == 1:
            say("\ncancelling: saving a checkpoint (Ctrl+C again to abort without one)", err=True)
            job.cancel()
        else:
            raise KeyboardInterrupt

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, on_sigint)
        if hasattr(signal, "SIGHUP"):
            # A headless run outlives its terminal (SSH drop): keep training, stop printing.
            previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, signal.SIG_IGN)
        if hasattr(signal, "SIGTERM"):
            previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, lambda s, f: job.cancel())
    try:
        job.start()
        while not job.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    result = job.result
    if isinstance(result, RunFailed):
        return job, EXIT_TRAINING if result.error_type not in _USER_ERRORS else EXIT_USER
    if isinstance(result, RunCancelled):
        say(f"resume with: whisper-tui train --resume {job.run_dir}", err=True)
        return job, EXIT_CANCELLED
    return job, EXIT_OK


_USER_ERRORS = {"DatasetError", "ProfileError", "ModelError", "OfflineError", "AudioError", "RunFolderError"}


def cmd_train(args) -> int:
    quiet_libraries()
    if args.resume:
        profile = _resume_profile(args)
    else:
        profile = profile_from_args(args)
    _job, code = run_training(profile, args.output, args.resume, evaluate_base=not args.no_base_eval,
                              quiet=args.quiet)
    return code


RESUME_MAY_CHANGE = ("training.num_train_epochs", "training.max_steps")  # a resumed run may train longer


def _resume_profile(args):
    """A resumed run keeps the profile it started with; only its length may change (to train longer)."""
    from whisper_tui.errors import ProfileError, RunFolderError
    from whisper_tui.config.profile import apply_overrides, load_profile

    run_dir = Path(args.resume).expanduser()
    if run_dir.name.startswith("checkpoint-"):
        run_dir = run_dir.parent.parent
    profile_file = run_dir / "profile.toml"
    if not profile_file.exists():
        from whisper_tui.training.run_folder import nothing_to_resume

        # a run killed before it saved its profile (loading data or the model) vs a folder that never held a run
        raise nothing_to_resume(run_dir) or RunFolderError(
            f"{run_dir}: no profile.toml, so this is not a whisper-tui run folder",
            "pass the folder given as --output (or printed) when the run started", where=str(run_dir))
    from whisper_tui.cli.profile_flags import flag_dest, flag_name, flag_overrides
    from whisper_tui.config.profile_schema import flag_settings

    may_change = [spec for spec in flag_settings() if spec.key in RESUME_MAY_CHANGE]
    fixed = {"--profile": "profile", "--config": "config", "--output": "output"}
    fixed |= {flag_name(spec): flag_dest(spec) for spec in flag_settings() if spec not in may_change}
    changed = [flag for flag, dest in fixed.items() if getattr(args, dest, None) is not None]
    if changed or args.set:
        raise ProfileError(f"--resume continues {run_dir} with its saved profile; {', '.join(changed) or '--set'} "
                           "cannot change it", f"only {' and '.join(map(flag_name, may_change))} may be given with "
                           "--resume; start a new run for other changes")
    overrides = flag_overrides(args, may_change)
    profile = load_profile(profile_file)
    return apply_overrides(profile, overrides) if overrides else profile


# -- evaluate --------------------------------------------------------------------------------
def _data_dir(arg) -> Path:
    from whisper_tui.config.locations import default_sample_data_dir

    if arg:
        return Path(arg).expanduser()
    from whisper_tui.data.sample_data import DEFAULT_CLIPS, ensure_sample_dataset

    bar = ProgressBar("sample data", DEFAULT_CLIPS)  # drawn only if it has to be made
    try:
        return ensure_sample_dataset(default_sample_data_dir(), log=lambda message: say(message, err=True),
                                     on_progress=bar)
    finally:
        bar.close()


def evaluate_on(model_name: str, data_dir: Path, test_split: float, seed: int, batch_size: int = 8,
                label: str = "evaluate", split_by: str = "auto", *, groups: dict[str, str] | None = None,
                keep: list | None = None, keep_dir: str | None = None, backend: str = "torch",
                prompt: str | None = None):
    """The test split's report; `groups` (file_name -> label; default: known / new voices when metadata.csv has
    a speaker column) adds per-subset scores, `keep` (the keep
    set's clips, from `keep_set_for`) adds general speech measured with the same model as `report.keep`;
    `prompt` (previous text) goes before every clip, keep set included."""
    from whisper_tui.data.dataset import load_dataset_split
    from whisper_tui.inference.evaluate import evaluate_model
    from whisper_tui.inference.transcribe import Transcriber

    _train, test, data_report = load_dataset_split(data_dir, test_split, seed, split_by=split_by)
    if not test:
        raise DatasetError(f"{data_dir}: the test split is empty", "raise --test-split (1.0 uses every clip)")
    say(f"test set: {data_report.split.describe_test()} ({data_report.split.how})", err=True)
    for note in data_report.split.notes:
        say(f"warning: {note}", err=True)
    transcriber = Transcriber(model_name, batch_size=batch_size, backend=backend, prompt=prompt)
    if transcriber.windows_note:  # an any-window model (model.windows)
        say(f"model {model_name}: {transcriber.windows_note}", err=True)
    if transcriber.prompt:
        say(f"prompt: {transcriber.prompt}", err=True)
    bar = ProgressBar(label, len(test))
    if groups is None:  # "known voices" / "new voices" when the data names its speakers
        groups = data_report.split.test_groups() or None
    try:
        report = evaluate_model(transcriber, test, batch_size=batch_size, on_progress=bar, groups=groups)
    finally:
        bar.close()
    if keep:  # general speech with the same model (loaded once)
        from whisper_tui.inference.evaluate import keep_summary

        keep_bar = ProgressBar("general speech", len(keep))
        try:
            keep_report = evaluate_model(transcriber, keep, batch_size=batch_size, on_progress=keep_bar)
        finally:
            keep_bar.close()
        report.keep = keep_summary(keep_report, keep_dir)
    return report


def keep_set_for(keep_dir: str | None) -> list | None:
    """The keep set's clips for `evaluate`: its recorded speech (keep_set.py) and --keep-dir, without the eSpeak
    sentences, so the one figure is real speech (synthetic speech is too easy to show forgetting). A bad
    --keep-dir is an error; a bundled set that cannot be read is a warning and None (not measured)."""
    from whisper_tui.data.keep_set import keep_clips

    warn = lambda message: say(f"warning: {message}", err=True)  # noqa: E731
    if keep_dir:
        return keep_clips(keep_dir, synthetic=False, log=warn)
    try:
        return keep_clips(synthetic=False, log=warn)
    except WhisperTuiError as exc:
        warn(f"general speech not measured: {exc}")
        return None


def cmd_evaluate(args) -> int:
    quiet_libraries()
    data_dir = _data_dir(args.data)
    if args.no_keep and args.keep_dir:
        raise WhisperTuiError("--keep-dir and --no-keep contradict each other",
                              "drop --no-keep to measure general speech on the keep set, or drop --keep-dir")
    keep = None if args.no_keep else keep_set_for(args.keep_dir)
    from whisper_tui.inference.prompts import resolve_prompt

    prompt = resolve_prompt(getattr(args, "prompt", None), args.model, getattr(args, "profile", None))
    report = evaluate_on(args.model, data_dir, args.test_split, args.seed, args.batch_size,
                         split_by=args.split_by, keep=keep, keep_dir=args.keep_dir,
                         backend=getattr(args, "backend", "torch"), prompt=prompt)
    rows = None if args.rows < 0 else args.rows
    if rows != 0:
        say(report.format_table(max_rows=rows))
    say(f"model {args.model}: WER {report.wer:.3f}  CER {report.cer:.3f}  on {report.n_clips} clips "
        f"({report.audio_seconds:.0f}s of audio in {report.elapsed_s:.1f}s)")
    if rows == 0:  # the table prints these under its totals
        for line in [report.hallucination_line(), *report.subset_lines()]:
            say(line)
    if report.keep is not None:
        from whisper_tui.inference.evaluate import keep_line

        say(keep_line(report.keep))
    target = Path(args.report) if args.report else _default_report_path(args.model)
    report.save(target)
    say(f"report saved: {target}", err=True)
    return EXIT_OK


def _default_report_path(model_name: str) -> Path:
    from whisper_tui.config.locations import data_dir

    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model_name)[-60:]
    import time

    return data_dir() / "reports" / f"eval-{time.strftime('%Y%m%d-%H%M%S')}-{safe}.json"


# -- transcribe ------------------------------------------------------------------------------
def cmd_transcribe(args) -> int:
    quiet_libraries()
    if getattr(args, "format", None) or getattr(args, "output_dir", None) or getattr(args, "word_timestamps", False):
        from whisper_tui.cli.timed_command import run_timed

        return run_timed(args)
    from whisper_tui.inference.prompts import resolve_prompt
    from whisper_tui.inference.transcribe import Transcriber, list_audio_files

    files = list_audio_files(Path(args.path).expanduser())
    models = [args.model] + ([args.compare] if args.compare else [])
    results = {}
    for name in models:
        prompt = resolve_prompt(getattr(args, "prompt", None), name, getattr(args, "profile", None))
        transcriber = Transcriber(name, batch_size=args.batch_size, backend=getattr(args, "backend", None) or "torch",
                                  prompt=prompt)
        if transcriber.windows_note:  # an any-window model (model.windows)
            say(f"[{name}] {transcriber.windows_note}", err=True)
        bar = ProgressBar(f"transcribe [{name}]", len(files))
        done = {"n": 0}

        def on_result(_r, bar=bar, done=done):
            done["n"] += 1
            bar.update(done["n"])

        try:
            results[name] = transcriber.transcribe_files(files, on_result=on_result)
        finally:
            bar.close()
    failures = 0
    for i, path in enumerate(files):
        rows = [results[m][i] for m in models]
        if args.json:
            say(json.dumps({"file": str(path), **{m: (r.error or r.text) for m, r in zip(models, rows)},
                            "duration_s": rows[0].duration_s}))
            continue
        say(f"{path.name} ({rows[0].duration_s:.1f}s)")
        for m, r in zip(models, rows):
            tag = f"  [{m}] " if args.compare else "  "
            say(tag + (f"ERROR: {r.error}" if r.error else r.text))
        failures += any(r.error for r in rows)
    for m in models:
        rs = [r for r in results[m] if not r.error]
        audio = sum(r.duration_s for r in rs)
        elapsed = sum(r.elapsed_s for r in rs)
        if audio > 0 and elapsed > 0:
            say(f"[{m}] {audio:.1f}s of audio in {elapsed:.1f}s: real-time factor {elapsed / audio:.3f} "
                f"({audio / elapsed:.1f} audio-s/s)", err=True)
    if failures:
        say(f"error: {failures} file(s) could not be transcribed (see ERROR lines above)", err=True)
        return EXIT_USER
    return EXIT_OK


def cmd_export(args) -> int:
    from whisper_tui.cli.export_command import cmd_export as export

    return export(args)


# -- validate / sample data ------------------------------------------------------------------
def cmd_validate(args) -> int:
    from whisper_tui.data.dataset import load_dataset_split

    test_dir = Path(args.test_dir).expanduser() if args.test_dir else None
    _train, _test, report = load_dataset_split(Path(args.path).expanduser(), args.test_split, args.seed, test_dir,
                                               split_by=args.split_by)
    say(report.format_text())
    if report.test_report is not None:
        say("")
        say("Test folder:")
        say(report.test_report.format_text())
    errors = [p for p in report.problems if p.severity == "error"]
    return EXIT_USER if errors or not report.usable_clips else EXIT_OK


def cmd_import(args) -> int:
    from whisper_tui.cli.import_command import cmd_import as run_import

    return run_import(args)


def cmd_label(args) -> int:
    """Ctrl+C stops at the next window (files done are kept; the same command continues). Exit 2 when a
    file could not be read (the others are labelled), 130 when stopped."""
    import math

    from whisper_tui.labelling import label_folder

    quiet_libraries()
    bar = {"bar": None}

    def on_progress(p) -> None:
        if bar["bar"] is None:
            bar["bar"] = ProgressBar("label", max(1, math.ceil(p.total_s)))
        bar["bar"].update(int(p.done_s), f"s of audio · file {min(p.files_done + 1, p.files_total)}/{p.files_total}")

    try:
        with stop_on_ctrl_c("stopping: files done so far are kept, the one in progress is labelled next time") as stop:
            report = label_folder(args.audio_dir, args.out, model=args.model, backend=args.backend,
                                  on_progress=on_progress, should_stop=stop.is_set,
                                  log=lambda m: say(m, err=True))
    finally:
        if bar["bar"] is not None:
            bar["bar"].close()
    say(report.summary())
    if report.stopped:
        return EXIT_CANCELLED
    return EXIT_USER if report.failed else EXIT_OK


def cmd_adapt_window(args) -> int:
    from whisper_tui.cli.adapt_window_command import cmd_adapt_window as adapt

    return adapt(args)


def cmd_sample_data(args) -> int:
    from whisper_tui.data.sample_data import make_sample_dataset

    bar = ProgressBar("sample data", args.clips)
    try:
        out = make_sample_dataset(Path(args.out).expanduser(), n_clips=args.clips, seed=args.seed, on_progress=bar)
    finally:
        bar.close()
    say(f"sample dataset written: {out} ({args.clips} clips; metadata.csv's split and speaker columns hold out "
        "sentences and voices for testing)")
    return EXIT_OK


# -- demo (README quick start) ---------------------------------------------------------------
def cmd_demo(args) -> int:
    quiet_libraries()
    from whisper_tui.config.profile import DEFAULT_PROFILE, apply_overrides, load_profile

    data_dir = _data_dir(args.data)
    profile = load_profile(args.profile or DEFAULT_PROFILE)
    profile = apply_overrides(profile, {"data.train_dir": str(data_dir.resolve())})
    say(f"== 1/3 base model {profile.model.name} on the test split of {data_dir}", err=True)
    keep = keep_set_for(profile.data.keep_dir or None) if profile.data.keep_set else None
    base = evaluate_on(profile.model.name, data_dir, profile.data.test_split, profile.data.split_seed,
                       profile.training.per_device_eval_batch_size, "base eval", split_by=profile.data.split_by,
                       keep=keep)
    say(f"base WER {base.wer:.3f}", err=True)
    say(f"== 2/3 fine-tuning with profile '{profile.name}' ({profile.describe()})", err=True)
    job, code = run_training(profile, args.output, evaluate_base=False, quiet=True)
    if code != EXIT_OK:
        return code
    say("== 3/3 tuned model on the same test split", err=True)
    tuned = evaluate_on(str(job.run_dir / "final"), data_dir, profile.data.test_split, profile.data.split_seed,
                        profile.training.per_device_eval_batch_size, "tuned eval", split_by=profile.data.split_by,
                        keep=keep)
    say(tuned.format_table(max_rows=10))
    report = {"base_wer": base.wer, "tuned_wer": tuned.wer, "base_cer": base.cer, "tuned_cer": tuned.cer,
              "run_dir": str(job.run_dir), "test_clips": tuned.n_clips,
              "subsets": {label: {"base_wer": base.subsets[label]["wer"], "tuned_wer": s["wer"]}
                          for label, s in tuned.subsets.items() if label in base.subsets},
              "keep": {"base_wer": base.keep["wer"], "tuned_wer": tuned.keep["wer"]}
              if base.keep and tuned.keep else None}
    from whisper_tui.storage.atomic import atomic_write_text

    atomic_write_text(job.run_dir / "demo.json", json.dumps(report, indent=2))
    say("")
    say(f"WER base {base.wer:.3f} -> tuned {tuned.wer:.3f}  "
        f"({'better' if tuned.wer < base.wer else 'NOT better'}; {tuned.n_clips} test clips, sentences never "
        "trained on)")
    for label, scores in report["subsets"].items():
        say(f"  {label}: {scores['base_wer']:.3f} -> {scores['tuned_wer']:.3f}")
    if report["keep"]:
        from whisper_tui.training.best_rule import keep_summary

        verdict = keep_summary(report["keep"]["base_wer"], report["keep"]["tuned_wer"], profile.training.keep_tolerance)
        if verdict:
            say("  " + verdict[0])
    say(f"model: {job.run_dir / 'final'}   try: whisper-tui transcribe {data_dir} --model {job.run_dir / 'final'} "
        f"--compare tiny.en")
    return EXIT_OK


# -- profiles / locate -----------------------------------------------------------------------
def cmd_profiles(args) -> int:
    from whisper_tui.config.profile import import_seed_config, list_profiles, load_profile, save_user_profile

    if args.action == "list":
        for info in list_profiles():
            kind = "built-in" if info.builtin else "user"
            say(f"{info.name:18} {kind:8} {info.description}")
        return EXIT_OK
    if not args.name:
        say(f"error: `profiles {args.action}` needs a name", err=True)
        return EXIT_USER
    if args.action == "show":
        say(load_profile(args.name).to_toml())
        return EXIT_OK
    profile = import_seed_config(Path(args.name))
    name = args.save_as or Path(args.name).stem
    path = save_user_profile(profile, name)
    say(f"imported {args.name} as profile '{name}' ({path})")
    return EXIT_OK


def cmd_cache(args) -> int:
    from whisper_tui.cli.cache_command import cmd_cache as cache

    return cache(args)


def cmd_doctor(args) -> int:
    from whisper_tui.cli.doctor_command import cmd_doctor as doctor

    return doctor(args)


def cmd_locate(args) -> int:
    from whisper_tui.config import locations

    for label, path in [("config", locations.config_dir()), ("profiles", locations.user_profiles_dir()),
                        ("built-in profiles", locations.builtin_profiles_dir()), ("cache", locations.cache_dir()),
                        ("converted models", locations.converted_models_dir()),
                        ("sample data", locations.default_sample_data_dir()),
                        ("runs", locations.default_runs_dir())]:
        say(f"{label:18} {path}")
    from whisper_tui.training.runs import remembered_runs_roots

    for path in remembered_runs_roots():  # profiles' output.dir that runs were started in
        say(f"{'runs (output.dir)':18} {path}")
    return EXIT_OK
