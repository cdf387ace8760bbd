"""bench_startup: how long until the app paints its first screen, and what importing the engine costs.

    python -m benchmarks.bench_startup            # 5 fresh interpreters per measurement
    python -m benchmarks.bench_startup --smoke    # 1 each, for CI

Every number comes from a new Python process, timed by the parent from spawn to the child's
report, so interpreter start-up and imports are included, as a user would feel them. "First
paint" is the app mounted with its first screen composed, in Textual's headless test driver.
The torch/transformers row shows what the lazy imports keep out of start-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from .common import ROOT, format_table, machine_info, write_json

FIRST_PAINT = """
import asyncio, json, sys, time
t0 = float(sys.argv[1])
from screens.app import WhisperTuiApp
async def main():
    app = WhisperTuiApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        painted = time.time()
        heavy = sorted(m for m in ("torch", "transformers", "peft", "ctranslate2") if m in sys.modules)
        print(json.dumps({"seconds": painted - t0, "screen": type(app.screen).__name__, "heavy_imported": heavy}))
asyncio.run(main())
"""

IMPORT = """
import json, sys, time
t0 = float(sys.argv[1])
import {module}
heavy = sorted(m for m in ("torch", "transformers", "peft", "ctranslate2", "textual") if m in sys.modules)
print(json.dumps({{"seconds": time.time() - t0, "heavy_imported": heavy}}))
"""

MEASUREMENTS = [
    ("python (empty interpreter)", IMPORT.format(module="json")),
    ("import whisper_tui", IMPORT.format(module="whisper_tui")),
    ("import whisper_tui.training.job", IMPORT.format(module="whisper_tui.training.job")),
    ("import whisper_tui.inference.transcribe", IMPORT.format(module="whisper_tui.inference.transcribe")),
    ("import whisper_tui.cli", IMPORT.format(module="whisper_tui.cli")),
    ("app first paint", FIRST_PAINT),
    ("import torch + transformers Whisper (deferred)",
     IMPORT.format(module="torch, transformers.models.whisper.modeling_whisper")),
]


def measure(code: str) -> dict:
    started = time.time()
    proc = subprocess.run([sys.executable, "-c", code, repr(started)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_startup", description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--smoke", action="store_true", help="one run of each, results under smoke/")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    repeats = 1 if args.smoke else args.repeats
    measurements = MEASUREMENTS[:2] + MEASUREMENTS[5:6] if args.smoke else MEASUREMENTS
    info = machine_info()
    samples: dict[str, list[float]] = {name: [] for name, _ in measurements}
    extra: dict[str, dict] = {}
    for _ in range(repeats):  # interleaved, so a burst of load hits every row alike
        for name, code in measurements:
            result = measure(code)
            samples[name].append(result["seconds"])
            extra[name] = result
    rows = []
    for name, _code in measurements:
        values = samples[name]
        rows.append({"measurement": name, "median_s": statistics.median(values), "min_s": min(values),
                     "heavy": ",".join(extra[name].get("heavy_imported", [])) or "none"})
    print(format_table(rows, [("measurement", "measurement", ""), ("median_s", "median s", ".3f"),
                              ("min_s", "min s", ".3f"), ("heavy", "heavy modules loaded", "")]))
    data = {"benchmark": "bench_startup", "machine": info, "repeats": repeats, "rows": rows, "samples": samples,
            "first_paint_screen": extra.get("app first paint", {}).get("screen")}
    path = write_json("bench_startup", data, smoke=args.smoke, path=args.out)
    print(f"results: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
