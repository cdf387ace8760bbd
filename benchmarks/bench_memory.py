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
}
ESTIMATE = re.compile(r"memory estimate: (\d+(?:\.\d+)?) GiB")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_memory", description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", metavar="NAME", help="variants to run (words of their names), default all")
    p.add_argument("--steps", type=int, default=24, help="optimizer steps per run (default 24)")
    p.add_argument("--full", action="store_true", help="no step limit: each run goes to its time budget")
    p.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/bench_memory.json)")
    return p


def _data(kind: str, work: Path) -> str:
    if kind == "sample":
        return str(sample_data_dir())
    from .bench_scale import make_dataset

    return str(make_dataset(work / f"clips-{kind}", int(kind)))


def run_train(argv: list[str]) -> dict:
    """One `whisper-tui train` process: exit code, wall seconds, peak RSS (MiB) and the printed estimate (GiB)."""
    with tempfile.TemporaryFile(mode="w+") as log:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "whisper_tui.cli", "train", *argv], cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, text=True)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        log.seek(0)
        text = log.read()
    found = ESTIMATE.search(text)
    return {"exit": os.waitstatus_to_exitcode(status), "wall_s": round(wall, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "estimate_gib": float(found.group(1)) if found else None, "tail": text.strip().splitlines()[-3:]}


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
            result = run_train(argv_)
            measured_gib = result["peak_rss_mb"] / 1024
            est = result["estimate_gib"]
            rows.append({"variant": name, **result, "peak_rss_gib": round(measured_gib, 2),
                         "ratio": round(est / measured_gib, 2) if est else None})
            if result["exit"] != 0:
                print(f"    exit {result['exit']}: " + " | ".join(result["tail"]), file=sys.stderr)
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
