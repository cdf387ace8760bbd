"""`whisper-tui evaluate`: hallucination totals and the general-speech (keep set) figure."""

from __future__ import annotations

import json

import pytest

from conftest import build_tiny_whisper
from helpers_audio import write_tone_dataset
from whisper_tui.cli import main


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate-command")
    return build_tiny_whisper(root / "model"), write_tone_dataset(root / "data", n=4), \
        write_tone_dataset(root / "keep", n=2, seed=1)


def test_no_keep_prints_hallucination_totals_only(assets, tmp_path, capsys):
    model, data, _keep = assets
    report = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--test-split", "1.0", "--rows", "0",
                 "--report", str(report), "--no-keep"]) == 0
    out = capsys.readouterr().out
    assert "hallucination signs:" in out and "general speech" not in out
    saved = json.loads(report.read_text())
    assert saved["keep"] is None and set(saved["hallucinations"]) >= {"loop", "empty", "long"}
    assert saved["n_clips"] == 4 and "n_flagged" in saved


def test_keep_set_is_evaluated_by_default(assets, tmp_path, capsys, session_keep_set):
    model, data, keep = assets
    report = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--test-split", "1.0", "--rows", "2",
                 "--report", str(report), "--keep-dir", str(keep)]) == 0
    out = capsys.readouterr().out
    saved = json.loads(report.read_text())
    keep_section = saved["keep"]
    from whisper_tui.data.keep_set import real_speech_clips

    n_keep = len(real_speech_clips()) + 2  # the recorded prompts and jfk.flac, the user's folder (no eSpeak)
    assert keep_section["n_clips"] == len(keep_section["clips"]) == n_keep
    assert keep_section["keep_dir"] == str(keep)
    assert {"clip00.wav", "jfk.flac"} <= {c["file_name"] for c in keep_section["clips"]}
    assert f"general speech: WER {100 * keep_section['wer']:.1f}% on {n_keep} clips" in out
    assert saved["n_clips"] == 4  # the main figures are the dataset's alone


def test_bad_keep_dir_is_a_one_line_error(assets, tmp_path, capsys):
    model, data, _keep = assets
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--keep-dir", str(tmp_path / "nope")]) == 2
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--keep-dir", str(tmp_path),
                 "--no-keep"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 2 and "Traceback" not in err and "--no-keep" in err
