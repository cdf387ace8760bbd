"""Test doubles and small apps for the Dashboard/Transcribe/Runs screen tests and snapshots.

`ScriptedJob` honours the TrainingJob interface (start/pause/resume/cancel/wait/state/run_dir,
listeners called with real `whisper_tui.training.events` objects) but plays a fixed script
instead of training, so the dashboard's reaction to each event can be checked exactly.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from whisper_tui.system.sysmon import GpuStats, SystemStats
from whisper_tui.training.events import (
    CheckpointSaved,
    EvalEvent,
    LogEvent,
    Paused,
    Resumed,
    RunCancelled,
    RunFinished,
    RunStarted,
    StepEvent,
)


class ScriptedJob:
    """Emits `script` events to its listeners when `play()` is called (or on start if autoplay)."""

    def __init__(self, profile, output_dir=None, resume_from=None, listeners=(), *, script=(), autoplay=False,
                 run_dir: Path | None = None):
        self.profile = profile
        self.listeners = list(listeners)
        self.script = list(script)
        self.autoplay = autoplay
        self.run_dir = Path(run_dir or output_dir or "/tmp/fake-run")
        self.state = "idle"
        self.calls: list[str] = []
        self._done = threading.Event()

    def emit(self, event) -> None:
        for listener in self.listeners:
            listener(event)

    def play(self, events=None) -> None:
        for event in self.script if events is None else events:
            self.emit(event)

    def start(self) -> None:
        self.calls.append("start")
        self.state = "running"
        if self.autoplay:
            threading.Thread(target=self.play, daemon=True).start()

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")

    def cancel(self) -> None:
        self.calls.append("cancel")

    def wait(self, timeout=None) -> bool:
        return self._done.wait(timeout)


class FakeData:
    train_dir = "/data/speech"
    keep_set = False


class FakeProfile:
    name = "quick-test"
    data = FakeData()


def training_script(run_dir: Path, total: int = 40, evals=(10, 20, 30, 40), finish: bool = True) -> list:
    """A plausible run: start, base eval, steps with falling loss, periodic evals, finish."""
    events: list = [
        LogEvent(f"run folder: {run_dir}"),
        RunStarted(run_dir, total, 2.0, 24, 6, "lora", 150_000, 39_000_000, "cpu", "fp32"),
        EvalEvent(0, 0.0, 0.42, 0.21, 1.9, False),
    ]
    best = None
    for step in range(1, total + 1):
        loss = 3.0 * (0.95 ** step) + 0.2 * ((step * 7) % 5) / 5
        lr = 1e-4 * min(1.0, step / 8) * (1 - step / (total + 1))
        events.append(StepEvent(step, total, 2.0 * step / total, loss, lr, 8.5, (total - step) * 0.9))
        if step in evals:
            wer = 0.40 - 0.06 * evals.index(step) + (0.05 if step == 30 else 0.0)
            is_best = best is None or wer < best
            best = wer if is_best else best
            events.append(EvalEvent(step, 2.0 * step / total, wer, wer / 2, 1.0, is_best))
            if is_best:
                events.append(CheckpointSaved(run_dir / "best", step, "best"))
        if step == 15:
            events.append(LogEvent("loss is going down nicely", "info"))
        if step == 25:
            events.append(LogEvent("disk is getting full (2 GiB left)", "warning"))
    if finish:
        events.append(CheckpointSaved(run_dir / "final", total, "final"))
        events.append(LogEvent("finished in 36s"))
        events.append(RunFinished(run_dir, run_dir / "final", run_dir / "best", best, 36.0,
                                  {"base_wer": 0.42, "best_wer": best}))
    return events


PAUSE_RESUME = (Paused, Resumed)
CANCEL = RunCancelled


def gpu_machine_stats() -> SystemStats:
    """Deterministic gauges for snapshots: one GPU half full."""
    gib = 1024 ** 3
    return SystemStats(cpu_percent=37.0, cpu_count=16, ram_used_bytes=12 * gib, ram_total_bytes=64 * gib,
                       process_rss_bytes=3 * gib,
                       gpus=(GpuStats(0, "NVIDIA H100 80GB HBM3", 40 * gib, 80 * gib, 63.0, 55.0),))


def no_gpu_stats() -> SystemStats:
    gib = 1024 ** 3
    return SystemStats(cpu_percent=91.0, cpu_count=2, ram_used_bytes=3 * gib, ram_total_bytes=8 * gib,
                       process_rss_bytes=gib, gpus=(), gpu_note="No NVIDIA GPU detected")


def write_fake_run(root: Path, name: str, *, status="finished", started="2025-03-01T10:00:00", profile="quick",
                   strategy="full", best_wer=0.2, base_wer=0.35, duration_s=300.0, steps=30, wer_curve=None,
                   loss_start=3.0, reason=None) -> Path:
    """A run folder as TrainingJob leaves it: run.json, metrics.jsonl (steps + evals incl. a base eval)."""
    run_dir = root / name
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({
        "status": status, "started": started, "finished": None, "profile": profile, "strategy": strategy,
        "model": "tiny.en", "best_wer": best_wer, "base_wer": base_wer, "final_wer": best_wer,
        "duration_s": duration_s, "pid": 1, "host": "test", "reason": reason}))
    records = [{"type": "eval", "step": 0, "epoch": 0.0, "wer": base_wer, "cer": base_wer / 2, "eval_loss": 2.0,
                "time": 0, "base": True}]
    wer_curve = wer_curve or [base_wer - (base_wer - best_wer) * k / 3 for k in (1, 2, 3)]
    for step in range(1, steps + 1):
        records.append({"type": "step", "step": step, "epoch": step / 10, "loss": loss_start * 0.93 ** step,
                        "learning_rate": 1e-5, "samples_per_second": 5.0, "time": step})
        if step % (steps // len(wer_curve)) == 0 and step // (steps // len(wer_curve)) <= len(wer_curve):
            wer = wer_curve[step // (steps // len(wer_curve)) - 1]
            records.append({"type": "eval", "step": step, "epoch": step / 10, "wer": wer, "cer": wer / 2,
                            "eval_loss": 1.0, "time": step, "base": False})
    (run_dir / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    (run_dir / "final").mkdir()
    return run_dir


class CannedTranscriber:
    """Stands in for whisper_tui.inference.transcribe.Transcriber in snapshots: fixed texts, fixed timings.

    `model_name` and `backend_info` follow the real ones ("... (CTranslate2 int8)" on the ct2 backend);
    the console shows `backend_info.label`.
    """

    batch_size = 2

    def __init__(self, model, texts: dict[str, str], backend: str = "torch"):
        self.model = model
        self.texts = texts
        self.backend = backend
        self.model_name = f"{model} (CTranslate2 int8)" if backend == "ct2" else str(model)
        from whisper_tui.inference.backends import backend_info

        self.backend_info = backend_info(backend, "int8" if backend == "ct2" else "float32", "cpu")

    def transcribe_files(self, paths, on_result=None):
        import soundfile as sf

        from whisper_tui.inference.transcribe import Transcription

        results = []
        for path in map(Path, paths):
            duration = sf.info(str(path)).duration
            text = self.texts.get(path.name, "")
            results.append(Transcription(path, text, duration, duration * (0.05 if "tiny" in str(self.model) else 0.08)))
            if on_result is not None:
                on_result(results[-1])
        return results

    def transcribe_file_timed(self, path):
        """One file as one segment over the whole clip (the real one decodes timestamps: inference/timed.py)."""
        from dataclasses import replace

        from whisper_tui.inference.subtitles import Segment

        result = self.transcribe_files([path])[0]
        return replace(result, segments=(Segment(0.0, result.duration_s, result.text),) if result.text else ())


def write_clips(folder: Path, names_and_seconds, references: dict[str, str] | None = None) -> Path:
    """Short synthetic wavs (+ metadata.csv when references are given)."""
    import numpy as np
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    for index, (name, seconds) in enumerate(names_and_seconds):
        t = np.arange(int(16000 * seconds)) / 16000
        sf.write(folder / name, (0.2 * np.sin(2 * np.pi * (200 + 50 * index) * t)).astype("float32"), 16000)
    if references:
        rows = ["file_name,transcription", *(f'{name},"{text}"' for name, text in references.items())]
        (folder / "metadata.csv").write_text("\n".join(rows) + "\n")
    return folder
