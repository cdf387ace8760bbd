"""`adapt_window(audio_dir, model, output)`: the model's own 30 s transcripts distilled into shorter windows.

Steps, each kept on disk under `output` so a stopped run loses little and a rerun redoes nothing it
need not:
1. the recordings of `audio_dir` split by file into adapt / held-out (`split.py`);
2. the teacher (the model at its 30 s window) labels both sides (`teacher.py`, `whisper-tui label`);
   the rows it was unsure of are left out of the student's data;
3. the student (the same weights) is fine-tuned at every window of `windows` on the adapt side
   (a `TrainingJob` from the built-in cpu-quick profile, `model.windows`), LoRA merged into a full model;
4. agreement with the teacher on the held-out side, before and after, at each window (`agreement.py`).

`output` ends up a model folder (`whisper-tui transcribe --model OUTPUT`) whose saved feature-extractor config
(processor_config.json under transformers 5, `window.saved_windows`) lists the windows it runs at, with the
work beside it:
    adapt_window.json   the report (status, counts, figures), rewritten after every step
    split/<side>/       links to the recordings of each side (what the labeller reads)
    teacher/<side>/     the teacher's label datasets (reviewable in the app; a rerun skips what is done)
    teacher_model/      only for a model that already runs at several windows: it at its longest one
    student_data/<side>/ the rows kept for the student (hard-linked clips + metadata.csv)
    runs/<run>/         the training run
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from whisper_tui.errors import AudioError, DatasetError, ModelError, ProfileError, TrainingError, WhisperTuiError
from whisper_tui.training.adapt_window import agreement
from whisper_tui.training.adapt_window.settings import REPORT_FILE, STRATEGIES, AdaptSettings
from whisper_tui.training.adapt_window.split import ADAPT, HELD_OUT, SIDES, FileSplit, link_recordings, split_files
from whisper_tui.training.adapt_window.teacher import MIN_CONFIDENCE, RowFilter, filter_rows, read_label_rows, \
    teacher_model, write_student_data

BASE_PROFILE = "cpu-quick"
# The model files copied from the run into the output folder; config.json goes last, so a folder cut short
# while copying is not taken for a model.
_MODEL_FILES_LAST = ("config.json",)


@dataclass
class AdaptReport:
    output: Path
    model: str
    settings: AdaptSettings
    status: str = "started"  # started | labelling | measuring | training | finished | stopped | failed
    split: FileSplit | None = None
    labels: dict[str, dict] = field(default_factory=dict)  # side -> LabelReport.to_json()
    filters: dict[str, RowFilter] = field(default_factory=dict)
    run_dir: Path | None = None
    training: dict = field(default_factory=dict)
    before: dict[str, dict] | None = None
    after: dict[str, dict] | None = None
    elapsed_s: float = 0.0

    @property
    def stopped(self) -> bool:
        return self.status == "stopped"

    def to_json(self) -> dict:
        s = self.settings
        return {"status": self.status, "model": self.model, "result": str(self.output), "windows": list(s.windows),
                "strategy": s.strategy, "held_out_share": s.held_out, "seed": s.seed,
                "min_confidence": s.min_confidence,
                "recordings": {side: list(self.split.side(side)) for side in SIDES} if self.split else None,
                "teacher": {side: {"label": self.labels.get(side),
                                   "rows": self.filters[side].to_json() if side in self.filters else None}
                            for side in SIDES},
                "run_dir": str(self.run_dir) if self.run_dir else None, "training": self.training,
                "agreement": {"reference": "the model's own 30 s transcripts of the held-out recordings",
                              "before": self.before, "after": self.after},
                "elapsed_s": round(self.elapsed_s, 1)}

    def save(self) -> None:
        from whisper_tui.storage.atomic import atomic_write_text

        atomic_write_text(self.output / REPORT_FILE, json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")

    def table(self) -> str:
        return agreement.format_table(self.before or {}, self.after)

    def summary(self) -> str:
        lines = []
        if self.split:
            lines.append(f"recordings: {len(self.split.adapt)} to adapt on, {len(self.split.held_out)} held out")
        for side in SIDES:
            if side in self.filters:
                f = self.filters[side]
                lines.append(f"teacher rows ({side.replace('_', '-')}): {len(f.kept)} kept, {f.n_left_out} left out "
                             f"({f.describe()})")
        if self.before is not None:
            lines.append(self.table())
        if self.status == "finished":
            lines.append(f"adapted model: {self.output}   try: whisper-tui transcribe AUDIO --model {self.output}")
        elif self.stopped:
            lines.append(f"stopped before the end: what is done is kept in {self.output}; the same command continues "
                         "(files already labelled are not labelled again; training goes on from its last checkpoint)")
        return "\n".join(lines)


# -- checks ------------------------------------------------------------------------------------
def model_window(model: str) -> int:
    """The model's own window in seconds (config.json; a short-window adapter's processor), without loading it."""
    from whisper_tui.models.loading import resolve_model
    from whisper_tui.models.window import POSITIONS_PER_SECOND, saved_window_s

    ref = resolve_model(model)  # ModelError when it cannot be found
    base = ref.base if ref.kind == "adapter" and ref.base is not None else ref
    try:
        config = json.loads((Path(base.path) / "config.json").read_text())
        window = int(config["max_source_positions"]) // POSITIONS_PER_SECOND
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{model}: cannot read its config.json ({exc})", "give a Whisper model folder or tiny.en",
                         where=str(model)) from exc
    return min(window, saved_window_s(Path(ref.path)))  # an adapter trained at a short window on a 30 s base


def check_windows(windows: Iterable[int], own: int) -> tuple[int, ...]:
    """`windows` sorted, each at most the model's own window, which must be among them."""
    try:
        found = tuple(sorted({int(w) for w in windows}))
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"--windows: whole seconds expected ({exc})", f"e.g. --windows 10,20,{own}",
                           where="model.windows") from exc
    if not found or found[0] <= 0:
        raise ProfileError(f"--windows {','.join(map(str, found))}: windows are positive seconds",
                           f"e.g. --windows 10,20,{own}", where="model.windows")
    if found[-1] > own:
        raise ProfileError(f"--windows {','.join(map(str, found))}: {found[-1]} s is longer than the model's own "
                           f"{own} s window", f"the longest window must be {own}, e.g. --windows 10,20,{own}",
                           where="model.windows")
    if found[-1] != own:
        raise ProfileError(f"--windows {','.join(map(str, found))}: the model's own {own} s window is missing",
                           f"add {own} (e.g. --windows {','.join(map(str, found))},{own}): it keeps long clips "
                           "as accurate as before and the faster-whisper export", where="model.windows")
    if len(found) < 2:
        raise ProfileError(f"--windows {own}: only the model's own window, so nothing to adapt to",
                           f"add shorter windows, e.g. --windows 10,20,{own}", where="model.windows")
    return found


def check_output(output: Path, audio_dir: Path, model: str) -> None:
    if output.exists() and not output.is_dir():
        raise DatasetError(f"{output} exists and is not a folder", "give a new folder for the adapted model",
                           where=str(output))
    if output.is_dir() and any(output.iterdir()) and not (output / REPORT_FILE).is_file():
        raise DatasetError(f"{output} already holds files that adapt-window did not write (no {REPORT_FILE})",
                           "give a new or empty folder, or an earlier adapt-window output; nothing was changed",
                           where=str(output))
    if Path(model).expanduser().exists() and Path(model).expanduser().resolve() == output.resolve():
        raise DatasetError(f"{output} is the model being adapted", "write the adapted model to another folder",
                           where=str(output))
    if audio_dir.resolve() == output.resolve():
        raise DatasetError(f"{output} is the audio folder", "write the adapted model to another folder",
                           where=str(output))


def list_audio(audio_dir: Path, output: Path) -> list[str]:
    """The recordings the labeller would read (`labelling.run.list_recordings`), relative posix paths."""
    from whisper_tui.labelling.run import list_recordings

    if not audio_dir.is_dir():
        raise AudioError(f"{audio_dir} {'is not a folder' if audio_dir.exists() else 'does not exist'}",
                         "give the folder that holds your recordings", where=str(audio_dir))
    files = list_recordings(audio_dir, skip=output.resolve())
    if not files:
        from whisper_tui.data.audio import AUDIO_EXTENSIONS

        raise AudioError(f"no audio files in {audio_dir}",
                         f"supported: {', '.join(sorted(AUDIO_EXTENSIONS))} (sub-folders are searched too)",
                         where=str(audio_dir))
    return [f.relative_to(audio_dir).as_posix() for f in files]


# -- the student's profile -----------------------------------------------------------------------
def student_profile(model: str, windows: tuple[int, ...], train_dir: Path, test_dir: Path, runs_dir: Path,
                    settings: AdaptSettings):
    """cpu-quick with the model, windows, data and strategy of this adaptation (then `settings.overrides`)."""
    from whisper_tui.config.profile import apply_overrides, load_profile

    overrides: dict[str, object] = {
        "model.name": model, "model.window_s": 0, "model.windows": list(windows),
        "data.train_dir": str(train_dir), "data.test_dir": str(test_dir),
        "data.only_reviewed": "false",  # the teacher's rows are all `auto`; the unsure ones are already out
        "finetuning.strategy": settings.strategy, "output.merge_lora": True, "output.dir": str(runs_dir)}
    if settings.budget_s is not None:
        overrides["training.budget_s"] = settings.budget_s
    profile = apply_overrides(load_profile(BASE_PROFILE), overrides, origin="adapt-window")
    if settings.overrides:
        profile = apply_overrides(profile, dict(settings.overrides), origin="--set")
    return profile


def held_out_clips(data_dir: Path) -> list[agreement.HeldOutClip]:
    from whisper_tui.data.audio import audio_info
    from whisper_tui.data.metadata import read_metadata

    clips, _problems = read_metadata(data_dir)
    return [agreement.HeldOutClip(str(c.path), c.transcription, audio_info(c.path).duration_s) for c in clips]


def install_model(source: Path, output: Path) -> None:
    """The trained model's files into `output` (beside the work folders), each replaced atomically."""
    from whisper_tui.storage.atomic import atomic_write_bytes

    files = sorted((p for p in source.iterdir() if p.is_file() and not p.name.startswith(".")),
                   key=lambda p: (p.name in _MODEL_FILES_LAST, p.name))
    (output / "config.json").unlink(missing_ok=True)  # not a model until every file is in place
    for path in files:
        tmp = output / f".{path.name}.{os.getpid()}.tmp"
        try:
            os.link(path, tmp)
        except OSError:
            shutil.copyfile(path, tmp)
        if path.name in _MODEL_FILES_LAST:  # written last, through the atomic writer (fsynced)
            tmp.unlink()
            atomic_write_bytes(output / path.name, path.read_bytes())
        else:
            os.replace(tmp, output / path.name)


# -- the run ---------------------------------------------------------------------------------
class _Stopped(Exception):
    pass


def adapt_window(audio_dir: str | os.PathLike, model: str, output: str | os.PathLike,
                 settings: AdaptSettings | None = None, *, log: Callable[[str], None] | None = None,
                 on_label_progress: Callable[[str, object], None] | None = None,
                 on_measure: Callable[[str, int, int], None] | None = None,
                 listeners: Iterable[Callable] = (), should_stop: Callable[[], bool] | None = None) -> AdaptReport:
    """Adapt `model` to shorter windows on the recordings of `audio_dir`; the result model is `output`.

    `on_label_progress(side, labelling.LabelProgress)` while the teacher labels, `listeners` get the
    training run's events (`training.events`), `on_measure(which, done, total)` per window measured.
    `should_stop()` ends the run at the next step boundary (labelling file, training checkpoint,
    window): the report says `stopped`, what was done stays. Bad input raises a WhisperTuiError
    subclass before anything is written.
    """
    settings = settings or AdaptSettings()
    log = log or (lambda _m: None)
    stop = should_stop or (lambda: False)
    started = time.perf_counter()
    audio_dir = Path(audio_dir).expanduser().absolute()
    output = Path(output).expanduser().absolute()
    if settings.strategy not in STRATEGIES:
        raise ProfileError(f"--strategy {settings.strategy}: not one of {', '.join(STRATEGIES)}",
                           "lora (the default) or full", where="finetuning.strategy")
    if not 0.0 < settings.held_out < 1.0:
        raise ProfileError(f"--held-out {settings.held_out:g}: the share of recordings held out must be between 0 "
                           "and 1", "e.g. --held-out 0.2", where="held_out")
    rels = list_audio(audio_dir, output)
    check_output(output, audio_dir, model)
    windows = check_windows(settings.windows, model_window(model))
    split = split_files(rels, settings.held_out, settings.seed, where=str(audio_dir))
    settings = dataclasses.replace(settings, windows=windows, min_confidence=MIN_CONFIDENCE
                                   if settings.min_confidence is None else settings.min_confidence)
    output.mkdir(parents=True, exist_ok=True)
    # the student's run of an earlier, stopped adapt-window into `output`: continued, not started over
    report = AdaptReport(output, str(model), settings, split=split, run_dir=earlier_run(output))
    report.save()
    try:
        _label(report, audio_dir, log, on_label_progress, stop)
        clips = held_out_clips(output / "student_data" / HELD_OUT)
        report.status = "measuring"
        log(f"measuring {model} before adaptation on {len(clips)} held-out clip(s) at {_windows_text(windows)}")
        report.before = _measure(str(model), clips, windows, settings, "before", on_measure, stop)
        report.save()
        student = train_student(report, log, listeners, stop)
        install_model(student, output)
        _check_saved_windows(output, windows, log)
        report.status = "measuring"
        log(f"measuring the adapted model on the same clips at {_windows_text(windows)}")
        report.after = _measure(str(output), clips, windows, settings, "after", on_measure, stop)
        report.status = "finished"
    except _Stopped:
        report.status = "stopped"
    except KeyboardInterrupt:  # a second Ctrl+C: stopped at once, what is on disk stays
        report.status = "stopped"
        raise
    finally:
        report.elapsed_s = time.perf_counter() - started
        if report.status not in ("finished", "stopped"):
            report.status = "failed"
        report.save()
    return report


def _windows_text(windows: tuple[int, ...]) -> str:
    return ", ".join(f"{w} s" for w in windows)


def _label(report: AdaptReport, audio_dir: Path, log, on_progress, stop) -> None:
    from whisper_tui.labelling import label_folder

    output = report.output
    report.status = "labelling"
    teacher = teacher_model(report.model, output / "teacher_model")  # at its longest window only
    for side in SIDES:
        rels = report.split.side(side)
        link_recordings(audio_dir, rels, output / "split" / side)
        log(f"teacher: {report.model} at its own window labels the {len(rels)} {side.replace('_', '-')} "
            f"recording(s) into {output / 'teacher' / side}")
        labelled = label_folder(output / "split" / side, output / "teacher" / side, model=teacher,
                                backend=report.settings.backend, should_stop=stop, log=log,
                                on_progress=(lambda p, side=side: on_progress(side, p)) if on_progress else None)
        report.labels[side] = labelled.to_json()
        log(labelled.summary())
        report.save()
        if labelled.stopped:
            raise _Stopped
        rows = filter_rows(read_label_rows(output / "teacher" / side), set(rels), report.settings.min_confidence)
        report.filters[side] = rows
        log(f"teacher rows ({side.replace('_', '-')}): {len(rows.kept)} kept; left out: {rows.describe()}")
        if not rows.kept:
            raise DatasetError(f"the teacher kept no clip of the {side.replace('_', '-')} recordings "
                               f"({output / 'teacher' / side}: left out {rows.describe()}; "
                               f"{labelled.written} row(s) written, silence/no speech: {labelled.left_out or 'none'})",
                               "give recordings with speech in them (several minutes, several files)",
                               where=str(output / "teacher" / side))
        write_student_data(output / "teacher" / side, rows.kept, output / "student_data" / side)
        report.save()


def _measure(model: str, clips, windows, settings: AdaptSettings, which: str, on_measure, stop) -> dict:
    texts = agreement.transcribe_at_windows(model, clips, windows, batch_size=settings.batch_size, should_stop=stop,
                                            on_window=(lambda d, t: on_measure(which, d, t)) if on_measure else None)
    if len(texts.texts) < len(windows):
        raise _Stopped
    return agreement.scores(clips, texts, windows)


def earlier_run(output: Path) -> Path | None:
    """The student run an earlier adapt-window into `output` started (its report's run_dir), if any."""
    try:
        run_dir = json.loads((output / REPORT_FILE).read_text(encoding="utf-8")).get("run_dir")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(run_dir) if isinstance(run_dir, str) and run_dir else None


def student_model(run_dir: Path, strategy: str) -> Path:
    """The full-model folder of a finished student run: merged/ (LoRA merged in) or final/."""
    merged = run_dir / "merged"
    return merged if strategy != "full" and merged.is_dir() else run_dir / "final"


def continuable(run_dir: Path | None, profile) -> tuple[str, str]:
    """What to do with the earlier student run: ("finished" | "resume" | "new", why).

    Only a run of this same profile (same windows, data, strategy, --set) is continued; a stopped one
    resumes from its last complete checkpoint (the TrainingJob's own resume), a finished one is used as
    it is (stopped after training, before its model was installed or measured)."""
    from whisper_tui.config.profile import load_profile
    from whisper_tui.training.run_folder import RunFolder

    if run_dir is None or not (run_dir / "profile.toml").is_file():
        return "new", ""
    try:
        same = load_profile(run_dir / "profile.toml") == profile
    except WhisperTuiError:
        same = False
    if not same:
        return "new", f"the settings changed since {run_dir} was started, so the student trains again from the start"
    folder = RunFolder(run_dir)
    if folder.read_status().get("status") == "finished" and (student_model(run_dir, profile.finetuning.strategy)
                                                             / "config.json").exists():
        return "finished", f"{run_dir} finished training earlier: its model is used"
    if folder.complete_checkpoints():
        return "resume", f"continuing {run_dir} from its last checkpoint"
    return "new", f"{run_dir} stopped before its first checkpoint, so the student trains again from the start"


def train_student(report: AdaptReport, log, listeners, stop) -> Path:
    """The student trained into runs/<run>; returns its full-model folder (merged/ or final/).

    `report.run_dir`, the run of an earlier adapt-window that was stopped, is continued when it can be
    (`continuable`): a Ctrl+C during training loses at most the steps since the last checkpoint."""
    from whisper_tui.training.events import RunCancelled, RunFailed
    from whisper_tui.training.job import TrainingJob, new_run_dir
    from whisper_tui.training.run_folder import RunFolder
    from whisper_tui.training.runs import runs_root_for

    output, settings = report.output, report.settings
    profile = student_profile(report.model, settings.windows, output / "student_data" / ADAPT,
                              output / "student_data" / HELD_OUT, output / "runs", settings)
    report.status = "training"
    how, why = continuable(report.run_dir, profile)
    if why:
        log(f"student: {why}")
    if how == "finished":
        status = RunFolder(report.run_dir).read_status()
        report.training = {"status": "finished", **{k: v for k, v in status.items() if k in _TRAINING_FIGURES}}
        return student_model(report.run_dir, settings.strategy)
    if how == "resume":
        job = TrainingJob(profile, resume_from=report.run_dir, listeners=list(listeners),
                          evaluate_base=settings.evaluate_base)
    else:  # output.dir = OUTPUT/runs, remembered by runs_root_for: the app's Runs screen lists the student's run
        job = TrainingJob(profile, new_run_dir("adapt-window", runs_root_for(profile)), listeners=list(listeners),
                          evaluate_base=settings.evaluate_base)
    report.run_dir = job.run_dir
    report.save()
    log(f"student: {report.model} trained at {_windows_text(settings.windows)} ({settings.strategy}) in {job.run_dir}")
    job.start()
    while not job.wait(0.5):
        if stop():
            job.cancel()
            job.wait()
            break
    result = job.result
    if isinstance(result, RunCancelled):
        report.training = {"status": "cancelled", "step": result.step}
        raise _Stopped
    if isinstance(result, RunFailed):
        report.training = {"status": "failed", "reason": result.reason}
        raise TrainingError(f"training the student failed: {result.reason}", result.hint or f"see {job.run_dir}/train.log",
                            where=str(job.run_dir))
    report.training = {"status": "finished", **{k: v for k, v in result.metrics.items()
                                                  if isinstance(v, int | float | str | bool | type(None))}}
    return student_model(job.run_dir, settings.strategy)


# what the report keeps of a finished run's run.json when that run is used again (train_student)
_TRAINING_FIGURES = ("base_wer", "best_wer", "final_wer", "base_keep_wer", "best_keep_wer", "final_keep_wer",
                     "stopped", "duration_s")


def _check_saved_windows(output: Path, windows: tuple[int, ...], log) -> None:
    from whisper_tui.models.window import saved_windows

    saved = saved_windows(output)
    if tuple(saved) != tuple(windows):
        log(f"warning: the adapted model records the windows {_windows_text(tuple(saved))}, not "
            f"{_windows_text(windows)} (its preprocessor_config.json)")
