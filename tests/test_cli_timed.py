"""`transcribe --format/--output-dir/--prompt`: timed segments to stdout or one file per input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from whisper_tui.inference.subtitles import parse

JFK = Path(__file__).resolve().parents[1] / "whisper_tui" / "data" / "jfk.flac"


@pytest.mark.timeout(120)
def test_one_file_to_stdout_as_json_and_a_folder_to_files(tmp_path, capsys):
    from whisper_tui.cli.main import main

    assert main(["transcribe", str(JFK), "--format", "json", "--prompt", "President Kennedy."]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["segments"] and 0.2 <= doc["segments"][0]["start"] <= 0.5 and doc["segments"][-1]["end"] > 8
    assert "fellow Americans" in doc["text"]
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.flac", "b.flac"):
        shutil.copy(JFK, folder / name)
    assert main(["transcribe", str(folder), "--format", "vtt"]) != 0  # two files need --output-dir
    assert main(["transcribe", str(folder), "--format", "vtt", "--output-dir", str(tmp_path / "out")]) == 0
    written = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in written] == ["a.vtt", "b.vtt"]
    assert all(p.read_text().startswith("WEBVTT") and parse(p.read_text(), "vtt") for p in written)


@pytest.mark.timeout(180)
def test_backends_and_the_profile_prompt(tmp_path, capsys):
    """--backend torch gives SRT by transformers' timestamps; a profile's model.prompt is the default prompt
    (jfk.flac after "President Kennedy." comes out as one segment, without it as two), --prompt "" turns it off."""
    from whisper_tui.cli.main import main

    profile = tmp_path / "names.toml"
    profile.write_text('[model]\nprompt = "President Kennedy."\n', encoding="utf-8")
    assert main(["transcribe", str(JFK), "--format", "srt", "--backend", "torch"]) == 0
    cues = parse(capsys.readouterr().out, "srt")  # the same two as ct2's (test_timed_backends compares them)
    assert [c.text.split()[:2] for c in cues] == [["And", "so"], ["ask", "what"]]
    # the first cue at jfk's first sound (~0.3 s; the model says 0.00), the second where the model starts it or
    # at its first sound after that
    assert 0.2 <= cues[0].start <= 0.5 and 6 < cues[0].end <= cues[1].start < cues[1].end <= 11.1
    assert main(["transcribe", str(JFK), "--format", "json", "--profile", str(profile)]) == 0  # ct2 when installed
    assert len(json.loads(capsys.readouterr().out)["segments"]) == 1
    assert main(["transcribe", str(JFK), "--format", "json", "--profile", str(profile), "--prompt", ""]) == 0
    assert len(json.loads(capsys.readouterr().out)["segments"]) == 2
