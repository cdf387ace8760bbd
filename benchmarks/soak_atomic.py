"""soak_atomic: SIGKILL a process saving a model folder, many times, under CPU load (issue 13 item 1).

    python -m benchmarks.soak_atomic                 # 20 kills per swap mode, 2 CPU burners
    python -m benchmarks.soak_atomic --kills 5 --smoke

A child process replaces a model-sized folder in a loop with `atomic_directory`; the parent kills
it with SIGKILL at random moments while other processes keep every core busy (a loaded machine
stretches the gap between renames, which is when the old two-rename swap lost the folder). After
each kill the folder is checked as a reader finds it, *before* any recovery, and then as
`resolve_model` (which recovers a lone `.NAME.old`) finds it. Two modes run side by side:
`exchange` (renameat2 RENAME_EXCHANGE, the default on Linux) and `fallback` (the two renames
used where the file system cannot exchange). Passing means: no kill ever leaves a missing or
mixed folder in `exchange` mode, and none survives recovery in `fallback` mode.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from .common import ROOT, format_table, machine_info, write_json

WRITER = """
import json, os, sys
from pathlib import Path
from whisper_tui.storage import atomic
if sys.argv[3] == "fallback":
    atomic.exchange_paths = lambda a, b: False
target = Path(sys.argv[1])
Path(sys.argv[2]).touch()
i = 0
while True:
    i += 1
    with atomic.atomic_directory(target) as tmp:
        (tmp / "model.safetensors").write_bytes(os.urandom(4_000_000))
        (tmp / "config.json").write_text(json.dumps({"v": i}))
"""


def _burn(stop_at: float) -> None:
    x = 0
    while time.time() < stop_at:
        x = (x * 31 + 7) % 1_000_003


def _state(target: Path) -> str:
    """What a reader sees: ok, missing, or mixed (config and weights from different versions)."""
    if not target.is_dir():
        return "missing"
    try:
        json.loads((target / "config.json").read_text())
        size = (target / "model.safetensors").stat().st_size
    except (OSError, ValueError):
        return "mixed"
    return "ok" if size == 4_000_000 else "mixed"


def soak(mode: str, kills: int, rng: random.Random, workdir: Path) -> dict:
    from whisper_tui.storage.atomic import atomic_directory, recover_directory

    target = workdir / mode / "best"
    with atomic_directory(target) as tmp:
        (tmp / "model.safetensors").write_bytes(os.urandom(4_000_000))
        (tmp / "config.json").write_text(json.dumps({"v": 0}))
    script = workdir / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    started = workdir / f"{mode}.started"
    counts = {"ok": 0, "missing": 0, "mixed": 0}
    after_recovery = {"ok": 0, "missing": 0, "mixed": 0}
    versions = set()
    leftovers = 0
    for _ in range(kills):
        started.unlink(missing_ok=True)
        child = subprocess.Popen([sys.executable, str(script), str(target), str(started), mode], cwd=ROOT)
        deadline = time.time() + 60
        while not started.exists() and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.8))
        child.send_signal(signal.SIGKILL)
        child.wait()
        counts[_state(target)] += 1
        recover_directory(target)
        state = _state(target)
        after_recovery[state] += 1
        if state == "ok":
            versions.add(json.loads((target / "config.json").read_text())["v"])
        with atomic_directory(target) as tmp:  # the next save cleans what the killed one left
            (tmp / "model.safetensors").write_bytes(os.urandom(4_000_000))
            (tmp / "config.json").write_text(json.dumps({"v": -1}))
        leftovers += sum(1 for p in target.parent.iterdir() if p.name != "best")
    return {"mode": mode, "kills": kills, "ok_at_kill": counts["ok"], "missing_at_kill": counts["missing"],
            "mixed_at_kill": counts["mixed"], "ok_after_recovery": after_recovery["ok"],
            "bad_after_recovery": after_recovery["missing"] + after_recovery["mixed"],
            "distinct_versions": len(versions), "leftovers_after_next_save": leftovers}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs per mode (default 20)")
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2, help="CPU-burning processes (load)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", help="write the JSON here")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    stop_at = time.time() + 3600
    burners = [multiprocessing.Process(target=_burn, args=(stop_at,), daemon=True) for _ in range(args.burners)]
    for p in burners:
        p.start()
    load_before = os.getloadavg()
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="soak-atomic-") as tmp:
            rows = [soak(mode, args.kills, rng, Path(tmp)) for mode in ("exchange", "fallback")]
    finally:
        for p in burners:
            p.terminate()
    elapsed = time.perf_counter() - started
    print(format_table(rows, [("mode", "swap", ""), ("kills", "kills", "d"), ("ok_at_kill", "ok at kill", "d"),
                              ("missing_at_kill", "missing at kill", "d"), ("mixed_at_kill", "mixed", "d"),
                              ("bad_after_recovery", "bad after recovery", "d"),
                              ("distinct_versions", "versions seen", "d"),
                              ("leftovers_after_next_save", "leftovers", "d")]))
    exchange = rows[0]
    passed = (exchange["ok_at_kill"] == exchange["kills"] and all(r["bad_after_recovery"] == 0 for r in rows)
              and all(r["leftovers_after_next_save"] == 0 for r in rows))
    print(f"\n{'PASS' if passed else 'FAIL'}: {args.kills} kills per mode in {elapsed:.0f} s, "
          f"{args.burners} CPU burners, load average {load_before[0]:.1f} at the start")
    write_json("soak_atomic", {"machine": machine_info(), "burners": args.burners, "rows": rows, "passed": passed,
                               "seconds": elapsed}, smoke=args.smoke, path=args.out)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
