"""Issue 22: the keep line moves when forgetting happens, and best/ keeps the checkpoint from before it.

The real tiny.en is fine-tuned with a deliberately over-fitting recipe: every training clip labelled with one
domain sentence, a full fine-tune, a learning rate that ramps to 1e-3. The first evaluated checkpoint (one
small step) still reads the recorded speech of the keep set as tiny.en does; the next has learnt to say its one
sentence (or loop) whatever it hears. The keep WER measured on *recorded* speech must rise for everyone to
see (events, metrics.jsonl, run.json), and best/ must be the checkpoint within the keep tolerance.

Scaled to fit the suite: 16 of the shipped recorded clips as the keep set, 12 eSpeak clips, 4 steps.
"""

from __future__ import annotations

import csv
import json

import pytest

from whisper_tui.cli import main
from whisper_tui.config.profile import apply_overrides, load_profile
from whisper_tui.data import keep_set
from whisper_tui.training import events as ev
from whisper_tui.training.job import TrainingJob

ONE_SENTENCE = "The echocardiogram shows tachycardia again."


@pytest.mark.slow
@pytest.mark.usefixtures("own_cache")
def test_an_over_fitting_run_shows_the_keep_wer_rise_and_best_avoids_it(tmp_path, monkeypatch):
    data = tmp_path / "speech"
    assert main(["sample-data", str(data), "--clips", "12", "--seed", "3"]) == 0
    rows = list(csv.DictReader((data / "metadata.csv").open()))
    with (data / "metadata.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file_name", "transcription"])
        writer.writeheader()
        writer.writerows({"file_name": r["file_name"], "transcription": ONE_SENTENCE} for r in rows)
    recorded = [c for c in keep_set.real_speech_clips()][:16]
    monkeypatch.setattr(keep_set, "keep_clips", lambda keep_dir=None, **kw: list(recorded))

    profile = apply_overrides(load_profile("cpu-quick"), {
        "data.train_dir": str(data), "data.test_split": 0.25, "data.split_by": "clip", "data.keep_set": True,
        "training.keep_tolerance": 10.0, "training.budget_s": 0, "finetuning.strategy": "full",
        "finetuning.merge_strength": 1.0, "training.learning_rate": 1e-3, "training.max_steps": 4,
        "training.eval_strategy": "steps", "training.eval_steps": 2, "training.warmup_steps": 6,
        "training.lr_scheduler_type": "linear", "training.per_device_train_batch_size": 4,
        "training.generation_max_length": 40, "model.windows": [], "model.window_s": 10})
    seen = []
    result = TrainingJob(profile, tmp_path / "run", listeners=[seen.append]).run()
    assert isinstance(result, ev.RunFinished), result

    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["type"] == "eval"]
    assert [r["step"] for r in evals] == [0, 2, 4]
    base, early, late = (r["keep_wer"] for r in evals)
    assert base < 0.15, f"tiny.en should read the recorded keep clips well: {base:.3f}"
    assert early <= base + 0.10 and evals[1]["keep_within"], evals[1]
    assert late > base + 0.5 and not evals[2]["keep_within"], f"the keep line did not move: {base:.3f} -> {late:.3f}"
    assert [e.keep_wer for e in seen if isinstance(e, ev.EvalEvent)] == [base, early, late]

    status = json.loads((tmp_path / "run" / "run.json").read_text())
    assert status["base_keep_wer"] == base and status["final_keep_wer"] == late
    assert status["best_keep_wer"] == early and status["best_wer"] == evals[1]["wer"]
    assert (tmp_path / "run" / "best").is_dir()
