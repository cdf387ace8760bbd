"""The product promise on the real bundled tiny.en: synthetic domain speech, base WER, a short
LoRA fine-tune through the headless CLI, and a lower WER afterwards (the README's quick start,
scaled down to fit the test budget)."""

from __future__ import annotations

import json

import pytest

from whisper_tui.cli import main


@pytest.mark.slow
def test_cli_fine_tune_of_tiny_en_lowers_wer_on_domain_speech(tmp_path, capsys):
    data = tmp_path / "speech"
    assert main(["sample-data", str(data), "--clips", "30", "--seed", "3"]) == 0
    out = tmp_path / "run"
    code = main(["train", "--data", str(data), "--output", str(out), "--epochs", "3", "--batch-size", "8",
                 "--set", "data.test_split=0.2", "--set", "training.logging_steps=1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "finished" and status["model"] == "tiny.en"
    base, best = status["base_wer"], status["best_wer"]
    assert base is not None and best is not None
    assert best < base, f"fine-tuning did not help: base {base:.3f}, best {best:.3f}"

    report = tmp_path / "tuned.json"
    assert main(["evaluate", "--model", str(out / "best"), "--data", str(data), "--test-split", "0.2",
                 "--report", str(report), "--rows", "0"]) == 0
    tuned = json.loads(report.read_text())
    assert tuned["wer"] == pytest.approx(best, abs=0.02)  # the saved best model is the one that scored best
