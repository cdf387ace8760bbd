"""bench_scale: does a run's memory stay flat as the dataset grows? (issue 11)

    python -m benchmarks.bench_scale                       # 1,000 vs 10,000 clips (tiny model) + tiny.en at 1,000
    python -m benchmarks.bench_scale --sizes 200 2000 --steps 60 --no-real --smoke

Synthetic datasets of short clips (tones and noise, 1-4 s, labelled with random words) are trained
for the same number of steps with a tiny randomly initialised Whisper (so 10,000 clips take minutes,
not hours), each variant in a fresh process with its own cold encoder cache. The table gives peak
RSS (ru_maxrss: what the kernel charged the process at its worst, file pages included) and peak
anonymous RSS (heap only, sampled every 0.2 s), and training steps/s: the median of the engine's
own step-time throughput (optimizer steps only), next to the wall-clock rate between the first and
last step events, which also counts the checkpoint saved at every epoch's end (the 1,000-clip run
has five epochs in 300 steps, the 10,000-clip one none) and the load of a shared machine. Passing: peak RSS at the
largest size within +15% of the smallest, steps/s within 10%. The real tiny.en row shows the same
at 1,000 clips with the model people train.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from whisper_tui.models.random_whisper import build_random_whisper

from .common import format_table, machine_info, peak_rss_mb, ratio, run_variant, write_json

VOCAB = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu amber cobalt".split())


def make_dataset(folder: Path, n: int, seed: int = 0) -> Path:
    """n clips of 1-4 s (16 kHz PCM16) with 2-8 random words each; made once per (n, seed)."""
    import soundfile as sf

    from whisper_tui.data.dataset import metadata_csv_bytes

    marker = folder / ".complete"
    if marker.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        seconds = float(rng.uniform(1.0, 4.0))
        t = np.arange(int(16000 * seconds)) / 16000
        wave = 0.25 * np.sin(2 * np.pi * rng.uniform(120, 900) * t) + 0.03 * rng.standard_normal(t.size)
        name = f"c{i:05d}.wav"
        sf.write(folder / name, wave.astype(np.float32), 16000, subtype="PCM_16")
        rows.append((name, " ".join(rng.choice(VOCAB, size=int(rng.integers(2, 9))))))
    (folder / "metadata.csv").write_bytes(metadata_csv_bytes(rows))
    marker.write_text(str(n))
    return folder


def build_tiny_model(out_dir: Path) -> Path:
    """The benchmarks' tiny random Whisper with 2 decoder layers, made once in `out_dir`."""
    if (out_dir / "config.json").exists():
        return out_dir
    return build_random_whisper(out_dir, decoder_layers=2)


class AnonSampler:
    """Peak RssAnon of this process, sampled in a thread (ru_maxrss also counts mapped file pages)."""

    def __init__(self, every: float = 0.2):
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _read(self) -> int:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _run(self, every: float) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, self._read())
            self._stop.wait(every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, self._read())


def child(args) -> int:
    """One variant: train `--steps` steps on `--data` with `--model`, report memory and speed."""
    from whisper_tui.config.profile import apply_overrides, load_profile
    from whisper_tui.training import events as ev
    from whisper_tui.training.job import TrainingJob

    profile = apply_overrides(load_profile("cpu-quick"), {
        "model.name": args.model, "data.train_dir": args.data, "data.test_dir": args.test_data,
        "data.keep_set": False, "training.budget_s": 0, "training.max_steps": args.steps,
        "training.eval_strategy": "no", "training.logging_steps": 10, "training.save_total_limit": 1,
        "model.window_s": 10})
    step_times: list[tuple[int, float]] = []
    step_rates: list[float] = []  # samples/s over recent step times only (JobCallback), no saves or evaluations
    marks: dict[str, float] = {}

    def listen(event):
        if isinstance(event, ev.StepEvent):
            step_times.append((event.step, time.perf_counter()))
            if event.step > 20 and event.samples_per_second > 0:
                step_rates.append(event.samples_per_second)
        elif isinstance(event, ev.RunStarted):
            marks["started"] = time.perf_counter()

    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-scale-run-") as run_root, AnonSampler() as anon:
        job = TrainingJob(profile, Path(run_root) / "run", listeners=[listen], evaluate_base=False)
        result = job.run()
    if not isinstance(result, ev.RunFinished):
        print(f"run failed: {result}", file=sys.stderr)
        return 1
    (s0, t0), (s1, t1) = step_times[min(5, len(step_times) - 1)], step_times[-1]
    samples_per_step = profile.training.per_device_train_batch_size * profile.training.gradient_accumulation_steps
    out = {"clips": args.clips, "model": args.model_label, "steps": s1,
           "steps_per_s": float(np.median(step_rates)) / samples_per_step if step_rates else None,
           "wall_steps_per_s": (s1 - s0) / max(t1 - t0, 1e-9),
           "prepare_s": marks.get("started", began) - began, "peak_rss_mb": peak_rss_mb(),
           "peak_anon_mb": anon.peak_kb / 1024, "wall_s": time.perf_counter() - began}
    Path(args.json_out).write_text(json.dumps(out))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--no-real", action="store_true", help="skip the real tiny.en row")
    parser.add_argument("--work", help="where datasets are generated (default: the user cache)")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out")
    # child mode
    parser.add_argument("--variant", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--clips", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--model-label", default="tiny-random", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--test-data", help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.variant:
        return child(args)

    from whisper_tui.config.locations import cache_dir

    work = Path(args.work) if args.work else cache_dir() / "bench-scale"
    print(f"datasets in {work} (made once)", flush=True)
    test = make_dataset(work / "test-20", 20, seed=99)
    datasets = {n: make_dataset(work / f"clips-{n}", n) for n in args.sizes}
    tiny = build_tiny_model(work / "tiny-random-model")
    variants = [(n, str(tiny), "tiny-random") for n in args.sizes]
    if not args.no_real:
        from whisper_tui.models.loading import resolve_model

        variants.append((min(args.sizes), str(resolve_model("tiny.en").path), "tiny.en"))
    rows = []
    for n, model, label in variants:
        with tempfile.TemporaryDirectory(prefix="bench-scale-cache-") as cache:  # a cold encoder cache each
            print(f"{label} on {n} clips, {args.steps} steps ...", flush=True)
            rows.append(run_variant("benchmarks.bench_scale", [
                "--variant", "--clips", str(n), "--model", model, "--model-label", label, "--data", str(datasets[n]),
                "--test-data", str(test), "--steps", str(args.steps)], env={"WHISPER_TUI_CACHE_DIR": cache}))
    tiny_rows = [r for r in rows if r["model"] == "tiny-random"]
    small, large = tiny_rows[0], tiny_rows[-1]
    for r in rows:
        r["rss_vs_smallest"] = ratio(r["peak_rss_mb"], small["peak_rss_mb"]) if r["model"] == "tiny-random" else None
        r["speed_vs_smallest"] = ratio(r["steps_per_s"], small["steps_per_s"]) if r["model"] == "tiny-random" else None
    print(format_table(rows, [("model", "model", ""), ("clips", "clips", "d"), ("steps", "steps", "d"),
                              ("prepare_s", "prepare s", ".0f"), ("steps_per_s", "steps/s", ".2f"),
                              ("wall_steps_per_s", "wall steps/s", ".2f"),
                              ("peak_rss_mb", "peak RSS MB", ".0f"), ("peak_anon_mb", "peak anon MB", ".0f"),
                              ("rss_vs_smallest", "RSS ratio", ".3f"), ("speed_vs_smallest", "speed ratio", ".3f")]))
    rss_ok = large["peak_rss_mb"] <= 1.15 * small["peak_rss_mb"]
    speed_ok = large["steps_per_s"] >= 0.9 * small["steps_per_s"]
    print(f"\npeak RSS {large['clips']} vs {small['clips']} clips: x{large['peak_rss_mb'] / small['peak_rss_mb']:.3f} "
          f"({'ok' if rss_ok else 'OVER'} the +15% target); steps/s x{large['steps_per_s'] / small['steps_per_s']:.3f} "
          f"({'ok' if speed_ok else 'UNDER'} the -10% target); load average {os.getloadavg()[0]:.1f}")
    write_json("bench_scale", {"machine": machine_info(), "steps": args.steps, "rows": rows, "rss_ok": rss_ok,
                               "speed_ok": speed_ok}, smoke=args.smoke, path=args.out)
    return 0 if rss_ok and speed_ok else 1


if __name__ == "__main__":
    sys.exit(main())
