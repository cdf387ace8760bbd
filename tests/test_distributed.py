"""Data-parallel training comes from torchrun + the HF Trainer: two CPU processes (gloo) train one run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import build_tiny_whisper
from helpers_audio import write_tone_dataset


def test_torchrun_two_cpu_processes_share_one_run(tmp_path):
    model = build_tiny_whisper(tmp_path / "model")
    data = write_tone_dataset(tmp_path / "data", n=10)
    out = tmp_path / "run"
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun) if torchrun.exists() else shutil.which("torchrun"), "--nproc_per_node", "2",
           "--master_port", "29517", "-m", "whisper_tui.cli", "train", "--model", str(model), "--data", str(data),
           "--output", str(out), "--epochs", "1", "--batch-size", "2", "--no-base-eval",
           "--set", "training.generation_max_length=8", "--set", "data.test_split=0.2"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=400, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # 8 training clips, batch 2 per process, 2 processes: 2 optimizer steps (one process would take 4)
    steps = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in steps) == 2
    assert proc.stderr.count("Final model:") == 1  # only rank 0 reports
    assert (out / "final" / "adapter_config.json").exists()
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
