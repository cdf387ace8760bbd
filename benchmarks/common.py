"""Shared plumbing for the benchmarks: data, machine description, subprocess variants, tables, JSON.

Variants run in their own Python process so peak memory (ru_maxrss) belongs to one variant and one
variant's threads, caches or imports cannot help or hurt the next. The parent only orchestrates.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine_info() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        info["ram_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    try:
        info["load_avg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    return info


def sample_data_dir(n_clips: int = 120) -> Path:
    """The generated sample dataset (the one `whisper-tui demo` uses); made once if missing or outdated.

    Its metadata.csv splits it honestly (sample_data.py): the 36 test clips use sentence frames the 84
    training clips never have, half of them in two voices training never hears.
    """
    from whisper_tui.config.locations import default_sample_data_dir
    from whisper_tui.data.sample_data import DEFAULT_CLIPS, ensure_sample_dataset

    folder = default_sample_data_dir()
    if n_clips != DEFAULT_CLIPS:
        folder = folder.parent / f"sample-data-{n_clips}"
    return ensure_sample_dataset(folder, log=lambda message: print(message, file=sys.stderr), n_clips=n_clips)


def heldout_data_dir(n_clips: int = 120) -> Path:
    """The test side of `sample_data_dir()` as a folder of its own: sentences and (half the) voices that a
    model fine-tuned on the sample set's training side never heard, for benchmarks that transcribe a folder."""
    return side_data_dir("test", n_clips)


def side_data_dir(side: str, n_clips: int = 120) -> Path:
    """One side ("train" or "test") of `sample_data_dir()`'s split as a folder of its own, with no split column
    (the train side is a user's one folder: the engine splits its own validation set from it); remade when
    the sample set changes."""
    import shutil

    from whisper_tui.data.dataset import load_dataset_split, metadata_csv_bytes

    source = sample_data_dir(n_clips)
    folder = source.parent / f"{source.name}-{side}-side"
    marker = folder / ".source"
    stamp = (source / "metadata.csv").read_bytes()
    if marker.is_file() and marker.read_bytes() == stamp:
        return folder
    train, test, _report = load_dataset_split(source)
    clips = {"train": train, "test": test}[side]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for clip in clips:
        shutil.copy2(clip.path, folder / clip.file_name)
    rows = [(c.file_name, c.transcription, c.column("speaker")) for c in clips]
    (folder / "metadata.csv").write_bytes(metadata_csv_bytes(rows, ("speaker",)))
    marker.write_bytes(stamp)
    return folder


@contextlib.contextmanager
def engine_run(profile, prefix: str = "wtb-run-"):
    """Train `profile` as `whisper-tui train` would (TrainingJob, base evaluation on) into a temporary run
    folder, and yield what the benchmarks read from it: (run_dir, log messages, training wall s, metrics.jsonl
    records). The folder goes when the block ends; a run that does not finish raises."""
    from whisper_tui.training import events as ev
    from whisper_tui.training.job import TrainingJob

    log: list[str] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        run_dir = Path(tmp) / "run"
        result = TrainingJob(profile, run_dir, evaluate_base=True,
                             listeners=[lambda e: log.append(e.message) if isinstance(e, ev.LogEvent) else None]).run()
        train_s = time.perf_counter() - t0
        if not isinstance(result, ev.RunFinished):
            raise RuntimeError(f"engine run failed: {result}")
        records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
        yield run_dir, log, train_s, records


def heldout_scores(transcriber) -> tuple[dict, object]:
    """WER of `transcriber` on the sample set's held-out test clips as `evaluate` scores them, with the known- and
    new-voice subsets: ({"test_wer", "test_clips", "test_wer_known", "test_wer_new"}, the EvalReport)."""
    from whisper_tui.data.dataset import load_dataset_split
    from whisper_tui.inference.evaluate import evaluate_model

    _train, test, report = load_dataset_split(sample_data_dir())
    result = evaluate_model(transcriber, test, groups=report.split.test_groups() or None)
    out = {"test_wer": result.wer, "test_clips": len(test)}
    for label, key in (("known voices", "test_wer_known"), ("new voices", "test_wer_new")):
        if label in result.subsets:
            out[key] = result.subsets[label]["wer"]
    return out, result


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


INPROCESS_ENV = "WHISPER_TUI_BENCH_INPROCESS"  # smoke tests: run variants in this process (fast, no RSS isolation)


def run_cli(argv: list[str]) -> tuple[int, float]:
    """`whisper-tui ARGV` in a fresh process (in this one for smoke tests): (exit code, wall seconds)."""
    started = time.perf_counter()
    if os.environ.get(INPROCESS_ENV) == "1":
        from whisper_tui.cli import main as cli_main

        code = cli_main(argv)
    else:
        code = subprocess.run([sys.executable, "-m", "whisper_tui.cli", *argv], cwd=ROOT).returncode
    return code, time.perf_counter() - started


def run_variant(module: str, args: list[str], *, env: dict | None = None, timeout: float | None = None) -> dict:
    """Run `python -m module args --json-out FILE` in a fresh process; returns the JSON it wrote."""
    with tempfile.TemporaryDirectory(prefix="wtb-") as tmp:
        out = Path(tmp) / "result.json"
        if os.environ.get(INPROCESS_ENV) == "1":
            return _run_in_process(module, [*args, "--json-out", str(out)], env or {}, out)
        cmd = [sys.executable, "-m", module, *args, "--json-out", str(out)]
        full_env = dict(os.environ)
        full_env.update(env or {})
        started = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=full_env, timeout=timeout)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
        result = json.loads(out.read_text())
        result.setdefault("process_wall_s", time.perf_counter() - started)
        return result


@contextlib.contextmanager
def restored_env(names):
    """Put the environment variables `names` back as they were (set or absent) when the block ends."""
    saved = {k: os.environ.get(k) for k in names}
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_in_process(module: str, argv: list[str], env: dict, out: Path) -> dict:
    import importlib

    with restored_env(env):
        os.environ.update(env)
        started = time.perf_counter()
        code = importlib.import_module(module).main(argv)
    if code != 0 or not out.exists():
        raise RuntimeError(f"{module} {' '.join(argv)} failed with exit code {code}")
    result = json.loads(out.read_text())
    result.setdefault("process_wall_s", time.perf_counter() - started)
    return result


def write_json(name: str, data: dict, smoke: bool = False, path: str | None = None) -> Path:
    if path:
        target = Path(path)
    else:
        target = RESULTS_DIR / ("smoke" if smoke else "") / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return target


def format_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """columns: (key, header, format spec such as '.2f'); missing values print as '-'."""
    cells = [[h for _k, h, _f in columns]]
    for row in rows:
        line = []
        for key, _h, spec in columns:
            value = row.get(key)
            if value is None:
                line.append("-")
            elif isinstance(value, (int, float)) and spec:
                line.append(format(value, spec))
            else:
                line.append(str(value))
        cells.append(line)
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    out = []
    for n, r in enumerate(cells):
        out.append("  ".join(c.rjust(w) if n and i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


class EpochClock:
    """Wall and CPU time at marks: 'ready' (model loaded), then the end of each epoch."""

    def __init__(self):
        self.marks: dict[str, tuple[float, float]] = {}

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, (time.perf_counter(), cpu_seconds()))

    def summary(self, n_train: int, epochs: int) -> dict:
        ready = self.marks.get("ready")
        first = self.marks.get("epoch1")
        last = self.marks.get(f"epoch{epochs}")
        out: dict = {}
        if ready and first:
            out["epoch1_s"] = first[0] - ready[0]
            out["epoch1_samples_per_s"] = n_train / out["epoch1_s"]
            out["epoch1_cpu_s"] = first[1] - ready[1]
        if first and last and epochs > 1:
            out["later_epochs_s"] = last[0] - first[0]
            out["later_samples_per_s"] = n_train * (epochs - 1) / out["later_epochs_s"]
            out["later_cpu_s"] = last[1] - first[1]
            out["later_samples_per_cpu_s"] = n_train * (epochs - 1) / max(out["later_cpu_s"], 1e-9)
        if ready and last:
            out["train_s"] = last[0] - ready[0]
        return out

