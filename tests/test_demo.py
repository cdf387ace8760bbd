"""`whisper-tui demo`, the README's quick start: base WER, fine-tune, tuned WER, per voice group and general speech.

The real command runs the bundled tiny.en on the sample set for about five minutes; here the same code
path runs a tiny random Whisper on tone clips whose metadata.csv has the sample set's `speaker` and
`split` columns, so every line of the verdict is exercised in seconds.
"""

from __future__ import annotations

import json

from helpers_audio import write_metadata, write_tone_dataset
from whisper_tui.cli import main
from whisper_tui.config.profile import apply_overrides, load_profile, save_profile


def test_demo_prints_the_verdict_with_known_and_new_voices_and_general_speech(tiny_whisper_dir, tmp_path, capsys,
                                                                             session_keep_set):
    data = write_tone_dataset(tmp_path / "data", n=8)
    rows = [line.split(",", 1) for line in (data / "metadata.csv").read_text().splitlines()[1:]]
    sides = ["train", "train", "test", "train", "test", "train", "train", "test"]
    voices = ["a", "b", "a", "b", "c", "a", "b", "b"]
    write_metadata(data, [(f, t, v, s) for (f, t), v, s in zip(rows, voices, sides)],
                   header="file_name,transcription,speaker,split")
    profile = apply_overrides(load_profile("cpu-quick"), {
        "model.name": str(tiny_whisper_dir), "model.window_s": 0, "training.budget_s": 0,
        "training.num_train_epochs": 1, "training.per_device_train_batch_size": 2,
        "training.generation_max_length": 8, "training.warmup_steps": 0})
    profile_file = save_profile(profile, tmp_path / "tiny.toml")
    out = tmp_path / "run"
    assert main(["demo", "--profile", str(profile_file), "--data", str(data), "--output", str(out)]) == 0
    printed = capsys.readouterr()
    report = json.loads((out / "demo.json").read_text())
    assert report["test_clips"] == 3 and set(report["subsets"]) == {"known voices", "new voices"}
    assert report["keep"]["base_wer"] >= 0 and report["keep"]["tuned_wer"] >= 0
    assert "WER base" in printed.out and "sentences never trained on" in printed.out
    assert "known voices:" in printed.out and "new voices:" in printed.out
    assert "general speech:" in printed.out
    assert "test set: 3 test clips: 2 known voices, 1 new voices (by the metadata's split column)" in printed.err
