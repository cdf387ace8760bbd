"""bench_memory: peak RSS of real `whisper-tui train` runs beside the estimate the run printed.

    python -m benchmarks.bench_memory                  # every variant, sample data + 1,000 clips (~25 min, 2 cores)
    python -m benchmarks.bench_memory --only default seed --steps 12
    python -m benchmarks.bench_memory --full           # the default runs to its 5-minute budget

Each variant is one `python -m whisper_tui.cli train ...` process; its peak resident set is the child's
`ru_maxrss` from `os.wait4` (what `/usr/bin/time -f %M` reports: anonymous memory plus mapped file pages
touched), and its estimate is the `memory estimate: X.X GiB` line the run prints in its first lines. The
ratio estimate / measured is the figure issue 23 asks to keep within 0.75-1.25. Runs are cut to `--steps`
optimizer steps (the peak comes in the first steps and the evaluations, which still run), except with --full.
The 1,000-clip set is bench_scale's synthetic tones-and-words set (clip lengths 1-4 s), trained with tiny.en.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT, format_table, machine_info, sample_data_dir, write_json

SEED = ["--freeze-encoder", "--batch-size", "4", "--grad-ckpt", "--set",
        'finetuning.lora.target_modules=["q_proj", "v_proj"]', "--set", "training.learning_rate=0.001"]
VARIANTS: dict[str, tuple[str, list[str]]] = {
    # name: (data, extra train arguments)
    "default": ("sample", []),
    "seed": ("sample", SEED),
    "full": ("sample", ["--strategy", "full", "--frozen-encoder-layers", "0", "--lr", "1e-5"]),
    "windows [10]": ("sample", ["--set", "model.windows=[10]"]),
    "windows [30]": ("sample", ["--set", "model.windows=[30]"]),
    "windows [10, 20, 30]": ("sample", ["--set", "model.windows=[10, 20, 30]"]),
    "default, 1,000 clips": ("1000", []),
    "seed, 1,000 clips": ("1000", SEED),
    # one 30 s window: the whole frozen encoder's output feeds the cross-attention K/V cache (cross_kv.py),
    # 9.2 MB a clip, which must stay out of the RSS however many clips there are
    "seed, one 30 s window": ("sample", [*SEED, "--set", "model.windows=[]"]),
    "seed, 1,000 clips, one 30 s window": ("1000", [*SEED, "--set", "model.windows=[]"]),
}
ESTIMATE = re.compile(r"memory estimate: (\d+(?:\.\d+)?) GiB")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_memory", description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", metavar="NAME", help="variants to run (words of their names), default all")
    p.add_argument("--steps", type=int, default=24, help="optimizer steps per run (default 24)")
    p.add_argument("--full", action="store_true", help="no step limit: each run goes to its time budget")
    p.add_argument("--trace", action="store_true",
                   help="sample each run's RSS (anon / file) every 0.1 s beside its latest log line; the JSON keeps "
                        "the trace and the table names the phase of the peak")
    p.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/bench_memory.json)")
    return p


def _data(kind: str, work: Path) -> str:
    if kind == "sample":
        return str(sample_data_dir())
    from .bench_scale import make_dataset

    return str(make_dataset(work / f"clips-{kind}", int(kind)))


def _rss_parts(pid: int) -> tuple[int, int] | None:
    """(RssAnon, RssFile) in KiB from /proc, or None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    try:
        return int(fields["RssAnon"].split()[0]), int(fields["RssFile"].split()[0])
    except (KeyError, ValueError):
        return None


def _follow(proc: subprocess.Popen, lines: list[str], trace: list[dict] | None, started: float) -> None:
    """Read the child's output line by line (kept in `lines`); with a trace, a sampler thread notes RSS
    beside the latest line, so the peak can be put in its phase. Nothing here reaps the child (no poll()):
    its ru_maxrss comes from the caller's os.wait4."""
    import threading

    output_done = threading.Event()

    def sample() -> None:
        while not output_done.is_set():
            parts = _rss_parts(proc.pid)
            if parts:
                trace.append({"t": round(time.perf_counter() - started, 2), "anon_mb": round(parts[0] / 1024, 1),
                              "file_mb": round(parts[1] / 1024, 1), "line": lines[-1] if lines else ""})
            output_done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True) if trace is not None else None
    if sampler:
        sampler.start()
    for line in proc.stdout:
        lines.append(line.rstrip("\n")[:200])
    output_done.set()
    if sampler:
        sampler.join(timeout=1)


def run_train(argv: list[str], trace: bool = False) -> dict:
    """One `whisper-tui train` process: exit code, wall seconds, peak RSS (MiB), the printed estimate (GiB) and,
    with `trace`, the RSS samples and the log line the peak came under."""
    lines: list[str] = []
    samples: list[dict] | None = [] if trace else None
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "whisper_tui.cli", "train", *argv], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    _follow(proc, lines, samples, started)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    found = ESTIMATE.search("\n".join(lines))
    result = {"exit": os.waitstatus_to_exitcode(status), "wall_s": round(wall, 1),
              "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
              "estimate_gib": float(found.group(1)) if found else None, "tail": lines[-3:]}
    if samples:
        peak = max(samples, key=lambda s: s["anon_mb"] + s["file_mb"])
        result |= {"trace": samples, "peak_at_s": peak["t"], "peak_phase": peak["line"],
                   "peak_anon_mb": peak["anon_mb"], "peak_file_mb": peak["file_mb"]}
    return result


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = [n for n in VARIANTS if not args.only or any(w in n for w in args.only)]
    info = machine_info()
    rows = []
    with tempfile.TemporaryDirectory(prefix="wtb-mem-") as tmp:
        work = Path(os.environ.get("WHISPER_TUI_BENCH_DATA", tmp))
        for name in names:
            kind, extra = VARIANTS[name]
            limit = [] if args.full else ["--max-steps", str(args.steps)]
            argv_ = ["--data", _data(kind, work), "--output", str(Path(tmp) / "runs" / name.replace(" ", "_")),
                     *limit, *extra]
            print(f"  {name} ...", file=sys.stderr, flush=True)
            result = run_train(argv_, trace=args.trace)
            measured_gib = result["peak_rss_mb"] / 1024
            est = result["estimate_gib"]
            rows.append({"variant": name, **result, "peak_rss_gib": round(measured_gib, 2),
                         "ratio": round(est / measured_gib, 2) if est else None})
            if result["exit"] != 0:
                print(f"    exit {result['exit']}: " + " | ".join(result["tail"]), file=sys.stderr)
            if args.trace and result.get("peak_phase") is not None:
                print(f"    peak {result['peak_anon_mb'] + result['peak_file_mb']:.0f} MiB (anon "
                      f"{result['peak_anon_mb']:.0f}, file {result['peak_file_mb']:.0f}) at {result['peak_at_s']} s, "
                      f"after: {result['peak_phase']}", file=sys.stderr)
    print(format_table(rows, [("variant", "variant", ""), ("estimate_gib", "estimate GiB", ".2f"),
                              ("peak_rss_gib", "peak RSS GiB", ".2f"), ("ratio", "estimate/measured", ".2f"),
                              ("wall_s", "wall s", ".0f"), ("exit", "exit", "d")]))
    info["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]  # wall times are loaded when these are high
    print(f"\nsteps per run: {'to the budget' if args.full else args.steps}; load at start {info.get('load_avg_at_start')}"
          f", at the end {info['load_avg_at_end']}, {info.get('cpus')} CPUs")
    write_json("bench_memory", {"machine": info, "steps": None if args.full else args.steps, "rows": rows},
               path=args.out)
    return 0 if all(r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
